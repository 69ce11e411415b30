"""CLI commands of the core area (tag, run) (filled in by that area's work)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this area's commands to ``app``."""
    return None
