"""tipnlp query / report / schema through the typer app."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
from typer.testing import CliRunner

from tipnlp.cli import app

runner = CliRunner()


def test_query_formats(out_dir: Path, tmp_path: Path) -> None:
    sql = "SELECT jurisdiction, status FROM checklist WHERE criterion = 'definition_means'"
    res = runner.invoke(app, ["query", sql, "--out", str(out_dir), "--format", "json"])
    assert res.exit_code == 0, res.output
    assert {r["jurisdiction"]: r["status"] for r in json.loads(res.stdout)}["NZ"] == "no"
    res = runner.invoke(app, ["query", sql, "-o", str(out_dir), "-f", "csv"])
    assert res.exit_code == 0 and res.stdout.splitlines()[0] == '"jurisdiction","status"'
    res = runner.invoke(app, ["query", sql, "-o", str(out_dir)])
    assert res.exit_code == 0 and "NZ" in res.stdout
    target = tmp_path / "r.parquet"
    res = runner.invoke(
        app, ["query", sql, "-o", str(out_dir), "-f", "parquet", "--output", str(target)]
    )
    assert res.exit_code == 0 and pq.read_table(target).num_rows == 4


def test_query_refuses_writes(out_dir: Path, tmp_path: Path) -> None:
    evil = tmp_path / "evil.csv"
    res = runner.invoke(app, ["query", f"COPY documents TO '{evil}'", "-o", str(out_dir)])
    assert res.exit_code == 2
    assert "read-only" in res.output
    assert not evil.exists()


def test_query_bad_options(out_dir: Path) -> None:
    res = runner.invoke(app, ["query", "SELECT 1", "-o", str(out_dir), "-f", "parquet"])
    assert res.exit_code == 2 and "--output" in res.output
    res = runner.invoke(app, ["query", "SELECT 1", "-o", str(out_dir), "-f", "xml"])
    assert res.exit_code == 2 and "unknown format" in res.output


def test_report_prints_its_path(out_dir: Path, tmp_path: Path) -> None:
    target = tmp_path / "report.html"
    res = runner.invoke(app, ["report", str(out_dir), "--html", str(target)])
    assert res.exit_code == 0, res.output
    assert str(target) in res.stdout.replace("\n", "")
    assert "checklist-row" in target.read_text(encoding="utf-8")


def test_report_on_missing_folder(tmp_path: Path) -> None:
    res = runner.invoke(app, ["report", str(tmp_path / "nope")])
    assert res.exit_code == 2 and "not found" in res.output


def test_schema_lists_tables() -> None:
    res = runner.invoke(app, ["schema", "entities"])
    assert res.exit_code == 0 and "entity_type" in res.stdout
    res = runner.invoke(app, ["schema", "nope"])
    assert res.exit_code == 2 and "unknown table" in res.output
