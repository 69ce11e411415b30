"""CLI commands of the scrape area (filled in by that area's work)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this area's commands to ``app``."""
    return None
