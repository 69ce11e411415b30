"""Scrape flow: the network step and the parsing step as separate Prefect tasks.

``fetch`` (discovery and fetching into the raw cache) talks to the network, so
it retries; it changes nothing in the output or the scrape state, so a retry
is safe and conditional requests still work.  ``extract`` (text, dedup,
Parquet parts) is pure parsing of cached bytes: it does not retry, because a
parser error would fail again the same way.  The two pass a path (the fetch
log), never the data.

``python -m pipelines.scrape serve`` serves the deployments of
``pipelines/prefect.yaml`` (scheduled scrape-and-tag runs) from this process,
without a work pool; see docs/scraping.md for a Prefect server setup.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path
from typing import Any

import yaml
from prefect import flow, task

from tipnlp.scrape import build_documents, fetch_sources, load_fetch_log, save_fetch_log
from tipnlp.scrape.sources import resolve_sources
from tipnlp.settings import get_settings

PREFECT_YAML = Path(__file__).with_name("prefect.yaml")


class ScrapeFailed(RuntimeError):
    """More items failed than ``settings.fetch.max_error_rate`` allows."""


@task(name="scrape-fetch", retries=2, retry_delay_seconds=[30, 120])
def fetch_task(items: list[str], out_dir: str, refresh: bool) -> dict[str, Any]:
    """Discover and fetch every source into the raw cache; returns the fetch log path."""
    settings = get_settings()
    sources = resolve_sources(items)
    records, requests = fetch_sources(sources, Path(out_dir), settings, refresh=refresh)
    key = hashlib.sha256(str(Path(out_dir).resolve()).encode()).hexdigest()[:16]
    log = save_fetch_log(records, settings.cache_dir / "scrape" / f"fetch-log-{key}.jsonl")
    return {"fetch_log": str(log), "requests": requests, "sources": [s.name for s in sources]}


@task(name="scrape-extract", retries=0)
def extract_task(fetched: dict[str, Any], out_dir: str) -> dict[str, Any]:
    """Extract, deduplicate and write documents from the fetch log; returns the summary."""
    settings = get_settings()
    summary = build_documents(
        load_fetch_log(Path(fetched["fetch_log"])),
        Path(out_dir),
        settings,
        requests=int(fetched["requests"]),
        source_names=list(fetched["sources"]),
    )
    return {
        "by_status": dict(summary.by_status),
        "by_source": {k: dict(v) for k, v in summary.by_source.items()},
        "n_new": summary.n_new,
        "n_unchanged": summary.n_unchanged,
        "requests": summary.requests,
        "error_rate": summary.error_rate,
        "failures_by_reason": summary.failures_by_reason(),
        "parts": summary.parts,
    }


@flow(name="tipnlp-scrape", log_prints=False)
def scrape_flow(items: list[str], out_dir: str = "out", refresh: bool = False) -> dict[str, Any]:
    """Scrape a manifest (or sources) into ``out_dir/documents``, incrementally.

    Fails (raises ``ScrapeFailed``) only when the share of failed items is above
    ``TIPNLP_FETCH__MAX_ERROR_RATE``; the summary lists failures by reason.
    """
    fetched = fetch_task(items, out_dir, refresh)
    summary = extract_task(fetched, out_dir)
    limit = get_settings().fetch.max_error_rate
    if summary["error_rate"] > limit:
        raise ScrapeFailed(
            f"{summary['error_rate']:.0%} of items failed (limit {limit:.0%}): "
            f"{summary['failures_by_reason']}"
        )
    return summary


def load_deployments(path: Path = PREFECT_YAML) -> list[dict[str, Any]]:
    """The ``deployments`` list of ``prefect.yaml``."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return list(data.get("deployments") or [])


def flow_for(entrypoint: str) -> Any:
    """Import ``path/to/file.py:flow_name`` (relative to the repository root)."""
    import importlib

    file_part, name = entrypoint.split(":", 1)
    module = importlib.import_module(file_part.removesuffix(".py").replace("/", "."))
    return getattr(module, name)


def build_deployments(path: Path = PREFECT_YAML) -> list[Any]:
    """``RunnerDeployment`` objects for every entry of ``prefect.yaml`` (no server needed)."""
    deployments = []
    for spec in load_deployments(path):
        schedules = spec.get("schedules") or []
        cron = schedules[0].get("cron") if schedules else None
        deployments.append(
            flow_for(spec["entrypoint"]).to_deployment(
                name=spec["name"],
                cron=cron,
                parameters=spec.get("parameters") or {},
                description=spec.get("description"),
                tags=spec.get("tags") or [],
            )
        )
    return deployments


def serve(path: Path = PREFECT_YAML) -> None:
    """Serve every deployment of ``prefect.yaml`` from this process (Ctrl-C stops)."""
    from prefect import serve as prefect_serve

    prefect_serve(*build_deployments(path))


if __name__ == "__main__":
    if sys.argv[1:] == ["serve"]:
        serve()
    else:
        sys.exit("usage: python -m pipelines.scrape serve")
