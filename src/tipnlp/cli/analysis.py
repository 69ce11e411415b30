"""``tipnlp query``, ``tipnlp report`` and ``tipnlp schema``: what analysts get out."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from tipnlp.cli.common import console, err_console, handle_errors
from tipnlp.errors import TipnlpError
from tipnlp.settings import get_settings


def _default_out() -> Path:
    """The configured output folder (``TIPNLP_OUT_DIR``, default ``out``)."""
    return get_settings().out_dir


def register(app: typer.Typer) -> None:
    """Add this area's commands to ``app``."""

    @app.command("query")
    @handle_errors
    def query_cmd(
        sql: Annotated[str, typer.Argument(help="One SELECT statement (DuckDB SQL).")],
        out: Annotated[
            Path | None,
            typer.Option("--out", "-o", help="Output folder to query [default: settings]."),
        ] = None,
        fmt: Annotated[
            str, typer.Option("--format", "-f", help="table, csv, json or parquet.")
        ] = "table",
        output: Annotated[
            Path | None,
            typer.Option("--output", help="Write the result to this file (atomically)."),
        ] = None,
        max_rows: Annotated[
            int, typer.Option("--max-rows", help="Rows shown by --format table.")
        ] = 50,
    ) -> None:
        """Run read-only SQL over an output folder.

        Views: documents, sentences, sentence_labels, entities, penalties,
        provisions, signal_sentences, signals, checklist.  Only a single SELECT
        is accepted; the database is in memory and cannot write files.
        """
        from tipnlp import io
        from tipnlp.analysis.views import FORMATS, format_result, query

        if fmt not in FORMATS:
            raise TipnlpError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
        if fmt == "table" and output is not None:
            raise TipnlpError(
                "--format table prints to the terminal; use csv, json or parquet with --output"
            )
        if fmt == "parquet" and output is None:
            raise TipnlpError("--format parquet needs --output FILE")
        result = query(out or _default_out(), sql)
        if fmt == "table":
            table = Table(show_lines=False)
            for name in result.column_names:
                table.add_column(name, overflow="fold")
            for row in result.slice(0, max_rows).to_pylist():
                table.add_row(*("" if v is None else str(v) for v in row.values()))
            console.print(table)
            if result.num_rows > max_rows:
                err_console.print(
                    f"{result.num_rows - max_rows} more rows; use --max-rows or --format csv"
                )
            return
        data = format_result(result, fmt)
        if output is None:
            sys.stdout.write(data.decode("utf-8"))
            sys.stdout.flush()
        else:
            io.write_bytes_atomic(output, data)
            err_console.print(f"{result.num_rows} rows written to {output}")

    @app.command("report")
    @handle_errors
    def report_cmd(
        out_dir: Annotated[Path, typer.Argument(help="Output folder written by tipnlp tag/run.")],
        html_path: Annotated[
            Path | None,
            typer.Option("--html", help="Report file [default: OUT_DIR/report.html]."),
        ] = None,
        title: Annotated[str, typer.Option("--title", help="Report title.")] = "tipnlp report",
        max_evidence: Annotated[
            int, typer.Option("--max-evidence", help="Evidence sentences shown per cell.")
        ] = 10,
    ) -> None:
        """Write one static HTML report: checklist, signals, penalties, evidence."""
        from tipnlp.analysis.report import write_report

        target = html_path or (out_dir / "report.html")
        path = write_report(out_dir, target, title=title, max_evidence=max_evidence)
        console.print(f"report written to {path}")

    @app.command("schema")
    @handle_errors
    def schema_cmd(
        table: Annotated[
            str | None, typer.Argument(help="One table; all tables when omitted.")
        ] = None,
        markdown: Annotated[
            bool,
            typer.Option(
                "--markdown",
                help="Print the data dictionary as Markdown (docs/data-dictionary.md).",
            ),
        ] = False,
    ) -> None:
        """Print the data dictionary: every table and column, from the schema module."""
        from tipnlp.analysis.dictionary import data_dictionary_markdown, table_description
        from tipnlp.schemas import SCHEMAS, describe, version_of

        if markdown:
            if table is not None:
                raise TipnlpError("--markdown prints every table; drop the TABLE argument")
            sys.stdout.write(data_dictionary_markdown())
            sys.stdout.flush()
            return
        if table is not None and table not in SCHEMAS:
            raise TipnlpError(f"unknown table {table!r}; known: {', '.join(SCHEMAS)}")
        for name in [table] if table else list(SCHEMAS):
            grid = Table(
                title=f"{name} (schema v{version_of(name)}): {table_description(name)}",
                title_justify="left",
            )
            grid.add_column("column", style="bold")
            grid.add_column("type")
            grid.add_column("description", overflow="fold")
            for col, type_, desc in describe(name):
                grid.add_row(col, type_, desc)
            console.print(grid)
