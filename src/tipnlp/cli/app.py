"""Builds the typer app from the per-area command modules."""

from __future__ import annotations

import typer

from tipnlp.cli import analysis, annotate, core, scrape, train

app = typer.Typer(
    name="tipnlp",
    help="Scrape, tag and store anti-human-trafficking law and enforcement news.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

for _module in (core, scrape, train, annotate, analysis):
    _module.register(app)
