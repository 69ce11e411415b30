"""Prefect flows end to end: the batch run, and the Dask runner equal to the local one."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tipnlp import io

ROOT = Path(__file__).resolve().parents[1]

pytestmark = [pytest.mark.flow, pytest.mark.slow, pytest.mark.usefixtures("prefect_home")]


def _text_folder(path: Path, n: int) -> Path:
    path.mkdir(parents=True)
    for i in range(n):
        (path / f"case-{i:03d}.txt").write_text(
            f"Trafficking case {i}\n\nPolice arrested {i + 2} men suspected of trafficking "
            f"women for sexual exploitation. Whoever commits trafficking in persons shall be "
            f"punished by imprisonment of not less than {i % 5 + 3} years. The victims were "
            f"placed in a shelter and received legal aid.\n",
            encoding="utf-8",
        )
    return path


def _rows(out: Path, table: str) -> list[dict[str, object]]:
    drop = {"fetched_at"}
    keys = [("doc_id", "ascending")] + ([("sent_id", "ascending")] if table != "documents" else [])
    if table == "sentence_labels":
        keys.append(("label", "ascending"))
    rows = io.read_table(out, table).sort_by(keys).to_pylist()
    return [{k: v for k, v in r.items() if k not in drop} for r in rows]


def test_dask_runner_equals_local_runner_row_for_row(tmp_path: Path) -> None:
    from pipelines.run import run_batch

    folder = _text_folder(tmp_path / "docs", 12)
    os.environ["TIPNLP_SCRAPE__PART_SIZE"] = "3"
    try:
        local = run_batch([str(folder)], tmp_path / "local", tagger="rules", runner="local")
        dask = run_batch([str(folder)], tmp_path / "dask", tagger="rules", runner="dask", workers=2)
    finally:
        del os.environ["TIPNLP_SCRAPE__PART_SIZE"]
    assert local["summary"].documents == dask["summary"].documents == 12
    assert local["summary"].parts_total == 4
    for table in ("documents", "sentences", "sentence_labels", "entities"):
        assert _rows(tmp_path / "local", table) == _rows(tmp_path / "dask", table), table
    assert len(_rows(tmp_path / "local", "sentences")) >= 36


def test_run_over_sample_manifest_writes_tables_and_rerun_adds_nothing(tmp_path: Path) -> None:
    from pipelines.run import run_batch

    manifest = ROOT / "corpora" / "default.yaml"
    out = tmp_path / "out"
    first = run_batch([str(manifest)], out, tagger="rules")
    docs = io.read_table(out, "documents").to_pylist()
    assert first["summary"].documents == len(docs) > 0
    statuses = {d["status"] for d in docs}
    assert "ok" in statuses
    assert statuses - {"ok", "duplicate"}, "the sample corpus has a broken page"
    sentences = io.read_table(out, "sentences").to_pylist()
    assert sentences and any(s["labels"] for s in sentences)
    n_sent = len(sentences)
    second = run_batch([str(manifest)], out, tagger="rules")
    assert io.read_table(out, "sentences").num_rows == n_sent
    assert second["summary"].sentences == 0


def test_run_retag_tags_again_what_another_rule_set_tagged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``run_batch(retag=True)`` after a version change rewrites the rows, nothing else."""
    from pipelines.run import run_batch
    from tipnlp.nlp.rules import RULES_VERSION, RuleTagger

    folder = _text_folder(tmp_path / "docs", 4)
    out = tmp_path / "out"
    run_batch([str(folder)], out, tagger="rules")
    before = _rows(out, "sentences")
    assert {r["model_version"] for r in before} == {RULES_VERSION}

    monkeypatch.setattr(RuleTagger, "version", "rules-next")
    same = run_batch([str(folder)], out, tagger="rules")  # no retag: nothing changes
    assert same["summary"].parts_retagged == 0 and _rows(out, "sentences") == before
    again = run_batch([str(folder)], out, tagger="rules", retag=True)
    after = _rows(out, "sentences")
    assert again["summary"].parts_retagged == again["summary"].parts_total > 0
    assert {r["model_version"] for r in after} == {"rules-next"}
    assert [{**r, "model_version": None} for r in after] == [
        {**r, "model_version": None} for r in before
    ]
