"""The CLI: every command explains itself, errors are one clean line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tipnlp.cli import app

runner = CliRunner()

COMMANDS = ["run", "ingest", "tag", "evaluate", "query", "train", "report", "annotate"]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command: str) -> None:
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output
    assert len(result.output.splitlines()) > 4


def test_missing_input_is_one_clear_line(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        ["tag", str(tmp_path / "nope.jsonl"), "--out", str(tmp_path / "out"), "--tagger", "rules"],
    )
    assert result.exit_code == 2
    assert "no such file" in result.output
    assert "Traceback" not in result.output


def test_long_error_stays_on_one_line_with_brackets_verbatim(tmp_path: Path) -> None:
    # rich wraps at 80 columns when stderr is not a terminal; a long path must not
    # split the message, and brackets in a path must not be read as markup.
    deep = tmp_path / ("x" * 60) / "[red]odd[/red]" / ("y" * 60) / "nope.jsonl"
    result = runner.invoke(
        app, ["tag", str(deep), "--out", str(tmp_path / "out"), "--tagger", "rules"]
    )
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert lines[0].startswith("error: ")
    assert str(deep) in lines[0]


def test_tag_with_rules_prints_summary_and_query(tmp_path: Path) -> None:
    docs = tmp_path / "d.jsonl"
    docs.write_text(
        json.dumps(
            {
                "doc_id": "x",
                "language": "en",
                "title": "Trafficking ring dismantled",
                "text": "Police arrested five suspected human traffickers on Monday. "
                "Whoever commits trafficking in persons shall be punished by imprisonment "
                "for not less than 8 years.",
            }
        )
        + "\n",
        encoding="utf-8",
    )
    result = runner.invoke(
        app, ["tag", str(docs), "--out", str(tmp_path / "out"), "--tagger", "rules"]
    )
    assert result.exit_code == 0, result.output
    assert "sentences" in result.output and "read_parquet" in result.output
