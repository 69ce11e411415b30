"""``tipnlp tag`` and ``tipnlp run``: the batch path from documents to tables."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from tipnlp.cli.common import console, err_console, handle_errors
from tipnlp.labels import LABELS
from tipnlp.settings import get_settings
from tipnlp.tagging import TagSummary

TaggerOpt = Annotated[
    str,
    typer.Option(
        "--tagger",
        help="auto: the fine-tuned model if built, else rules; model: require it; rules: "
        "the rule tagger only.",
    ),
]
ModelOpt = Annotated[
    str | None, typer.Option("--model", help="Model name under models/ or a path.")
]
RetagOpt = Annotated[
    bool,
    typer.Option(
        help="Tag again what another model version tagged (after a retrain); rows keep "
        "their ids, with the new labels and model_version."
    ),
]


def print_summary(summary: TagSummary, out_dir: Path, failures_by_reason: dict[str, int]) -> None:
    """Print the run summary table and a ready-to-paste DuckDB query."""
    table = Table(title=f"tipnlp: {out_dir}", show_header=True)
    table.add_column("what")
    table.add_column("count", justify="right")
    table.add_row("documents", str(summary.documents))
    table.add_row("sentences", str(summary.sentences))
    table.add_row(
        "parts (done before / total)", f"{summary.parts_done_before} / {summary.parts_total}"
    )
    if summary.parts_retagged:
        table.add_row("parts tagged again (another model)", str(summary.parts_retagged))
    for label in LABELS:
        table.add_row(f"  label {label}", str(summary.label_counts.get(label, 0)))
    for status, n in sorted(summary.status_counts.items()):
        table.add_row(f"  status {status}", str(n))
    for reason, n in sorted(failures_by_reason.items()):
        table.add_row(f"  failure {reason}", str(n))
    table.add_row("model", summary.model_version or "-")
    console.print(table)
    for doc_id, status, error in summary.failures[:20]:
        err_console.print(
            f"[yellow]failed[/yellow] {escape(f'{doc_id}: {status}: {error}')}", soft_wrap=True
        )
    glob = out_dir.as_posix()
    sql = (
        "SELECT label, count(*) AS n "
        f"FROM read_parquet('{glob}/sentence_labels/**/*.parquet') GROUP BY 1 ORDER BY 2 DESC"
    )
    console.print("\nQuery it with DuckDB (paste into duckdb or Python's duckdb.sql):")
    console.print(f"  {sql}", soft_wrap=True, highlight=False, markup=False)
    console.print("or with the ready-made views:")
    console.print(
        f'  tipnlp query "SELECT * FROM checklist" --out {glob}',
        soft_wrap=True,
        highlight=False,
        markup=False,
    )


def register(app: typer.Typer) -> None:
    """Add ``tag`` and ``run``."""

    @app.command("tag")
    @handle_errors
    def tag(
        docs: Annotated[
            Path,
            typer.Argument(
                help="JSONL: one object a line with doc_id and "
                "text; url, title, language, kind, published "
                "optional."
            ),
        ],
        out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("out"),
        tagger: TaggerOpt = "auto",
        model: ModelOpt = None,
        batch_documents: Annotated[
            int | None, typer.Option(help="Documents per Parquet part.")
        ] = None,
        retag: RetagOpt = False,
    ) -> None:
        """Segment and tag documents that are already text; write Parquet tables.

        Writes OUT/documents, OUT/sentences, OUT/sentence_labels and OUT/entities.
        Re-running resumes: parts already written are skipped (with --retag, tagged
        again when another model version tagged them).  Bad lines are recorded as
        failed documents, never dropped.
        """
        from tipnlp.tagging import tag_jsonl

        overrides: dict[str, object] = {}
        if model:
            overrides["model"] = model
        settings = get_settings(**overrides)
        if batch_documents:
            settings.tag.batch_documents = batch_documents
        with Progress(
            TextColumn("tagging"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err_console,
            transient=True,
        ) as progress:
            task = progress.add_task("tag", total=None)

            def on_progress(done: int, total: int) -> None:
                progress.update(task, completed=done, total=total)

            summary = tag_jsonl(
                docs, out, settings, progress=on_progress, tagger_kind=tagger, retag=retag
            )
        print_summary(summary, out, {})
        if summary.documents and summary.status_counts.get("ok", 0) == 0:
            raise typer.Exit(code=1)

    @app.command("run")
    @handle_errors
    def run(
        sources: Annotated[
            list[str] | None,
            typer.Argument(help="A manifest (.yaml) or URLs, files, folders, WARC files."),
        ] = None,
        out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("out"),
        refresh: Annotated[bool, typer.Option(help="Re-fetch everything.")] = False,
        tagger: TaggerOpt = "auto",
        model: ModelOpt = None,
        retag: RetagOpt = False,
        runner: Annotated[
            str, typer.Option(help="local (one process, threads) or dask (prefect-dask).")
        ] = "local",
        dask_address: Annotated[
            str | None,
            typer.Option(
                help="Existing Dask scheduler, e.g. tcp://host:8786 (with --runner "
                "dask); default: a local cluster."
            ),
        ] = None,
        workers: Annotated[int, typer.Option(help="Workers of the local Dask cluster.")] = 2,
        report: Annotated[
            Path | None, typer.Option(help="Also write the HTML report to this path.")
        ] = None,
    ) -> None:
        """Scrape, tag and store: the Prefect flow over a manifest or direct sources.

        Runs embedded (Prefect's ephemeral mode) unless PREFECT_API_URL points at
        a server.  With --runner dask the same flow runs its tag tasks on a Dask
        cluster through prefect-dask.
        """
        settings = get_settings(**({"model": model} if model else {}))
        items = list(sources or [str(settings.manifest)])
        # Prefect reads its settings once, when it is first imported: PREFECT_HOME
        # must be in the environment before ``pipelines`` imports it.
        os.environ.setdefault("PREFECT_HOME", str(Path(settings.cache_dir).resolve() / "prefect"))
        from pipelines.run import run_batch

        with console.status("running the flow (Prefect may take ~20 s to start)..."):
            result = run_batch(
                items,
                out,
                refresh=refresh,
                tagger=tagger,
                model=model,
                runner=runner,
                dask_address=dask_address,
                workers=workers,
                report=str(report) if report else None,
                retag=retag,
            )
        summary: TagSummary = result["summary"]
        print_summary(summary, out, result.get("failures_by_reason", {}))
        if result.get("ingest_error_rate") is not None:
            console.print(f"ingest error rate: {result['ingest_error_rate']:.1%}")
        if report:
            console.print(f"report: {report.resolve()}")
        if result.get("failed"):
            err_console.print(f"[red]error:[/red] {escape(str(result['failed']))}", soft_wrap=True)
            raise typer.Exit(code=1)
