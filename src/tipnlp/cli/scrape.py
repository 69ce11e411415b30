"""``tipnlp ingest``: scrape sources into a ``documents`` dataset, with progress bars."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from tipnlp.cli.common import console, err_console, handle_errors
from tipnlp.settings import get_settings
from tipnlp.tagging import lock_output

if TYPE_CHECKING:
    from tipnlp.scrape import IngestSummary


def print_ingest_summary(summary: IngestSummary, out: Path) -> None:
    """Counts per source and status, failures by reason, a few example failures."""
    statuses = sorted(summary.by_status, key=lambda s: (s not in ("ok", "duplicate"), s))
    table = Table(title=f"tipnlp ingest: {out}")
    table.add_column("source")
    for status in statuses:
        table.add_column(status, justify="right")
    for name, counts in summary.by_source.items():
        table.add_row(name, *(str(counts.get(s, 0)) for s in statuses))
    table.add_row("[bold]all[/bold]", *(str(summary.by_status.get(s, 0)) for s in statuses))
    console.print(table)
    console.print(
        f"new rows: {summary.n_new}   unchanged: {summary.n_unchanged}   "
        f"HTTP requests: {summary.requests}   error rate: {summary.error_rate:.1%}"
    )
    for _location, reason, message in summary.failures[:10]:
        err_console.print(f"[yellow]{escape(reason)}[/yellow] {escape(message)}", soft_wrap=True)
    if len(summary.failures) > 10:
        err_console.print(
            f"... and {len(summary.failures) - 10} more: "
            f"SELECT source, status, error FROM documents WHERE status NOT IN ('ok', 'duplicate')"
        )


def register(app: typer.Typer) -> None:
    """Add ``ingest``."""

    @app.command("ingest")
    @handle_errors
    def ingest_cmd(
        items: Annotated[
            list[str],
            typer.Argument(
                help="A manifest (.yaml), or sources: folders or files (HTML, PDF, text), "
                "WARC files, page URLs, sitemap URLs (…sitemap….xml), feed URLs (…/feed, "
                ".rss, .atom)."
            ),
        ],
        out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("out"),
        refresh: Annotated[
            bool, typer.Option("--refresh", help="Re-fetch everything (no conditional GET).")
        ] = False,
        from_cache: Annotated[
            bool,
            typer.Option(
                "--from-cache", help="Re-extract pages from the raw cache; no network for them."
            ),
        ] = False,
        max_error_rate: Annotated[
            float | None,
            typer.Option(help="Fail (exit 1) above this share of failed items."),
        ] = None,
    ) -> None:
        """Scrape sources into OUT/documents (Parquet), incrementally.

        Reruns fetch only what is new or changed and append only new documents.
        Every failure is a row with a status and a reason.
        """
        # trafilatura logs each page it discards at WARNING; the failure rows say it
        for name in ("trafilatura", "htmldate", "courlan"):
            logging.getLogger(name).setLevel(logging.ERROR)
        settings = get_settings()
        limit = settings.fetch.max_error_rate if max_error_rate is None else max_error_rate
        # trafilatura and friends load only for the scrape commands.
        from tipnlp.scrape import ingest
        from tipnlp.scrape.sources import resolve_sources

        sources = resolve_sources(items)
        lock = lock_output(out)  # a second ingest into the same folder refuses at once
        try:
            with Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=err_console,
                transient=False,
            ) as bars:
                tasks: dict[str, TaskID] = {}

                def progress(name: str, done: int, total: int) -> None:
                    if name not in tasks:
                        tasks[name] = bars.add_task(name, total=total or None)
                    bars.update(tasks[name], completed=done, total=total or None)

                summary = ingest(
                    sources,
                    out,
                    settings,
                    refresh=refresh,
                    from_cache=from_cache,
                    progress=progress,
                )
        finally:
            lock.release()
        print_ingest_summary(summary, out)
        if summary.error_rate > limit:
            err_console.print(
                f"[red]error:[/red] {summary.error_rate:.0%} of items failed, above the limit "
                f"{limit:.0%} (--max-error-rate / TIPNLP_FETCH__MAX_ERROR_RATE)",
                soft_wrap=True,
            )
            raise typer.Exit(code=1)
