"""Helpers shared by CLI modules: console, error handling, settings."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from tipnlp.errors import TipnlpError

console = Console()
err_console = Console(stderr=True)

F = TypeVar("F", bound=Callable[..., Any])


def handle_errors(func: F) -> F:
    """Turn ``TipnlpError`` into a one-line red message and exit code 2.

    The message is printed with ``soft_wrap`` so a long path never breaks it
    over several lines (rich wraps at 80 columns when stderr is not a
    terminal), and escaped so brackets in paths or URLs are not read as markup.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except TipnlpError as exc:
            err_console.print(f"[red]error:[/red] {escape(str(exc))}", soft_wrap=True)
            raise typer.Exit(code=2) from None

    return wrapper  # type: ignore[return-value]
