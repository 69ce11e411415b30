"""``tipnlp evaluate``: prints the table, writes JSON, fails cleanly without a model."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from tipnlp.cli.app import app

runner = CliRunner()


def _gold(tmp_path: Path) -> Path:
    text = "Police arrested two traffickers. It rained."
    doc = {
        "doc_id": "x",
        "language": "en",
        "kind": "news",
        "text": text,
        "sentences": [
            {"start": 0, "end": 32, "labels": ["arrest"]},
            {"start": 33, "end": 43, "labels": []},
        ],
    }
    p = tmp_path / "gold.jsonl"
    p.write_text(json.dumps(doc) + "\n", encoding="utf-8")
    return p


def test_evaluate_rules_table_and_json(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    res = runner.invoke(
        app, ["evaluate", "--gold", str(_gold(tmp_path)), "--tagger", "rules", "--json", str(out)]
    )
    assert res.exit_code == 0, res.output
    assert "macro-F1" in res.output and "arrest" in res.output
    data = json.loads(out.read_text())
    assert data["rules"]["sentences"] == 2
    assert data["rules"]["per_label"]["arrest"]["support"] == 1


def test_evaluate_without_model_is_a_clear_error(tmp_path: Path) -> None:
    res = runner.invoke(
        app,
        ["evaluate", "--gold", str(_gold(tmp_path)), "--model", str(tmp_path / "nomodel")],
    )
    assert res.exit_code == 2
    assert "no trained model" in " ".join(res.output.split())


def test_evaluate_missing_gold(tmp_path: Path) -> None:
    res = runner.invoke(
        app, ["evaluate", "--gold", str(tmp_path / "missing.jsonl"), "--tagger", "rules"]
    )
    assert res.exit_code == 2
    assert "missing.jsonl" in "".join(res.output.split())
