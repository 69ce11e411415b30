"""Loading gold and annotation files, splitting by document, the TF-IDF baseline."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tipnlp.errors import InputError
from tipnlp.labels import LABEL2ID, SCHEME_VERSION
from tipnlp.nlp.types import SentenceInput
from tipnlp.training.data import (
    doc_title,
    document_sample,
    group_split,
    label_matrix,
    load_annotation_file,
    load_gold,
    load_training_examples,
    summarize,
    to_dataset,
)


def _write(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


def _doc(
    doc_id: str, text: str, spans: list[tuple[int, int, list[str]]], lang: str = "en"
) -> dict[str, object]:
    return {
        "doc_id": doc_id,
        "language": lang,
        "kind": "news",
        "text": text,
        "sentences": [{"start": s, "end": e, "labels": lab} for s, e, lab in spans],
    }


def test_doc_title() -> None:
    assert doc_title("\n  Raid on a farm \nBody text.") == "Raid on a farm"
    assert doc_title("x" * 300 + "\nmore") is None
    assert doc_title("   ") is None


def test_load_gold_context_and_labels(tmp_path: Path) -> None:
    text = "Farm raid\nPolice freed ten\n  workers. The owner was charged."
    p = _write(
        tmp_path / "g.jsonl",
        [_doc("d1", text, [(0, 9, []), (10, 37, ["arrest"]), (38, 60, ["prosecution"])])],
    )
    ex = load_gold(p)
    assert [e.text for e in ex] == [
        "Farm raid",
        "Police freed ten workers.",
        "The owner was charged.",
    ]
    assert ex[1].title == "Farm raid" and ex[1].prev == "Farm raid"
    assert ex[2].prev == "Police freed ten workers."
    assert ex[1].labels == ("arrest",)
    y = label_matrix(ex)
    assert y[2, LABEL2ID["prosecution"]] == 1 and y.sum() == 2


def test_load_gold_rejects_bad_rows(tmp_path: Path) -> None:
    p = _write(tmp_path / "bad.jsonl", [_doc("d1", "Short.", [(0, 99, [])])])
    with pytest.raises(InputError, match="d1"):
        load_gold(p)
    p = _write(tmp_path / "bad2.jsonl", [_doc("d2", "Short.", [(0, 6, ["smuggling"])])])
    with pytest.raises(InputError, match="unknown label"):
        load_gold(p)


def test_annotations_override_gold_and_check_scheme(tmp_path: Path) -> None:
    gold = _write(
        tmp_path / "train.jsonl",
        [_doc("d1", "A raid. A trial.", [(0, 7, ["arrest"]), (8, 16, [])])],
    )
    ann_dir = tmp_path / "annotations"
    ann_dir.mkdir()
    _write(
        ann_dir / "round1.jsonl",
        [
            {
                "task_id": "t1",
                "doc_id": "d1",
                "text": "A trial.",
                "context": "A raid.",
                "labels": ["prosecution"],
                "label_scheme": SCHEME_VERSION,
            },
            {"task_id": "t2", "doc_id": "n9", "text": "New sentence.", "labels": []},
        ],
    )
    ex = load_training_examples(gold, ann_dir)
    by_text = {e.text: e for e in ex}
    assert len(ex) == 3
    assert by_text["A trial."].labels == ("prosecution",)
    assert by_text["A trial."].context == "A raid."
    s = summarize(ex)
    assert s.files == {str(gold): 1, str(ann_dir / "round1.jsonl"): 2}
    assert s.label_counts["prosecution"] == 1 and s.none_sentences == 1
    _write(
        ann_dir / "old.jsonl",
        [{"task_id": "x", "text": "Old.", "labels": [], "label_scheme": SCHEME_VERSION + 1}],
    )
    with pytest.raises(InputError, match="label_scheme"):
        load_annotation_file(ann_dir / "old.jsonl")


def test_group_split_keeps_documents_together(tmp_path: Path) -> None:
    rows = [
        _doc(f"d{i}", "One. Two. Three.", [(0, 4, []), (5, 9, []), (10, 16, [])]) for i in range(10)
    ]
    ex = load_gold(_write(tmp_path / "g.jsonl", rows))
    fit, ho = group_split(ex, 0.2, seed=1)
    assert sorted(fit + ho) == list(range(30))
    assert {ex[i].doc_id for i in fit}.isdisjoint({ex[i].doc_id for i in ho})
    assert len(ho) == 6
    assert group_split(ex, 0.2, seed=1) == (fit, ho)
    assert group_split(ex, 0.0, seed=1)[1] == []


def test_to_dataset(tmp_path: Path) -> None:
    ex = load_gold(_write(tmp_path / "g.jsonl", [_doc("d", "A raid.", [(0, 7, ["arrest"])])]))
    ds = to_dataset(ex)
    assert ds.num_rows == 1 and ds[0]["labels"][LABEL2ID["arrest"]] == 1.0


def _synthetic(tmp_path: Path) -> Path:
    """Sentences written for this test: penalty vs arrest vs none, 30 documents."""
    rows = []
    for i in range(30):
        a = f"Offenders shall be punished by imprisonment of {i + 2} years."
        b = f"Police arrested {i + 3} suspects in the raid on Monday."
        c = f"The weather in region {i} was mild and dry this week."
        text = f"{a} {b} {c}"
        rows.append(
            _doc(
                f"d{i}",
                text,
                [
                    (0, len(a), ["penalty"]),
                    (len(a) + 1, len(a) + 1 + len(b), ["arrest"]),
                    (len(a) + len(b) + 2, len(text), []),
                ],
            )
        )
    return _write(tmp_path / "train.jsonl", rows)


def test_tfidf_baseline_learns_and_roundtrips(tmp_path: Path) -> None:
    from tipnlp.training.baselines import TfidfTagger

    ex = load_gold(_synthetic(tmp_path))
    tagger = TfidfTagger.fit(ex, seed=3, folds=3)
    preds = tagger.predict(
        [
            SentenceInput("The offender shall be punished by imprisonment of 9 years."),
            SentenceInput("Police arrested four suspects in a raid."),
            SentenceInput("The weather was mild."),
        ]
    )
    assert "penalty" in preds[0].labels and "arrest" not in preds[0].labels
    assert "arrest" in preds[1].labels
    assert preds[2].labels == []
    path = tagger.save(tmp_path / "b" / "tfidf.pkl")
    again = TfidfTagger.load(path)
    p2 = again.predict([SentenceInput("Police arrested four suspects in a raid.")])
    assert p2[0].scores == preds[1].scores
    assert again.thresholds == tagger.thresholds


def test_label_pos_weight_favours_rare_labels_within_bounds() -> None:
    from tipnlp.training.data import label_pos_weight

    y = np.zeros((401, 3), dtype=int)
    y[:4, 0] = 1  # rare: sqrt(397/4) ~ 9.96
    y[:100, 1] = 1  # sqrt(301/100) ~ 1.73
    y[:300, 2] = 1  # common: sqrt(101/300) < 1 -> 1
    w = label_pos_weight(y)
    assert w == pytest.approx([np.sqrt(397 / 4), np.sqrt(301 / 100), 1.0])
    y[:, 0] = 0
    y[0, 0] = 1  # one positive in 401: capped at 10
    assert label_pos_weight(y)[0] == 10.0


def test_document_sample_is_seeded_nested_and_whole_documents() -> None:
    ids = [f"D{i:03d}" for i in range(40)] * 3  # one id per sentence: repeats
    half = document_sample(ids, 0.5, seed=13)
    assert len(half) == 20 and len(set(half)) == 20  # distinct documents, not sentences
    assert document_sample(ids, 0.5, seed=13) == half  # the same seed, the same sample
    assert document_sample(ids, 0.5, seed=14) != half
    quarter = document_sample(ids, 0.25, seed=13)
    assert len(quarter) == 10 and set(quarter) <= set(half)  # nested: a curve adds data
    assert sorted(document_sample(ids, 1.0, seed=13)) == sorted(set(ids))
    assert len(document_sample(ids[:3], 0.01, seed=13)) == 1  # never empty
    for bad in (0.0, -0.5, 1.5):
        with pytest.raises(ValueError, match="fraction"):
            document_sample(ids, bad, seed=13)
