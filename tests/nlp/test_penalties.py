"""Tests for penalty-figure extraction (spec/labels.md, "Penalty figures", case 4)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tipnlp.nlp.penalties import PenaltyFigures, extract_penalty, parse_number

GOLD = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "gold"


def terms(text: str) -> tuple[float | None, float | None, bool]:
    """Return (min, max, life) for ``text``."""
    p = extract_penalty(text)
    return p.prison_min_years, p.prison_max_years, p.prison_life


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # labels.md: "Up to 20 years" is min null, max 20.
        ("The offence carries up to 20 years in prison.", (None, 20, False)),
        # "not less than 8 years" is min 8, max null.
        ("shall be punished by imprisonment of not less than 8 years", (8, None, False)),
        # "from 3 to 10 years" is min 3, max 10.
        ("imprisonment from 3 to 10 years", (3, 10, False)),
        ("imprisonment for a term of 3-10 years", (3, 10, False)),
        ("imprisonment for between 3 and 10 years", (3, 10, False)),
        # A bare "imprisonment for N years" is max N.
        ("shall be imprisoned for 10 years", (None, 10, False)),
        ("imprisonment for a term not exceeding 14 years", (None, 14, False)),
        ("a term not more than twelve years", (None, 12, False)),
        ("liable to imprisonment for ten years", (None, 10, False)),
        # Months are divided by 12.
        ("imprisonment for a term not exceeding 6 months", (None, 0.5, False)),
        ("imprisonment for six months to five years", (0.5, 5, False)),
        ("a term not exceeding 12 months", (None, 1, False)),
        # Several tiers: lowest minimum, highest maximum.
        (
            "imprisonment for not less than one year and not more than three years, and on a "
            "second conviction not less than two years and not more than seven years",
            (1, 7, False),
        ),
        # "Up to life": life true, max null.
        ("The defendants face up to life in prison.", (None, None, True)),
        ("shall be punished by life imprisonment", (None, None, True)),
        ("imprisoned for any term of years or for life, or both", (None, None, True)),
        ("not less than 15 years or for life", (15, None, True)),
        # A punishment by reference has no figures.
        ("shall be punished as provided in subsection (d)", (None, None, False)),
        # Ages are not terms.
        ("if the victim is under 18 years of age, imprisonment for 20 years", (None, 20, False)),
        # Number words with digits in brackets.
        (
            "imprisonment for not less than one(1) year but not more than seven(7) years",
            (1, 7, False),
        ),
        ("Conviction carries a 30-year jail term.", (None, 30, False)),
        (
            "the minimum penalty for child trafficking is seven years' imprisonment",
            (7, None, False),
        ),
        (
            "punishable by imprisonment in the state prison for three, four, or five years",
            (3, 5, False),
        ),
        # Spanish, French, Portuguese.
        ("será sancionado con prisión de 5 a 15 años", (5, 15, False)),
        ("será reprimido con prisión de cuatro (4) a ocho (8) años", (4, 8, False)),
        (
            "Se impondrá prisión no menor de doce ni mayor de veinte años al autor",
            (12, 20, False),
        ),
        ("est puni de dix ans d'emprisonnement", (None, 10, False)),
        ("puni d'une peine d'emprisonnement de dix ans", (None, 10, False)),
        ("est punie de la réclusion criminelle à perpétuité", (None, None, True)),
        ("Pena - reclusão, de 4 (quatro) a 8 (oito) anos, e multa.", (4, 8, False)),
        ("La victima fuere mayor de setenta (70) años.", (None, None, False)),
    ],
)
def test_prison_terms(text: str, expected: tuple[float | None, float | None, bool]) -> None:
    assert terms(text) == expected


def test_death_penalty() -> None:
    assert extract_penalty("shall be punished by death or life imprisonment").death_penalty
    assert extract_penalty("podrá imponerse la pena de muerte").death_penalty
    assert not extract_penalty("if the offence results in the death of the victim").death_penalty


@pytest.mark.parametrize(
    ("text", "fine"),
    [
        ("or a fine of not more than $250,000, or both.", "a fine of not more than $250,000"),
        ("punishable by a fine of 5,000 to 20,000 euros.", "a fine of 5,000 to 20,000 euros"),
        ("liable to 200 penalty units or imprisonment for 2 years", "200 penalty units"),
        ("must be assessed a $10,000 fine.", "a $10,000 fine"),
        ("emprisonnement de dix ans et de 100 000 euros d'amende", "100 000 euros d'amende"),
        ("reclusão de 4 a 8 anos, e multa.", "multa"),
        ("on summary conviction, to a fine not exceeding the statutory maximum", None),
    ],
)
def test_fine_text_as_written(text: str, fine: str | None) -> None:
    got = extract_penalty(text).fine_text
    if fine is None:
        assert got is not None
        assert got.startswith("a fine not exceeding")
    else:
        assert got == fine


def test_no_fine_for_purposes_in_spanish() -> None:
    assert extract_penalty("capta personas con fines de explotación").fine_text is None


def test_empty_sentence_gives_empty_figures() -> None:
    assert extract_penalty("") == PenaltyFigures()
    assert not extract_penalty("The Minister may make regulations.").has_term


@pytest.mark.parametrize(
    ("raw", "value"),
    [("15", 15.0), ("fifteen", 15.0), ("twenty-five", 25.0), ("cuatro (4)", 4.0), ("dix", 10.0)],
)
def test_parse_number(raw: str, value: float) -> None:
    assert parse_number(raw) == value


def test_parse_number_unknown_word() -> None:
    assert parse_number("several") is None


_NUMBER_TOKEN = re.compile(r"\d+(?:[.,]\d+)?|[^\W\d_]+", re.UNICODE)
_DURATION = re.compile(
    r"\b(?:years?|yrs?|months?|años?|anos?|ans|mois|meses|jahre\w*|monate\w*)\b|年",
    re.IGNORECASE,
)


def _numbers_in(text: str) -> set[float]:
    """Numbers written in ``text`` shortly before a duration word, also as months/12."""
    found: set[float] = set()
    for m in _NUMBER_TOKEN.finditer(text):
        value = parse_number(m.group(0))
        if value is None or value <= 0 or not _DURATION.search(text[m.end() : m.end() + 30]):
            continue
        found.update({round(value, 4), round(value / 12, 4)})
    return found


def _gold_penalty_sentences(split: str) -> list[tuple[str, dict[str, object]]]:
    """Gold ``penalty`` sentences that state all of their own figures.

    The gold carries a sentence's figures onto the fragments the simple
    splitter cut from it (decided case 1), e.g. "(b) abduction;" under a
    clause with "3 to 20 years".  No parser can read those from the fragment,
    so we keep sentences with a prison figure whose every gold number is
    written in the sentence itself next to a duration word (or that say
    "life").
    """
    path = GOLD / f"{split}.jsonl"
    if not path.exists():
        pytest.skip(f"gold data not found at {path}")
    out = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            doc = json.loads(line)
            for sent in doc["sentences"]:
                if "penalty" not in sent["labels"]:
                    continue
                lo, hi, life = (
                    sent.get("prison_min_years"),
                    sent.get("prison_max_years"),
                    bool(sent.get("prison_life")),
                )
                if lo is None and hi is None and not life:
                    continue
                text = doc["text"][sent["start"] : sent["end"]]
                written = _numbers_in(text)
                if any(v is not None and round(float(v), 4) not in written for v in (lo, hi)):
                    continue
                if life and not re.search(r"life|perp[ée]tu", text, re.IGNORECASE):
                    continue
                out.append((text, sent))
    return out


def _accuracy(split: str) -> tuple[int, int]:
    """(exactly right, total) over the split's self-contained penalty sentences."""
    rows = _gold_penalty_sentences(split)
    right = 0
    for text, sent in rows:
        lo, hi, life = terms(text)
        gold_lo, gold_hi = sent.get("prison_min_years"), sent.get("prison_max_years")
        right += (
            (lo is None if gold_lo is None else lo == pytest.approx(gold_lo))
            and (hi is None if gold_hi is None else hi == pytest.approx(gold_hi))
            and life == bool(sent.get("prison_life"))
        )
    return right, len(rows)


def test_dev_penalty_sentences_mostly_exact() -> None:
    """At least 85% of dev penalty sentences that state a term come out exactly right."""
    right, total = _accuracy("dev")
    assert total >= 20, "too few dev penalty sentences to judge"
    assert right / total >= 0.85, f"{right}/{total} exactly right"


def test_train_penalty_sentences_mostly_exact() -> None:
    right, total = _accuracy("train")
    assert total >= 20
    assert right / total >= 0.85, f"{right}/{total} exactly right"


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    "text",
    [
        "one" + " " * 5000 + "x",
        "imprisonment for one" + " - " * 3000 + "years",
        "one two " * 3000 + "years",
        "four ( " * 3000,
    ],
)
def test_hostile_whitespace_does_not_hang(text: str) -> None:
    """Guards against catastrophic regex backtracking (a hang, not a timing)."""
    assert not extract_penalty(text).has_term
