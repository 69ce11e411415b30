"""Scraping: sources (manifests, sitemaps, feeds, folders, WARC) to documents.

The public entry points are ``load_manifest``, ``sources_from_args`` and
``ingest``; see ``tipnlp.scrape.ingest`` for what a run writes.
"""

from __future__ import annotations

from tipnlp.scrape.ingest import (
    FetchRecord,
    IngestSummary,
    build_documents,
    fetch_sources,
    ingest,
    load_fetch_log,
    save_fetch_log,
)
from tipnlp.scrape.sources import (
    Manifest,
    Source,
    load_manifest,
    resolve_sources,
    sources_from_args,
)

__all__ = [
    "FetchRecord",
    "IngestSummary",
    "Manifest",
    "Source",
    "build_documents",
    "fetch_sources",
    "ingest",
    "load_fetch_log",
    "load_manifest",
    "resolve_sources",
    "save_fetch_log",
    "sources_from_args",
]
