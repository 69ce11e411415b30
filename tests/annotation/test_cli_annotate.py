"""`tipnlp annotate import|agreement` from the command line: exit codes and messages."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from tipnlp.cli import app


def test_import_then_agreement_and_bad_export(tmp_path: Path, ls: Any) -> None:
    runner = CliRunner()
    task = ls.task(
        7,
        "Inspectors found nine workers held behind a locked gate.",
        [ls.annotation(1, ["arrest"], user=1), ls.annotation(2, ["arrest", "prosecution"], user=2)],
    )
    export = tmp_path / "e.json"
    export.write_text(json.dumps([task]), encoding="utf-8")
    ann = tmp_path / "ann"
    ok = runner.invoke(app, ["annotate", "import", str(export), "--annotations-dir", str(ann)])
    assert ok.exit_code == 0, ok.output
    assert len((ann / "e-v1.jsonl").read_text().splitlines()) == 2
    agr = runner.invoke(
        app, ["annotate", "agreement", str(export), "--out", str(tmp_path / "d.jsonl")]
    )
    assert agr.exit_code == 0, agr.output
    assert json.loads((tmp_path / "d.jsonl").read_text())["disputed_labels"] == ["prosecution"]
    task["annotations"][0]["result"][0]["value"]["choices"] = ["kidnapping"]
    export.write_text(json.dumps([task]), encoding="utf-8")
    bad = runner.invoke(app, ["annotate", "import", str(export), "--annotations-dir", str(ann)])
    assert bad.exit_code == 2
