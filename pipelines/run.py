"""The batch run: scrape (or read) sources, tag them, store Parquet, write the report.

``run_flow`` is the Prefect flow (and the deployment entrypoint); ``run_batch``
picks the task runner (threads, or Dask through prefect-dask), holds the
output folder's lock, and calls it.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.task_runners import ThreadPoolTaskRunner

from pipelines.tag import tag_pending
from tipnlp.io import clean_temporaries
from tipnlp.settings import get_settings
from tipnlp.tagging import STAGING, lock_output


@task(name="ingest", retries=0)
def ingest_task(items: list[str], out_dir: str, refresh: bool) -> dict[str, Any]:
    """Fetch and extract the sources into staging parts; returns the ingest summary."""
    from tipnlp.scrape import ingest, load_manifest, sources_from_args

    settings = get_settings()
    if len(items) == 1 and items[0].endswith((".yaml", ".yml")):
        sources = load_manifest(Path(items[0])).sources
    else:
        sources = sources_from_args(items)
    summary = ingest(sources, Path(out_dir) / STAGING, settings, refresh=refresh)
    by_status = dict(getattr(summary, "by_status", {}) or {})
    failures = {k: v for k, v in by_status.items() if k not in ("ok", "duplicate", "unchanged")}
    return {
        "error_rate": float(getattr(summary, "error_rate", 0.0)),
        "failures_by_reason": failures,
        "max_error_rate": settings.fetch.max_error_rate,
    }


@task(name="report")
def report_task(out_dir: str, html: str) -> str:
    """Write the static HTML report for ``out_dir``."""
    from tipnlp.analysis.report import write_report

    return str(write_report(Path(out_dir), Path(html)))


@flow(name="tipnlp-run", log_prints=False)
def run_flow(
    items: list[str],
    out_dir: str = "out",
    refresh: bool = False,
    tagger: str = "auto",
    model: str | None = None,
    report: str | None = None,
    retag: bool = False,
) -> dict[str, Any]:
    """Scrape ``items`` (a manifest or sources), tag new documents, write the report.

    ``retag`` also tags again the documents another model version tagged.
    """
    ingest = ingest_task(items, out_dir, refresh)
    summary = tag_pending(out_dir, model, tagger, retag)
    failed = None
    if ingest["error_rate"] > ingest["max_error_rate"]:
        failed = (
            f"ingest error rate {ingest['error_rate']:.0%} is above the limit "
            f"{ingest['max_error_rate']:.0%} (TIPNLP_FETCH__MAX_ERROR_RATE)"
        )
    if report:
        report_task(out_dir, report)
    return {
        "summary": summary,
        "failures_by_reason": dict(Counter(ingest["failures_by_reason"])),
        "ingest_error_rate": ingest["error_rate"],
        "failed": failed,
    }


def run_batch(
    items: list[str],
    out_dir: Path,
    *,
    refresh: bool = False,
    tagger: str = "auto",
    model: str | None = None,
    runner: str = "local",
    dask_address: str | None = None,
    workers: int = 2,
    report: str | None = None,
    retag: bool = False,
) -> dict[str, Any]:
    """Run ``run_flow`` under the output lock with the chosen task runner."""
    from pipelines.server import api_server

    lock = lock_output(out_dir)
    try:
        clean_temporaries(out_dir)
        if runner == "local":
            flow_ = run_flow.with_options(
                task_runner=ThreadPoolTaskRunner(max_workers=1)  # type: ignore[arg-type]
            )
            server: contextlib.AbstractContextManager[Any] = contextlib.nullcontext()
        elif runner == "dask":
            from prefect_dask import DaskTaskRunner

            if dask_address:
                task_runner = DaskTaskRunner(address=dask_address)
            else:
                task_runner = DaskTaskRunner(
                    cluster_kwargs={
                        "n_workers": workers,
                        "threads_per_worker": 1,
                        "processes": True,
                        "dashboard_address": None,
                        # One inference thread per worker process: N workers on N
                        # cores instead of N x N threads fighting for them.
                        "env": {"OMP_NUM_THREADS": "1", "TIPNLP_TAG__THREADS": "1"},
                    }
                )
            flow_ = run_flow.with_options(task_runner=task_runner)  # type: ignore[arg-type]
            server = api_server()
        else:
            raise ValueError(f"unknown runner {runner!r}; use local or dask")
        with server:
            return flow_(
                items=[str(i) for i in items],
                out_dir=str(out_dir),
                refresh=refresh,
                tagger=tagger,
                model=model,
                report=report,
                retag=retag,
            )
    finally:
        lock.release()
