"""Uncertainty, MMR diversity, export skipping, and annotator agreement."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tipnlp.annotation.agreement import agreement
from tipnlp.annotation.candidates import AnnotatedIndex, Candidate
from tipnlp.annotation.export import export_tasks
from tipnlp.annotation.sampling import label_closeness, select_mmr, tfidf_vectors
from tipnlp.errors import AnnotationError


def test_closeness_is_relative_to_each_threshold() -> None:
    assert label_closeness(0.3, 0.3) == pytest.approx(1.0)
    assert label_closeness(0.0, 0.5) == pytest.approx(0.0)
    assert label_closeness(1.0, 0.5) == pytest.approx(0.0)
    assert label_closeness(0.2, 0.4) == pytest.approx(0.5)


def test_mmr_spreads_picks_over_near_copies() -> None:
    import numpy as np

    texts = ["the shelter lacks beds for victims today"] * 6 + [
        "prosecutors charged a recruiter",
        "a new visa protects survivors",
        "the ministry trained border guards",
    ]
    scores = np.array([0.9] * 6 + [0.7, 0.7, 0.7])
    vecs = tfidf_vectors(texts)
    assert sorted(select_mmr(scores, vecs, 4, diversity=0.0)) == [0, 1, 2, 3]
    picked = select_mmr(scores, vecs, 4, diversity=0.5)
    assert sum(1 for i in picked if i < 6) == 1 and len(set(picked)) == 4


def test_export_writes_tasks_and_config(tmp_path: Path) -> None:
    from annotation.conftest import ScriptedTagger  # type: ignore[import-not-found]

    cands = [
        Candidate("d", i, i * 50, i * 50 + 40, text)
        for i, text in enumerate(
            [
                "Police arrested two recruiters at the port.",
                "Police arrested two recruiters at the port.",
                "The budget for shelters was cut by half.",
                "It rained in the afternoon.",
            ]
        )
    ]
    index = AnnotatedIndex()
    index.add("It rained in the afternoon.", None, None, None)
    tagger = ScriptedTagger(
        lambda t: {"arrest": 0.55} if "arrested" in t else {"resource_gap": 0.9}
    )
    report = export_tasks(cands, tagger, tmp_path / "tasks.json", n=5, annotated=index)
    assert (report.already_annotated, report.repeats, report.selected) == (1, 1, 2)
    tasks = json.loads((tmp_path / "tasks.json").read_text())
    assert tasks[0]["data"]["text"].startswith("Police")  # most uncertain first
    assert (tmp_path / "tasks.config.xml").read_text().startswith("<View>")
    with pytest.raises(AnnotationError, match="no sentence left"):
        export_tasks(cands[3:], tagger, tmp_path / "t2.json", annotated=index)


def test_kappa_and_f1_hand_computed() -> None:
    def row(task: int, who: str, labels: list[str]) -> dict[str, Any]:
        return {"task_id": str(task), "annotator": who, "labels": labels, "text": f"s{task}"}

    rows = [
        row(1, "a", ["arrest"]),
        row(1, "b", ["arrest"]),
        row(2, "a", ["arrest"]),
        row(2, "b", []),
        row(3, "a", []),
        row(3, "b", []),
        row(4, "a", []),
        row(4, "b", []),
        row(5, "a", ["penalty"]),
    ]
    rep = agreement(rows)
    assert rep.multi_annotated == 4 and rep.pairs == 4
    arrest = next(la for la in rep.per_label if la.label == "arrest")
    assert arrest.kappa == pytest.approx(0.5)  # po 0.75, pe 0.5
    assert arrest.f1 == pytest.approx(2 / 3)
    penalty = next(la for la in rep.per_label if la.label == "penalty")
    assert penalty.kappa is None and penalty.f1 is None
    assert [d.task_id for d in rep.disagreements] == ["2"]
    assert rep.disagreements[0].labels == ["arrest"]
