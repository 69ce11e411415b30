"""Overlap matching, metrics, calibration and the evaluation loop on hand-made cases."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from tipnlp.labels import LABEL2ID, LABELS
from tipnlp.nlp.types import Prediction, Segment, SentenceInput
from tipnlp.training.calibration import (
    apply_platt,
    best_thresholds,
    expected_calibration_error,
    fit_platt,
)
from tipnlp.training.evaluate import evaluate_tagger, match_spans, multilabel_metrics


def _row(*names: str) -> list[int]:
    v = [0] * len(LABELS)
    for n in names:
        v[LABEL2ID[n]] = 1
    return v


def test_match_spans_rule() -> None:
    text = "Aaaa bbbb cccc. Dddd eeee.\nffff gggg."
    # gold: two sentences; ours: one long sentence covering both, plus a tiny tail piece
    gold = [(0, 15), (16, 37)]
    ours = [(0, 26), (27, 37)]
    m = match_spans(text, gold, ours)
    assert m[0] == [0]  # gold 0 entirely inside our 0
    # gold 1 overlaps ours 0 by "Dddd eeee." (9 solid chars of 17) and ours 1 fully
    assert m[1] == [0, 1]
    # an overlap that is a small share of both spans does not count
    assert match_spans("x" * 100, [(0, 50)], [(45, 100)]) == [[]]


def test_multilabel_metrics_hand_computed() -> None:
    y = np.array([_row("penalty"), _row("penalty", "arrest"), _row(), _row("arrest")])
    p = np.array([_row("penalty"), _row("penalty"), _row("arrest"), _row()])
    per, micro, macro, any_label = multilabel_metrics(y, p)
    assert per["penalty"].f1 == 1.0 and per["penalty"].support == 2
    # arrest: tp 0, fp 1, fn 2
    assert per["arrest"].f1 == 0.0 and per["arrest"].predicted == 1
    # micro: tp 2, fp 1, fn 2 -> 4/7
    assert micro == pytest.approx(4 / 7, abs=1e-4)
    assert macro == pytest.approx(1 / 14, abs=1e-4)
    # any-label: gold [1,1,0,1], pred [1,1,1,0] -> tp 2 fp 1 fn 1 -> 2/3
    assert any_label.f1 == pytest.approx(2 / 3, abs=1e-4)


def test_thresholds_and_calibration() -> None:
    rng = np.random.default_rng(0)
    n = 400
    y = np.zeros((n, len(LABELS)))
    y[:, 0] = rng.random(n) < 0.3
    logits = np.where(y == 1, 1.0, -1.0) * 2 + rng.normal(0, 1.5, y.shape)
    # two Gaussians (means +-2, sd 1.5): the true log-odds slope is 4 / 1.5**2;
    # a model overconfident by a factor 3 needs a = slope / 3
    params = fit_platt(y, logits * 3)
    assert params[LABELS[0]]["a"] == pytest.approx(4 / 1.5**2 / 3, rel=0.2)
    # labels without positives keep the identity
    assert params[LABELS[1]] == {"a": 1.0, "b": 0.0}
    before = expected_calibration_error(y[:, :1], apply_platt(logits * 3, None)[:, :1])
    after = expected_calibration_error(y[:, :1], apply_platt(logits * 3, params)[:, :1])
    assert after < before
    th = best_thresholds(y, apply_platt(logits, None))
    assert 0.05 <= th[LABELS[0]] <= 0.95
    assert th[LABELS[1]] == 0.5


def test_ece_perfect_and_worst() -> None:
    y = np.array([1, 0, 1, 0])
    assert expected_calibration_error(y, y.astype(float)) == 0.0
    assert expected_calibration_error(y, 1 - y.astype(float)) == pytest.approx(1.0)


class _KeywordTagger:
    """'arrested' -> arrest; 'years' -> penalty; anything else none."""

    version = "kw-1"

    def predict(self, items: Sequence[SentenceInput]) -> list[Prediction]:
        out = []
        for it in items:
            labels = [n for n, k in (("penalty", "years"), ("arrest", "arrested")) if k in it.text]
            scores = {n: (0.9 if n in labels else 0.1) for n in LABELS}
            out.append(Prediction(scores=scores, labels=labels, thresholds={}, tagger="model"))
        return out


def _split_on_periods(text: str, language: str | None = None) -> list[Segment]:
    segs, start = [], 0
    for i, c in enumerate(text):
        if c == ".":
            segs.append(Segment(start, i + 1, text[start : i + 1]))
            start = i + 2
    return segs


@pytest.fixture
def small_gold(tmp_path: Path) -> Path:
    t1 = "Raid news\nPolice arrested five men. They face up to 10 years in prison. Rain fell."
    s1 = [
        {"start": 0, "end": 9, "labels": []},
        {"start": 10, "end": 35, "labels": ["arrest"]},
        {
            "start": 36,
            "end": 72,
            "labels": ["penalty"],
            "prison_min_years": None,
            "prison_max_years": 10,
            "prison_life": False,
        },
        {"start": 73, "end": 83, "labels": []},
    ]
    t2 = "Drug case. Officers arrested a cocaine dealer."
    s2 = [{"start": 0, "end": 10, "labels": []}, {"start": 11, "end": 46, "labels": []}]
    p = tmp_path / "gold.jsonl"
    p.write_text(
        "\n".join(
            json.dumps(d)
            for d in (
                {"doc_id": "a", "language": "en", "kind": "news", "text": t1, "sentences": s1},
                {"doc_id": "b", "language": "en", "kind": "negative", "text": t2, "sentences": s2},
            )
        )
        + "\n",
        encoding="utf-8",
    )
    return p


def test_evaluate_tagger_counts(small_gold: Path) -> None:
    from tipnlp.nlp.penalties import extract_penalty

    rep = evaluate_tagger(
        _KeywordTagger(), small_gold, segmenter=_split_on_periods, extract_penalty=extract_penalty
    )
    assert rep.sentences == 6 and rep.documents == 2
    # the heading "Raid news" is glued to the first sentence by the period splitter,
    # so it inherits "arrest": one false positive; the hard negative adds another.
    assert rep.per_label["arrest"].support == 1
    assert rep.per_label["arrest"].recall == 1.0
    assert rep.per_label["arrest"].predicted == 3
    assert rep.per_label["penalty"].f1 == 1.0
    assert rep.negatives == {
        "sentences": 2,
        "false_positive_sentences": 1,
        "false_positive_labels": 1,
    }
    assert rep.penalty["sentences_with_term"] == 1
    assert rep.penalty["exact"] == 1
    d = rep.to_dict()
    assert d["per_label"]["penalty"]["f1"] == 1.0


def test_evaluate_with_gold_boundaries(small_gold: Path) -> None:
    rep = evaluate_tagger(
        _KeywordTagger(),
        small_gold,
        gold_boundaries=True,
        extract_penalty=lambda s: None if False else _no_penalty(),
    )
    # gold boundaries: the heading is separate, so arrest has one FP (the dealer)
    assert rep.per_label["arrest"].predicted == 2
    assert rep.boundaries == "gold"
    assert rep.penalty["exact"] == 0


def _no_penalty() -> object:
    from tipnlp.nlp.penalties import PenaltyFigures

    return PenaltyFigures()


def test_evaluate_gives_the_tagger_what_tagging_gives_it(small_gold: Path) -> None:
    """Document kind, title, previous sentence and a document key, as `tipnlp tag` passes them."""
    seen: list[SentenceInput] = []

    class Recording:
        version = "recording"

        def predict(self, items: list[SentenceInput]) -> list[Prediction]:
            seen.extend(items)
            th = dict.fromkeys(LABELS, 0.5)
            return [Prediction(scores=dict.fromkeys(LABELS, 0.0), labels=[], thresholds=th)] * len(
                items
            )

    evaluate_tagger(
        Recording(), small_gold, gold_boundaries=True, extract_penalty=lambda s: _no_penalty()
    )
    assert [it.kind for it in seen] == ["news"] * 4 + ["negative"] * 2
    assert len({it.doc for it in seen[:4]}) == 1 and seen[0].doc != seen[4].doc
    assert seen[2].prev == seen[1].text and seen[4].prev is None
    # without context the tagger sees each sentence on its own
    seen.clear()
    evaluate_tagger(
        Recording(),
        small_gold,
        gold_boundaries=True,
        use_context=False,
        extract_penalty=lambda s: _no_penalty(),
    )
    assert all(it.prev is None and it.doc is None for it in seen)
