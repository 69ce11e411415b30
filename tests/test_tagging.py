"""The tagging stage: parts, offsets, failure rows, resume and the output lock."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from tipnlp import io
from tipnlp.errors import OutputLockedError
from tipnlp.settings import Settings
from tipnlp.tagging import lock_output, pending_parts, split_jsonl, tag_jsonl, tag_parts


def _write_docs(path: Path, docs: Sequence[object]) -> Path:
    lines = [d if isinstance(d, str) else json.dumps(d) for d in docs]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


DOCS = [
    {
        "doc_id": "a",
        "text": "Police arrested two men. They face 12 years in prison.",
        "title": "Raid",
        "url": "https://example.org/a",
        "language": "en",
        "kind": "news",
    },
    {"doc_id": "b", "text": "Nothing to see here. Weather was fine."},
    {"doc_id": "c", "text": "   "},
    "this line is not json",
    {"text": "no id"},
    {"doc_id": "a", "text": "A repeated id."},
]


def _settings(batch: int = 2) -> Settings:
    s = Settings()
    s.tag.batch_documents = batch
    return s


def test_tag_writes_all_tables_with_exact_offsets(tmp_path: Path, fake_components: object) -> None:
    docs = _write_docs(tmp_path / "docs.jsonl", DOCS)
    out = tmp_path / "out"
    summary = tag_jsonl(docs, out, _settings(), comps=fake_components)  # type: ignore[arg-type]
    documents = {r["doc_id"]: r for r in io.read_table(out, "documents").to_pylist()}
    sentences = io.read_table(out, "sentences").to_pylist()
    labels = io.read_table(out, "sentence_labels").to_pylist()

    assert summary.documents == len(DOCS) == len(documents)
    assert documents["a"]["status"] == "ok" and documents["a"]["n_sentences"] == 2
    assert documents["c"]["status"] == "empty"
    statuses = sorted(r["status"] for r in documents.values())
    assert statuses.count("bad_input") == 2
    assert statuses.count("duplicate") == 1
    for row in documents.values():
        if row["status"] != "ok":
            assert row["error"], row
    for s in sentences:
        assert documents[s["doc_id"]]["text"][s["start"] : s["end"]] == s["text"]
        assert s["model_version"] == "fake-1"
    pen = [s for s in sentences if "penalty" in s["labels"]]
    assert [s["prison_max_years"] for s in pen] == [12.0]
    assert {(r["doc_id"], r["label"]) for r in labels} == {("a", "arrest"), ("a", "penalty")}
    assert all(r["source"] == "model" and r["threshold"] == 0.5 for r in labels)


def test_rerun_skips_done_parts_and_adds_nothing(tmp_path: Path, fake_components: object) -> None:
    docs = _write_docs(tmp_path / "docs.jsonl", DOCS)
    out = tmp_path / "out"
    first = tag_jsonl(docs, out, _settings(), comps=fake_components)  # type: ignore[arg-type]
    n_rows = io.read_table(out, "sentences").num_rows
    second = tag_jsonl(docs, out, _settings(), comps=fake_components)  # type: ignore[arg-type]
    assert second.parts_done_before == second.parts_total == first.parts_total
    assert io.read_table(out, "sentences").num_rows == n_rows
    assert pending_parts(out) == []


def test_interrupted_run_resumes_to_the_same_output(
    tmp_path: Path, fake_components: object
) -> None:
    docs = _write_docs(tmp_path / "docs.jsonl", DOCS)
    clean = tmp_path / "clean"
    tag_jsonl(docs, clean, _settings(), comps=fake_components)  # type: ignore[arg-type]

    broken = tmp_path / "broken"
    parts = split_jsonl(docs, broken, 2)
    tag_parts(parts[:1], broken, fake_components)  # type: ignore[arg-type]
    (broken / "sentences" / ".part-x.parquet.1.tmp").write_bytes(b"half a file")
    assert len(pending_parts(broken)) == len(parts) - 1
    tag_jsonl(docs, broken, _settings(), comps=fake_components)  # type: ignore[arg-type]
    for table in ("documents", "sentences", "sentence_labels"):
        a = io.read_table(clean, table).sort_by([("doc_id", "ascending")]).to_pylist()
        b = io.read_table(broken, table).sort_by([("doc_id", "ascending")]).to_pylist()
        assert a == b, table
    assert not list((broken / "sentences").glob(".*.tmp"))


def test_second_writer_is_refused(tmp_path: Path) -> None:
    lock = lock_output(tmp_path)
    try:
        with pytest.raises(OutputLockedError, match="another tipnlp run"):
            lock_output(tmp_path)
    finally:
        lock.release()
    lock_output(tmp_path).release()


def test_failing_segmenter_becomes_a_failure_row(tmp_path: Path, fake_components: object) -> None:
    from tipnlp.tagging import Components

    def explode(text: str, language: str | None = None) -> list[object]:
        if "boom" in text:
            raise ValueError("cannot split")
        return fake_components.segment(text, language)  # type: ignore[attr-defined]

    comps = Components(
        tagger=fake_components.tagger,  # type: ignore[attr-defined]
        segment=explode,  # type: ignore[arg-type]
        extract_penalty=fake_components.extract_penalty,  # type: ignore[attr-defined]
    )
    docs = _write_docs(
        tmp_path / "d.jsonl",
        [{"doc_id": "x", "text": "boom."}, {"doc_id": "y", "text": "Fine. Also fine."}],
    )
    summary = tag_jsonl(docs, tmp_path / "out", _settings(), comps=comps)
    rows = {r["doc_id"]: r for r in io.read_table(tmp_path / "out", "documents").to_pylist()}
    assert rows["x"]["status"] == "tag_error" and "cannot split" in rows["x"]["error"]
    assert rows["y"]["status"] == "ok" and summary.sentences == 2


def test_release_state_runs_once_per_text_budget(tmp_path: Path, fake_components: object) -> None:
    """The NLP state is released after each budget of tagged text; done parts do not count."""
    calls: list[int] = []
    comps = fake_components
    comps.release_state = lambda: calls.append(1)  # type: ignore[attr-defined]
    comps.release_every_chars = 1  # type: ignore[attr-defined]
    docs = _write_docs(tmp_path / "docs.jsonl", DOCS)
    out = tmp_path / "out"
    summary = tag_jsonl(docs, out, _settings(), comps=comps)  # type: ignore[arg-type]
    # Parts: (a, b) with text, (c, bad line) and (no id, repeated id) without.
    assert summary.parts_total == 3 and len(calls) == 1
    tag_jsonl(docs, out, _settings(), comps=comps)  # type: ignore[arg-type]
    assert len(calls) == 1, "parts done before are skipped and release nothing"

    comps.release_every_chars = 10**9  # type: ignore[attr-defined]
    tag_jsonl(docs, tmp_path / "out2", _settings(), comps=comps)  # type: ignore[arg-type]
    assert len(calls) == 1
    assert comps.chars_since_release > 0  # type: ignore[attr-defined]


def test_release_state_runs_when_the_state_grows_too_big(
    tmp_path: Path, fake_components: object
) -> None:
    """Production releases by the size of the NLP state, not by a text budget."""
    from tipnlp.tagging import nlp_state_size, release_nlp_state

    calls: list[int] = []
    sizes = iter([10, 500, 20])
    comps = fake_components
    comps.release_state = lambda: calls.append(1)  # type: ignore[attr-defined]
    comps.release_every_chars = 10**9  # type: ignore[attr-defined]
    comps.state_size = lambda: next(sizes)  # type: ignore[attr-defined]
    comps.release_above = 100  # type: ignore[attr-defined]
    tag_jsonl(
        _write_docs(tmp_path / "docs.jsonl", DOCS), tmp_path / "out", _settings(), comps=comps
    )  # type: ignore[arg-type]
    assert calls == [1]  # only after the part whose state size was 500

    from tipnlp.nlp import rules

    rules.rule_hits("Police arrested three traffickers.")
    before = nlp_state_size()
    assert before > 0
    rules.rule_hits("Zorblax quiffed vendrous plimths trafficking.")
    assert nlp_state_size() > before  # new words add vocabulary entries
    release_nlp_state()
    assert nlp_state_size() == 0


def test_releasing_the_nlp_pipelines_changes_no_row(tmp_path: Path) -> None:
    """Rebuilding the spaCy pipelines mid-run (bounded memory) gives the same tables."""
    from tipnlp.nlp import segment
    from tipnlp.tagging import default_components, release_nlp_state

    texts = [
        (
            "en",
            "Article 3. Trafficking in persons shall mean the recruitment of persons by "
            "force. (a) Whoever commits it shall be punished by imprisonment of 5 to 12 "
            "years. Police in Nigeria arrested 4 men; the U.S. Embassy helped.",
        ),
        (
            "es",
            "Artículo 2. La trata de personas será castigada con pena de prisión de 5 a "
            "8 años. La policía de México detuvo a tres hombres.",
        ),
        (
            "de",
            "§ 232 Menschenhandel. (1) Wer eine andere Person ausbeutet, wird mit "
            "Freiheitsstrafe von sechs Monaten bis zu zehn Jahren bestraft.",
        ),
        (None, "Victims were referred to a shelter in Thailand. They received legal aid."),
    ]
    docs = [
        {"doc_id": f"d{i}-{k}", "language": lang, "title": f"Case {i}", "text": f"{text} Ref {k}."}
        for k in range(3)
        for i, (lang, text) in enumerate(texts)
    ]
    path = _write_docs(tmp_path / "docs.jsonl", docs)
    tables: list[dict[str, list[dict[str, object]]]] = []
    for budget in (10**12, 1):
        release_nlp_state()
        comps = default_components(_settings(batch=3), "rules")
        comps.release_every_chars = budget
        out = tmp_path / f"out-{budget}"
        tag_jsonl(path, out, _settings(batch=3), comps=comps)
        if budget == 1:
            # The last part released the pipelines: nothing is cached now.
            assert segment.get_nlp.cache_info().currsize == 0
        tables.append(
            {
                t: io.read_table(out, t).drop_columns(["fetched_at"]).to_pylist()
                if t == "documents"
                else io.read_table(out, t).to_pylist()
                for t in ("documents", "sentences", "sentence_labels", "entities")
            }
        )
    assert tables[0]["sentences"] and tables[0]["entities"] and tables[0]["sentence_labels"]
    assert tables[0] == tables[1]


class _NextTagger:
    """A retrained tagger: another version, and it also calls 'prison' a penalty."""

    version = "fake-2"

    def predict(self, items: Sequence[object]) -> list[object]:
        from tests.conftest import FakeTagger

        out = FakeTagger().predict(items)
        for item, pred in zip(items, out, strict=True):
            if "prison" in item.text and "penalty" not in pred.labels:  # type: ignore[attr-defined]
                pred.labels = sorted([*pred.labels, "penalty"])  # type: ignore[attr-defined]
        return out


def _labels_by_version(out: Path) -> set[tuple[str, str]]:
    rows = io.read_table(out, "sentence_labels").to_pylist()
    return {(r["label"], r["model_version"]) for r in rows}


def test_retag_rewrites_parts_another_model_tagged(tmp_path: Path, fake_components: object) -> None:
    from dataclasses import replace

    from tipnlp.tagging import Components

    docs = _write_docs(tmp_path / "docs.jsonl", DOCS)
    out = tmp_path / "out"
    first = tag_jsonl(docs, out, _settings(), comps=fake_components)  # type: ignore[arg-type]
    n_docs = io.read_table(out, "documents").num_rows
    n_sent = io.read_table(out, "sentences").num_rows
    assert {v for _, v in _labels_by_version(out)} == {"fake-1"}

    newer = replace(fake_components, tagger=_NextTagger())  # type: ignore[type-var]
    assert isinstance(newer, Components)
    kept = tag_jsonl(docs, out, _settings(), comps=newer)
    assert kept.parts_done_before == kept.parts_total and kept.parts_retagged == 0
    assert {v for _, v in _labels_by_version(out)} == {"fake-1"}

    from tipnlp.tagging import part_versions, staged_parts

    stale = [p for p in staged_parts(out) if part_versions(out, p) == {"fake-1"}]
    redone = tag_jsonl(docs, out, _settings(), comps=newer, retag=True)
    assert redone.parts_retagged == len(stale) > 0  # parts without sentences stay as they are
    assert redone.parts_retagged + redone.parts_done_before == first.parts_total
    assert io.read_table(out, "documents").num_rows == n_docs  # replaced, not appended
    assert io.read_table(out, "sentences").num_rows == n_sent
    labels = _labels_by_version(out)
    assert {v for _, v in labels} == {"fake-2"}
    assert ("penalty", "fake-2") in labels

    again = tag_jsonl(docs, out, _settings(), comps=newer, retag=True)
    assert again.parts_retagged == 0  # already the current version


def test_retag_killed_half_way_leaves_the_part_pending(
    tmp_path: Path, fake_components: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dataclasses import replace

    from tipnlp import tagging

    docs = _write_docs(tmp_path / "docs.jsonl", DOCS)
    out = tmp_path / "out"
    tag_jsonl(docs, out, _settings(), comps=fake_components)  # type: ignore[arg-type]
    newer = replace(fake_components, tagger=_NextTagger())  # type: ignore[type-var]
    part = next(p for p in split_jsonl(docs, out, 2) if tagging.part_versions(out, p) == {"fake-1"})

    real_write = io.write_part

    def dies_before_documents(out_dir: object, table: str, *args: object) -> object:
        if table == "documents":
            raise KeyboardInterrupt("killed")
        return real_write(out_dir, table, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(io, "write_part", dies_before_documents)
    with pytest.raises(KeyboardInterrupt):
        tagging.tag_part(part, out, newer, retag=True)
    monkeypatch.setattr(io, "write_part", real_write)
    assert part in pending_parts(out)  # not done: a plain rerun finishes it
    tag_jsonl(docs, out, _settings(), comps=newer)
    assert tagging.part_versions(out, part) == {"fake-2"}
    assert not pending_parts(out)
