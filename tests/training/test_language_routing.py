"""Which tagger decides each language: chosen on held-out training predictions."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from tipnlp.nlp.tagger import MIN_LANGUAGE_SENTENCES, covered_languages
from tipnlp.training.hybrid import language_routing


def _block(n: int, model_right: bool, rules_right: bool) -> tuple[np.ndarray, ...]:
    """``n`` sentences, one true label each; each tagger gets all or none of them right."""
    y = np.zeros((n, 14), dtype=bool)
    y[:, 0] = True
    wrong = np.zeros((n, 14), dtype=bool)
    wrong[:, 1] = True
    return y, (y if model_right else wrong), (y if rules_right else wrong)


def test_routing_sends_each_language_to_the_better_tagger() -> None:
    n = MIN_LANGUAGE_SENTENCES
    parts = {
        "en": _block(n, model_right=True, rules_right=False),
        "es-ES": _block(n, model_right=False, rules_right=True),  # region tag dropped
        "fr": _block(n, model_right=True, rules_right=True),  # a tie goes to the model
        "pt": _block(n - 1, model_right=True, rules_right=False),  # too few sentences
        None: _block(5, model_right=True, rules_right=False),  # unknown: not routed
    }
    langs = [k for k, (y, _, _) in parts.items() for _ in range(len(y))]
    y, model, rules = (np.concatenate([v[i] for v in parts.values()]) for i in range(3))

    out = language_routing(langs, y, model, rules)

    assert set(out) == {"en", "es", "fr", "pt"}
    assert {k: v["tagger"] for k, v in out.items()} == {
        "en": "model",
        "es": "rules",
        "fr": "model",
        "pt": "rules",
    }
    assert out["en"]["model_micro_f1"] == 1.0 and out["en"]["rules_micro_f1"] == 0.0
    assert out["pt"]["sentences"] == n - 1


def test_covered_languages_follow_the_recorded_routing(tmp_path: Path) -> None:
    record: dict[str, object] = {"languages": {"en": 400, "es": 120, "de": 10}}
    (tmp_path / "training_data.json").write_text(json.dumps(record))
    # a model folder from before the routing: every language with enough sentences
    assert covered_languages(tmp_path) == {"en", "es"}
    record["model_languages"] = ["en"]
    (tmp_path / "training_data.json").write_text(json.dumps(record))
    assert covered_languages(tmp_path) == {"en"}
