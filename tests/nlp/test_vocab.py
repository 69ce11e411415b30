"""The lean shared vocabulary changes no token, no rule hit and no entity."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import spacy

from tipnlp.nlp import entities, rules
from tipnlp.nlp.vocab import KEPT_ATTRS, blank, shared_nlp, shared_vocab

GOLD = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "gold"


def _gold_texts(limit: int = 120) -> list[str]:
    path = GOLD / "dev.jsonl"
    if not path.is_file():
        pytest.skip("../shared gold data not beside the checkout")
    lines = path.read_text(encoding="utf-8").splitlines()[:limit]
    texts = [json.loads(line)["text"] for line in lines]
    return [*texts, "THREE men, 2 women; Jordan Smith (Georgia) — ½ of $1,000.50 e-mail@x.org"]


def test_one_vocabulary_serves_both_pipelines_without_language() -> None:
    xx, en = blank("xx"), blank("en")
    assert xx.vocab is en.vocab is shared_vocab()
    assert set(shared_vocab().lex_attr_getters) == KEPT_ATTRS
    assert shared_vocab().lang == ""
    entities._gazetteer.cache_clear()
    assert rules._nlp() is shared_nlp() is entities._gazetteer().nlp  # one tokenizer cache


@pytest.mark.parametrize("lang", ["xx", "en"])
def test_tokens_and_kept_attributes_equal_spacy_blank(lang: str) -> None:
    ours, ref = blank(lang), spacy.blank(lang)
    for text in _gold_texts():
        got = [
            (t.text, t.whitespace_, t.lower_, t.is_alpha, t.is_title) for t in ours.make_doc(text)
        ]
        want = [
            (t.text, t.whitespace_, t.lower_, t.is_alpha, t.is_title) for t in ref.make_doc(text)
        ]
        assert got == want, text[:80]
    if lang == "xx":  # the rules' "#" reads LIKE_NUM on xx tokens
        text = _gold_texts()[-1]
        assert [t.like_num for t in ours.make_doc(text)] == [t.like_num for t in ref.make_doc(text)]


def test_gazetteer_finds_the_same_entities_as_with_spacy_blank_en(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The shared ``xx`` tokenizer and lean vocabulary change no entity (gold + tricky text)."""
    texts = _gold_texts()
    texts.append("The U.S. and the U.K. signed; Jan. 5 a.m. talks in Washington, D.C. didn't.")
    entities._gazetteer.cache_clear()
    got = [entities.find_entities(t) for t in texts]
    monkeypatch.setattr(entities, "shared_nlp", lambda: spacy.blank("en"))
    entities._gazetteer.cache_clear()
    try:
        want = [entities.find_entities(t) for t in texts]
    finally:
        entities._gazetteer.cache_clear()
    assert got == want
    assert sum(map(len, want)) > 100  # the sample names many places and agencies
    assert {e.code for e in want[-1]} >= {"US", "GB"}
