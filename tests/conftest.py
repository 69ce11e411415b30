"""Shared fixtures: environment for offline, quiet runs and small fake components."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
GOLD = SHARED / "data" / "gold"

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "warning")


@pytest.fixture
def gold_dir() -> Path:
    """The shared gold folder; skips when ../shared is not beside the checkout."""
    if not (GOLD / "dev.jsonl").is_file():
        pytest.skip(f"gold data not found at {GOLD}")
    return GOLD


class FakeTagger:
    """Labels a sentence 'arrest' when it says 'arrested', 'penalty' when it says 'years'."""

    version = "fake-1"

    def predict(self, items: Sequence[object]) -> list[object]:
        from tipnlp.labels import LABELS
        from tipnlp.nlp.types import Prediction

        out = []
        for item in items:
            text = item.text  # type: ignore[attr-defined]
            labels = [
                name for name, cue in (("penalty", "years"), ("arrest", "arrested")) if cue in text
            ]
            scores = {name: (0.9 if name in labels else 0.1) for name in LABELS}
            out.append(
                Prediction(
                    scores=scores,
                    labels=[n for n in LABELS if n in labels],
                    thresholds=dict.fromkeys(LABELS, 0.5),
                    sources=dict.fromkeys(labels, "model"),
                    tagger="model",
                )
            )
        return out


def fake_segment(text: str, language: str | None = None) -> list[object]:
    """Split after '.', keeping exact offsets; enough to test the stage around it."""
    from tipnlp.nlp.types import Segment

    segs = []
    for m in re.finditer(r"[^.]+\.?", text):
        raw = m.group(0)
        lead = len(raw) - len(raw.lstrip())
        body = raw.strip()
        if body:
            start = m.start() + lead
            segs.append(Segment(start, start + len(body), body, None))
    return segs


class FakePenalty:
    """Max years = the first number in the sentence."""

    def __init__(self, text: str) -> None:
        nums = re.findall(r"\d+", text)
        self.prison_min_years = None
        self.prison_max_years = float(nums[0]) if nums else None
        self.prison_life = False
        self.death_penalty = False
        self.fine_text = None


@pytest.fixture
def fake_components() -> object:
    """Components with fake segmenter/tagger/penalties: tests the stage, not the NLP."""
    from tipnlp.tagging import Components

    return Components(tagger=FakeTagger(), segment=fake_segment, extract_penalty=FakePenalty)


@pytest.fixture
def prefect_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """A fresh PREFECT_HOME (own ephemeral database) and no external API for a flow test."""
    home = tmp_path_factory.mktemp("prefect-home")
    monkeypatch.setenv("PREFECT_HOME", str(home))
    monkeypatch.delenv("PREFECT_API_URL", raising=False)


def write_small_gold(path: Path, n_docs: int, offset: int = 0) -> Path:
    """A small gold file in our own words: penalties, arrests, a foreign-language doc, none."""
    rows = []
    for i in range(offset, offset + n_docs):
        a = f"Whoever traffics a person shall be punished by imprisonment of {i % 9 + 2} years."
        b = f"Police arrested {i % 7 + 2} suspected traffickers after a raid on a farm."
        c = f"The council discussed road repairs in district {i}."
        title = f"Report {i}"
        text = f"{title}\n{a} {b} {c}"
        o = len(title) + 1
        spans = [
            (0, len(title), []),
            (o, o + len(a), ["criminalization", "penalty"]),
            (o + len(a) + 1, o + len(a) + 1 + len(b), ["arrest"]),
            (o + len(a) + len(b) + 2, len(text), []),
        ]
        sents = []
        for s, e, lab in spans:
            row: dict[str, object] = {"start": s, "end": e, "labels": lab}
            if "penalty" in lab:
                row.update(prison_min_years=None, prison_max_years=float(i % 9 + 2))
            sents.append(row)
        rows.append(
            {
                "doc_id": f"d{i}",
                "language": "en",
                "kind": "statute",
                "text": text,
                "sentences": sents,
            }
        )
    rows.append(
        {
            "doc_id": "pt1",
            "language": "pt",
            "kind": "news",
            "text": "A polícia prendeu dois homens.",
            "sentences": [{"start": 0, "end": 30, "labels": ["arrest"]}],
        }
    )
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def small_gold() -> Callable[..., Path]:
    """:func:`write_small_gold`, for tests that train on a few sentences we wrote."""
    return write_small_gold
