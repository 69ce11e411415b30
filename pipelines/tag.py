"""Tag flow: stage a JSONL file into parts and tag each part as its own task.

Tasks receive paths (the staging part, the output folder) and return small
summaries, so the same flow runs on threads or on a Dask cluster, where each
worker loads the tagger once and writes only its own part files.
"""

from __future__ import annotations

import functools
from pathlib import Path

from prefect import flow, task

from tipnlp.settings import get_settings
from tipnlp.tagging import (
    Components,
    TagSummary,
    default_components,
    pending_parts,
    split_jsonl,
    staged_parts,
    tag_part,
)


@functools.lru_cache(maxsize=4)
def _components(model: str | None, tagger: str) -> Components:
    """One tagger per worker process (loading a model is the expensive part)."""
    settings = get_settings(**({"model": model} if model else {}))
    return default_components(settings, tagger)


@task(name="tag-part", retries=1, retry_delay_seconds=2)
def tag_part_task(
    part: str, out_dir: str, model: str | None, tagger: str, retag: bool = False
) -> TagSummary:
    """Tag one staged part; writes its four output parts (idempotent)."""
    return tag_part(Path(part), Path(out_dir), _components(model, tagger), retag=retag)


@task(name="stage-jsonl")
def stage_jsonl_task(docs: str, out_dir: str, batch_documents: int) -> list[str]:
    """Split the input JSONL into staging parts; returns their paths."""
    return [str(p) for p in split_jsonl(Path(docs), Path(out_dir), batch_documents)]


@task(name="list-pending-parts")
def pending_parts_task(out_dir: str, retag: bool = False) -> list[str]:
    """Staging parts not yet tagged (what a resumed run still has to do).

    With ``retag``, every staged part: each task then checks which model
    tagged it (loading the tagger here would cost a worker's start-up).
    """
    parts = staged_parts(Path(out_dir)) if retag else pending_parts(Path(out_dir))
    return [str(p) for p in parts]


def tag_pending(out_dir: str, model: str | None, tagger: str, retag: bool = False) -> TagSummary:
    """Submit every pending part to the flow's task runner and merge the summaries."""
    parts = pending_parts_task(out_dir, retag)
    futures = tag_part_task.map(parts, out_dir, model, tagger, retag)
    total = TagSummary()
    for summary in futures.result():
        total.add(summary)
    return total


@flow(name="tipnlp-tag", log_prints=False)
def tag_flow(
    docs: str,
    out_dir: str = "out",
    model: str | None = None,
    tagger: str = "auto",
    retag: bool = False,
) -> TagSummary:
    """Tag a JSONL file of documents into Parquet tables under ``out_dir``.

    ``retag`` also tags again the parts another model version tagged.
    """
    settings = get_settings()
    stage_jsonl_task(docs, out_dir, settings.tag.batch_documents)
    return tag_pending(out_dir, model, tagger, retag)
