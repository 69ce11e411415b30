"""Resilience: SIGKILL half-way then resume, junk input, concurrent writers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tipnlp import io
from tipnlp.tagging import documents_from_jsonl, stage_documents, tag_parts

ROOT = Path(__file__).resolve().parents[1]
TIPNLP = [sys.executable, "-m", "tipnlp.cli.main"]


def _corpus(path: Path, n_docs: int) -> Path:
    """Write ``n_docs`` synthetic documents in our own words."""
    with path.open("w", encoding="utf-8") as fh:
        for i in range(n_docs):
            text = (
                f"Case {i}. Police arrested {i % 7 + 2} suspects for trafficking in persons. "
                f"Whoever traffics a person shall be punished by imprisonment of not less than "
                f"{i % 9 + 3} years. Victims shall be provided with shelter and legal aid.\n\n"
                f"The court convicted the recruiter on day {i}."
            )
            fh.write(
                json.dumps(
                    {
                        "doc_id": f"d{i:05d}",
                        "text": text,
                        "language": "en",
                        "title": f"Trafficking case {i}",
                        "kind": "news",
                    }
                )
                + "\n"
            )
    return path


def _rows(out: Path, table: str) -> list[dict[str, object]]:
    keys = [("doc_id", "ascending")] + ([("sent_id", "ascending")] if table != "documents" else [])
    if table == "sentence_labels":
        keys.append(("label", "ascending"))
    return io.read_table(out, table).sort_by(keys).to_pylist()


@pytest.mark.slow
def test_sigkill_halfway_then_rerun_equals_clean_run(tmp_path: Path) -> None:
    docs = _corpus(tmp_path / "docs.jsonl", 1500)
    env = {**os.environ, "TIPNLP_TAG__BATCH_DOCUMENTS": "50"}
    cmd = [*TIPNLP, "tag", str(docs), "--tagger", "rules", "--out"]
    clean = tmp_path / "clean"
    subprocess.run([*cmd, str(clean)], check=True, env=env, cwd=ROOT, capture_output=True)

    killed = tmp_path / "killed"
    proc = subprocess.Popen(
        [*cmd, str(killed)], env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        done = list((killed / "documents").glob("part-*.parquet"))
        if len(done) >= 3:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    n_staged = len(list((killed / "_staging" / "documents").glob("part-*.parquet")))
    n_done = len(list((killed / "documents").glob("part-*.parquet")))
    assert 0 < n_done < n_staged or n_done < 30, "the kill did not land half-way"

    subprocess.run([*cmd, str(killed)], check=True, env=env, cwd=ROOT, capture_output=True)
    for table in ("documents", "sentences", "sentence_labels", "entities"):
        assert _rows(killed, table) == _rows(clean, table), table
    assert not list(killed.rglob(".*.tmp"))


def test_concurrent_writer_refused_with_clear_message(tmp_path: Path) -> None:
    from tipnlp.tagging import lock_output

    docs = _corpus(tmp_path / "docs.jsonl", 3)
    held = lock_output(tmp_path / "out")
    try:
        res = subprocess.run(
            [*TIPNLP, "tag", str(docs), "--tagger", "rules", "--out", str(tmp_path / "out")],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
    finally:
        held.release()
    assert res.returncode == 2
    assert "another tipnlp run is writing" in res.stderr


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)


def _junk_line() -> st.SearchStrategy[bytes]:
    doc = st.fixed_dictionaries(
        {},
        optional={
            "doc_id": st.one_of(st.text(max_size=12), st.integers(), st.none(), json_values),
            "text": st.one_of(st.text(max_size=400), st.none(), st.integers(), json_values),
            "title": st.one_of(st.text(max_size=20), st.none(), json_values),
            "language": st.one_of(st.sampled_from(["en", "es", "zz", ""]), json_values),
        },
    )
    return st.one_of(
        doc.map(lambda d: json.dumps(d).encode()),
        st.binary(max_size=200),
        st.text(max_size=200).map(lambda t: t.encode("utf-16")),
        st.text(max_size=200).map(lambda t: t.encode("latin-1", errors="replace")),
        json_values.map(lambda v: json.dumps(v).encode()),
    )


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(lines=st.lists(_junk_line(), min_size=1, max_size=12))
def test_junk_jsonl_never_crashes_and_every_line_is_accounted(
    tmp_path_factory: pytest.TempPathFactory, fake_components: object, lines: list[bytes]
) -> None:
    tmp = tmp_path_factory.mktemp("junk")
    path = tmp / "docs.jsonl"
    cleaned = [ln.replace(b"\n", b" ").replace(b"\r", b" ") for ln in lines]
    path.write_bytes(b"\n".join(cleaned) + b"\n")
    non_blank = sum(1 for ln in cleaned if ln.strip())
    docs = list(documents_from_jsonl(path))
    assert len(docs) == non_blank
    for d in docs:
        assert d.status == "ok" or d.error, d
    parts = stage_documents(docs, tmp / "out", 5)
    summary = tag_parts(parts, tmp / "out", fake_components)  # type: ignore[arg-type]
    assert summary.documents == non_blank
    rows = io.read_table(tmp / "out", "documents").to_pylist()
    assert len(rows) == non_blank


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(text=st.text(min_size=0, max_size=3000))
def test_real_segmenter_and_rules_survive_any_text(
    tmp_path_factory: pytest.TempPathFactory, text: str
) -> None:
    from tipnlp.nlp.penalties import extract_penalty
    from tipnlp.nlp.rules import RuleTagger
    from tipnlp.nlp.segment import segment
    from tipnlp.nlp.types import SentenceInput

    segs = segment(text, "en")
    for s in segs:
        assert text[s.start : s.end] == s.text
    preds = RuleTagger().predict([SentenceInput(text=s.text) for s in segs])
    assert len(preds) == len(segs)
    for s in segs:
        extract_penalty(s.text)


def test_huge_document_is_tagged_in_bounded_parts(tmp_path: Path, fake_components: object) -> None:
    text = "A sentence about nothing in particular. " * 20000
    path = tmp_path / "big.jsonl"
    path.write_text(json.dumps({"doc_id": "big", "text": text}) + "\n", encoding="utf-8")
    docs = list(documents_from_jsonl(path))
    parts = stage_documents(docs, tmp_path / "out", 1)
    summary = tag_parts(parts, tmp_path / "out", fake_components)  # type: ignore[arg-type]
    assert summary.sentences == 20000
