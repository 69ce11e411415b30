"""Fixtures for the annotation tests: a tagger whose scores we choose, and exports."""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from tipnlp.labels import LABELS, SCHEME_VERSION
from tipnlp.nlp.types import Prediction, SentenceInput


class ScriptedTagger:
    """Scores each sentence with ``score_of(text)`` for one label, 0.02 for the rest."""

    version = "scripted-1"

    def __init__(self, score_of: Callable[[str], dict[str, float]]) -> None:
        self.score_of = score_of
        self.seen: list[SentenceInput] = []

    def predict(self, items: Sequence[SentenceInput]) -> list[Prediction]:
        self.seen.extend(items)
        out = []
        for item in items:
            scores = dict.fromkeys(LABELS, 0.02)
            scores.update(self.score_of(item.text))
            out.append(
                Prediction(
                    scores=scores,
                    labels=[n for n in LABELS if scores[n] >= 0.5],
                    thresholds=dict.fromkeys(LABELS, 0.5),
                    tagger="model",
                )
            )
        return out


def ls_task(
    task_id: int,
    text: str,
    annotations: list[dict[str, Any]],
    doc_id: str = "d1",
    sent_id: int = 0,
    start: int = 0,
    scheme: int = SCHEME_VERSION,
) -> dict[str, Any]:
    """A task as Label Studio's JSON export writes it (fields tipnlp reads)."""
    return {
        "id": task_id,
        "data": {
            "text": text,
            "context": "A headline\nThe sentence before.",
            "doc_id": doc_id,
            "sent_id": sent_id,
            "start": start,
            "end": start + len(text),
            "url": "https://example.org/story",
            "label_scheme": scheme,
        },
        "annotations": annotations,
        "predictions": [],
    }


def ls_annotation(
    ann_id: int,
    labels: list[str],
    user: int = 1,
    when: str = "2026-11-20T10:00:00.000000Z",
    **figures: Any,
) -> dict[str, Any]:
    """One submitted annotation with the ``labels`` choice and optional penalty figures."""
    from tipnlp.annotation.labelstudio import annotation_result

    return {
        "id": ann_id,
        "completed_by": user,
        "result": annotation_result(labels, figures),
        "was_cancelled": False,
        "created_at": when,
        "updated_at": when,
    }


@pytest.fixture
def ls() -> Any:
    """The export builders, as a fixture so test modules need not import conftest."""
    import types

    return types.SimpleNamespace(task=ls_task, annotation=ls_annotation)


@pytest.fixture
def export_tasks_list() -> list[dict[str, Any]]:
    """Three tasks in our own words: a penalty clause, an arrest report, a none."""
    tasks = [
        ls_task(
            11,
            "Anyone who recruits a person for forced labour faces from 3 to 12 years in prison.",
            [
                ls_annotation(
                    101,
                    ["criminalization", "penalty"],
                    prison_min_years=3,
                    prison_max_years=12,
                )
            ],
            sent_id=0,
            start=0,
        ),
        ls_task(
            12,
            "Officers detained two farm owners after finding workers locked in a barn.",
            [ls_annotation(102, ["arrest"])],
            sent_id=1,
            start=90,
        ),
        ls_task(
            13,
            "The weather was mild for the season.",
            [ls_annotation(103, ["none"])],
            sent_id=2,
            start=170,
        ),
    ]
    return copy.deepcopy(tasks)
