"""Annotate flows: export tasks for Label Studio; after import, retrain and evaluate.

Thin tasks over ``tipnlp.annotation`` that pass paths, not data.  Retraining
and evaluation reuse the train flow's tasks (``pipelines.train``), so the
model written after an annotation round is built exactly like ``tipnlp train``
builds it (the previous model moves to ``models/<name>/versions/``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow, task

from pipelines.train import evaluate_task, train_task
from tipnlp.errors import AnnotationError
from tipnlp.settings import get_settings


@task(name="annotate-export")
def export_task(from_dir: str, out: str, n: int, model: str | None) -> str:
    """Pick ``n`` uncertain, diverse sentences from ``from_dir``; returns the tasks path."""
    from tipnlp.annotation.candidates import annotated_index, candidates_from_tables
    from tipnlp.annotation.export import export_tasks
    from tipnlp.annotation.labelstudio import read_annotations
    from tipnlp.nlp.tagger import load_tagger

    settings = get_settings(**({"model": model} if model else {}))
    report = export_tasks(
        candidates_from_tables(from_dir),
        load_tagger(settings),
        out,
        n=n,
        annotated=annotated_index(read_annotations(settings.annotations_dir)),
    )
    return str(report.tasks_path)


@task(name="annotate-import")
def import_task(export: str, annotations_dir: str | None) -> str | None:
    """Validate and store a Label Studio export; returns the batch file (None if empty)."""
    from tipnlp.annotation.labelstudio import import_export

    report = import_export(export, annotations_dir or get_settings().annotations_dir)
    return None if report.path is None else str(report.path)


@flow(name="tipnlp-annotate-export", log_prints=False)
def annotate_export_flow(
    from_dir: str = "out", out: str = "tasks.json", n: int = 200, model: str | None = None
) -> str:
    """Write Label Studio tasks (+ config) for the next annotation round."""
    return export_task(from_dir, out, n, model)


@flow(name="tipnlp-annotate-import", log_prints=False)
def annotate_import_flow(
    export: str,
    annotations_dir: str | None = None,
    retrain: bool = True,
    name: str = "default",
    gold: str | None = None,
    epochs: int = 6,
    max_steps: int | None = None,
    limit: int | None = None,
) -> dict[str, Any]:
    """Import an export, then (``retrain``) train a new model version and evaluate it.

    ``gold`` (the dev file) defaults to ``<settings.gold_dir>/dev.jsonl``, the
    gold the training reads ``train.jsonl`` from.  Training reads
    ``settings.annotations_dir``, so with ``retrain`` an ``annotations_dir``
    elsewhere is refused before anything is imported.
    """
    settings = get_settings()
    if (
        retrain
        and annotations_dir is not None
        and Path(annotations_dir).resolve() != Path(settings.annotations_dir).resolve()
    ):
        raise AnnotationError(
            f"annotations_dir {annotations_dir} is not the one training reads "
            f"({settings.annotations_dir}, TIPNLP_ANNOTATIONS_DIR); set that instead, or "
            "pass retrain=False; nothing imported"
        )
    batch = import_task(export, annotations_dir)
    result: dict[str, Any] = {"batch": batch}
    if retrain:
        model_dir = train_task(name, epochs, max_steps, limit)
        result["dev"] = evaluate_task(model_dir, gold or str(settings.gold_dir / "dev.jsonl"))
    return result
