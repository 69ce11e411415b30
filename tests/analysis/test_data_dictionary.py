"""docs/data-dictionary.md is generated from the schemas and must stay in sync."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from tipnlp.analysis.dictionary import data_dictionary_markdown
from tipnlp.cli import app
from tipnlp.schemas import SCHEMAS, describe

DOC = Path(__file__).resolve().parents[2] / "docs" / "data-dictionary.md"


def test_committed_file_is_in_sync() -> None:
    assert DOC.read_text(encoding="utf-8") == data_dictionary_markdown(), (
        "docs/data-dictionary.md is stale: run `tipnlp schema --markdown > docs/data-dictionary.md`"
    )


def test_every_table_and_column_is_listed() -> None:
    text = data_dictionary_markdown()
    for table in SCHEMAS:
        assert f"## `{table}`" in text
        for name, _, _ in describe(table):
            assert f"| `{name}` |" in text


def test_cli_prints_the_same_markdown() -> None:
    res = CliRunner().invoke(app, ["schema", "--markdown"])
    assert res.exit_code == 0
    assert res.stdout == data_dictionary_markdown()
