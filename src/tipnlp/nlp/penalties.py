"""Penalty figures from a sentence: prison terms, life, death penalty, fines.

Follows ``spec/labels.md`` ("Penalty figures" and decided case 4):

* terms in years; months are divided by 12; number words count ("ten years",
  "six months", "cuatro (4) años");
* "from 3 to 10 years", "3-10 years", "between 3 and 10 years", "de 5 a 15
  años": min 3, max 10;
* "not less than 8 years", "a minimum of", "no menor de": a minimum;
* "not exceeding", "up to", "not more than", "no mayor de", "jusqu'à": a maximum;
* a bare "imprisonment for N years" / "a 30-year term": maximum N;
* several tiers in one sentence: the lowest minimum and the highest maximum;
* "up to life", "life imprisonment", "perpétuité", "prisión perpetua":
  ``prison_life`` true and the maximum null;
* death penalty phrases set ``death_penalty``;
* fines are copied as written, with amount and currency when present.

The extractor only parses; whether a sentence *prescribes* a penalty (rather
than reports a sentence a court handed down, decided case 8) is the tagger's
call.  It is regular-expression based: the phrasing of penalty clauses is
formulaic across jurisdictions, and an explainable parser is easier to audit
than a model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

__all__ = ["PenaltyFigures", "extract_penalty", "parse_number"]


@dataclass(frozen=True)
class PenaltyFigures:
    """The figures a penalty sentence states; None/False where it states none."""

    prison_min_years: float | None = None
    prison_max_years: float | None = None
    prison_life: bool = False
    death_penalty: bool = False
    fine_text: str | None = None

    @property
    def has_term(self) -> bool:
        """Whether any prison figure (minimum, maximum or life) was found."""
        return (
            self.prison_min_years is not None
            or self.prison_max_years is not None
            or self.prison_life
        )


# --------------------------------------------------------------------------
# Numbers
# --------------------------------------------------------------------------
_UNITS: Final[dict[str, int]] = {
    # English
    "zero": 0, "one": 1, "a": 1, "an": 1, "two": 2, "three": 3, "four": 4, "five": 5,
    "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
    "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17,
    "eighteen": 18, "nineteen": 19,
    # Spanish
    "uno": 1, "un": 1, "una": 1, "dos": 2, "tres": 3, "cuatro": 4, "cinco": 5, "seis": 6,
    "siete": 7, "ocho": 8, "nueve": 9, "diez": 10, "once": 11, "doce": 12, "trece": 13,
    "catorce": 14, "quince": 15, "dieciséis": 16, "dieciseis": 16, "diecisiete": 17,
    "dieciocho": 18, "diecinueve": 19, "veintiuno": 21, "veintiún": 21, "veintidós": 22,
    "veintidos": 22, "veintitrés": 23, "veintitres": 23, "veinticuatro": 24,
    "veinticinco": 25, "veintiséis": 26, "veintisiete": 27, "veintiocho": 28,
    "veintinueve": 29,
    # French
    "une": 1, "deux": 2, "trois": 3, "quatre": 4, "cinq": 5, "sept": 7, "huit": 8,
    "neuf": 9, "dix": 10, "onze": 11, "douze": 12, "treize": 13, "quatorze": 14,
    "quinze": 15, "seize": 16,
    # Portuguese
    "um": 1, "uma": 1, "dois": 2, "duas": 2, "três": 3, "quatro": 4, "sete": 7,
    "oito": 8, "nove": 9, "dez": 10, "onze_pt": 11, "doze": 12, "treze": 13,
    "catorze": 14, "quatorze_pt": 14, "dezesseis": 16, "dezessete": 17, "dezoito": 18,
    "dezenove": 19,
}  # fmt: skip
_TENS: Final[dict[str, int]] = {
    "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60,
    "veinte": 20, "treinta": 30, "cuarenta": 40, "cincuenta": 50,
    "vingt": 20, "trente": 30, "quarante": 40, "cinquante": 50,
    "vinte": 20, "trinta": 30, "quarenta": 40, "cinquenta": 50,
}  # fmt: skip
_WORDS: Final[dict[str, int]] = {**{k: v for k, v in _UNITS.items() if "_" not in k}, **_TENS}

_WORD_ALT: Final[str] = "|".join(
    sorted((re.escape(w) for w in _WORDS if w not in {"a", "an"}), key=len, reverse=True)
)
#: A number: digits, or a number word (optionally "twenty-five", "vingt et un"),
#: optionally followed by the same number in digits: "cuatro (4)", "three(3)".
_NUM: Final[str] = (
    rf"(?:\d+(?:[.,]\d+)?|(?:{_WORD_ALT})(?:[ -]{{1,2}}(?:(?:et|y|e)[ -])?(?:{_WORD_ALT}))?)"
    rf"(?:[ ]?\([ ]?(?:\d+(?:[.,]\d+)?|{_WORD_ALT})[ ]?\))?"
)
_YEAR_UNIT: Final[str] = (
    r"(?:years?|yrs?|año|años|anos?|ans?|années?|jahre?n?|anni|anno|godin\w*|tahun)"
)
_MONTH_UNIT: Final[str] = r"(?:months?|mes|meses|mois|monate?n?|mesi|bulan)"

_TERM_RE: Final[re.Pattern[str]] = re.compile(
    rf"(?<![\w.,])(?P<num>{_NUM})(?P<sep>[ -]{{0,3}})(?:(?P<y>{_YEAR_UNIT})|(?P<m>{_MONTH_UNIT}))\b"
    r"(?:['’]s?)?",
    re.IGNORECASE,
)
_RANGE_RE: Final[re.Pattern[str]] = re.compile(
    rf"(?<![\w.,])(?P<a>{_NUM})(?:[ ]?(?P<ua>{_YEAR_UNIT}|{_MONTH_UNIT})\b)?"
    r"[ ]?(?:to|and|or|-|–|—|a|à|au|y|e|et|até|bis|hasta|al)[ ]?"
    rf"(?P<b>{_NUM})[ -]{{0,3}}(?:(?:(?P<y>{_YEAR_UNIT})|(?P<m>{_MONTH_UNIT}))\b"
    # "de trois ans à cinq": the second unit may be left out after "to"/"à".
    r"|(?<=\w)(?=[ ]?(?:$|[,;.)]|[ ](?:de|of|d['’]|and|et|y|e|or|ou|o)\b)))",
    re.IGNORECASE,
)

_LIST_RE: Final[re.Pattern[str]] = re.compile(
    rf"(?<![\w.,])(?P<nums>{_NUM}(?:[ ]?,[ ]?{_NUM})+[ ]?,?[ ]?(?:or|and)[ ]{_NUM})[ -]{{0,3}}"
    rf"(?:(?P<y>{_YEAR_UNIT})|(?P<m>{_MONTH_UNIT}))\b",
    re.IGNORECASE,
)
# "minimum" earlier in the same clause, with no "maximum" after it.
_CLAUSE_MIN_RE: Final[re.Pattern[str]] = re.compile(
    r"\b(?:minimum|mínim[oa]|minimale?|mindest\w*)\b(?!.*\b(?:maximum|máxim[oa]|maximale?)\b)"
    r"[^.;]*$",
    re.IGNORECASE,
)
_MIN_QUAL: Final[str] = (
    r"(?:(?:not|no)\s+(?:be\s+)?(?:less|fewer|shorter)\s+than|at\s+least|a\s+minimum\s+of"
    r"|minimum(?:\s+[\w’']+){0,3}?\s+of|minimum|min\.|not\s+below|no\s+menor\s+de|no\s+menos\s+de"
    r"|no\s+inferior\s+a|mínim[oa]\s+de|au\s+moins|d['’]au\s+moins|minimale\s+de|mindestens"
    r"|nicht\s+unter|não\s+inferior\s+a|no\s+mínimo|pelo\s+menos|desde|from)"
)
_MAX_QUAL: Final[str] = (
    r"(?:not\s+(?:to\s+)?exceed(?:ing)?|(?:not|no)\s+(?:be\s+)?(?:more|greater|longer)\s+than"
    r"|up\s+to|upto|a\s+maximum\s+of|maximum(?:\s+[\w’']+){0,3}?\s+of|maximum|max\.|"
    r"which\s+may\s+extend\s+to|may\s+extend\s+to|extending\s+to|as\s+much\s+as|"
    r"(?:ni|no)\s+mayor\s+de|no\s+superior\s+a|hasta|máxim[oa]\s+de|jusqu['’]à|maximale\s+de"
    r"|n['’]excédant\s+pas|até|bis\s+zu|höchstens|nicht\s+über|no\s+máximo|fino\s+a|最長|最高)"
)
_FILLER: Final[str] = (
    r"(?:a|an|the|term|terms|period|sentence|penalty|penalties|punishment|imprisonment|jail"
    r"|prison|custodial|of|for|de|la|una?|pena|prisión|privativa|libertad|peine|emprisonnement"
    r"|réclusion|reclusão|detenção|years?['’]?|freiheitsstrafe|von)"
)
_MIN_BEFORE_RE: Final[re.Pattern[str]] = re.compile(
    rf"{_MIN_QUAL}(?:[\s,]+{_FILLER})*[\s,]*$", re.IGNORECASE
)
_MAX_BEFORE_RE: Final[re.Pattern[str]] = re.compile(
    rf"{_MAX_QUAL}(?:[\s,]+{_FILLER})*[\s,]*$", re.IGNORECASE
)
# Ages and time limits are not prison terms: "under 18 years of age", "mayor de setenta años".
_AGE_BEFORE_RE: Final[re.Pattern[str]] = re.compile(
    r"(?:(?<!not\s)(?<!no\s)(?<!ni\s)\b(?:under|below|over|above|aged|age\s+of|younger\s+than"
    r"|older\s+than|menor(?:es)?\s+de|mayor(?:es)?\s+de|moins\s+de|plus\s+de|más\s+de|within"
    r"|after|before|past|last|previous|following|next|every|each|per)"
    r"|\bfor\s+(?:a\s+period\s+of\s+)?(?:at\s+least\s+)?(?=\d+\s+(?:consecutive|successive)))\s*$",
    re.IGNORECASE,
)
_AGE_AFTER_RE: Final[re.Pattern[str]] = re.compile(
    r"^\s*(?:of\s+age|old|de\s+edad|d['’]âge|de\s+idade|ago|earlier|later|after|before|alt)\b",
    re.IGNORECASE,
)
_PENAL_RE: Final[re.Pattern[str]] = re.compile(
    r"imprison|prison|jail|gaol|custod|incarcerat|sentenc|term|punish|penal|liable|convict"
    r"|prisión|reclusi|privativa|pena\b|presidio|cárcel|emprisonnement|réclusion|détention"
    r"|peine|reclusão|detenção|prisão|freiheitsstrafe|haft|reclusione|arresto|penjara|懲役|禁錮",
    re.IGNORECASE,
)
_LIFE_RE: Final[re.Pattern[str]] = re.compile(
    r"\blife\s+(?:imprisonment|sentence|term|in\s+prison|behind\s+bars)|\bimprisonment\s+for\s+life"
    r"|\b(?:for|to|of)\s+(?:the\s+(?:rest\s+of\s+(?:his|her|their)\s+)?)?(?:natural\s+)?life\b"
    r"|\bup\s+to\s+life|\blife\s*\)|\blife-term|cadena\s+perpetua|(?:prisión|presidio|reclusión)"
    r"\s+perpetua|perpétuité|prisão\s+perpétua|lebenslang|ergastolo|seumur\s+hidup|無期",
    re.IGNORECASE,
)
_DEATH_RE: Final[re.Pattern[str]] = re.compile(
    r"death\s+(?:penalty|sentence)|sentenced?\s+to\s+death|punish\w*\s+(?:by|with)\s+death"
    r"|sentence\s+of\s+death|capital\s+punishment|\bor\s+death\b|\bdeath\s+or\b|pena\s+de\s+muerte"
    r"|peine\s+de\s+mort|pena\s+de\s+morte|todesstrafe|pena\s+capitale|hukuman\s+mati|死刑",
    re.IGNORECASE,
)
# "not exceeding 10 years" inside an age/limitation clause is still caught by
# _AGE_BEFORE_RE; CJK "10年以下" (max) and "10年以上" (min) are handled here.
_CJK_MAX_RE: Final[re.Pattern[str]] = re.compile(r"(\d+)\s*年以下|最長\s*(\d+)\s*年")
_CJK_MIN_RE: Final[re.Pattern[str]] = re.compile(r"(\d+)\s*年以上")

# --------------------------------------------------------------------------
# Fines
# --------------------------------------------------------------------------
_FINE_WORD_RE: Final[re.Pattern[str]] = re.compile(
    r"(?<!con\s)(?<!los\s)(?<!para\s)(?<!sus\s)"
    r"\b(?:fine[sd]?|multas?|amendes?|geldstrafen?|ammenda|denda|penalty\s+units?)(?![\w-])|罰金",
    re.IGNORECASE,
)
_CURRENCY: Final[str] = (
    r"(?:[$€£¥₱₦]|\b(?:US\$|NT\$|R|Rs\.?|Sh|KSh|N|P|USD|EUR|GBP|INR|PHP|NGN)\s?)"
)
_AMOUNT: Final[str] = rf"{_CURRENCY}?\s?\d[\d,.\s]*(?:\s?(?:m|bn|k|million|billion|thousand))?"
# Words that may introduce a fine's amount after the keyword.
_FINE_TAIL_RE: Final[re.Pattern[str]] = re.compile(
    r"^(?:\s*(?:of|not\s+(?:to\s+)?exceed(?:ing)?|not\s+more\s+than|not\s+less\s+than|up\s+to"
    r"|no\s+(?:more|less)\s+than|amounting\s+to|ranging\s+from|from|between|in\s+the\s+amount\s+of"
    r"|equivalent\s+to|de|d['’]un[e]?|d['’]|à|maximale|minimale|máxima|mínima|hasta|até"
    r"|von|bis\s+zu|in\s+excess\s+of|exceeding|under\s+this\s+title|[$€£¥₱₦]|\d|\())",
    re.IGNORECASE,
)
_FINE_STOP_RE: Final[re.Pattern[str]] = re.compile(
    r"[;:]|,(?!\d{3})|\.(?!\d)|\s(?:or|and|y|et|e|ou|und|o)\s+(?:to\s+)?(?:both|imprison\w*|"
    r"prison\w*|jail|reclus\w*|emprison\w*|to\s+imprison\w*|with\s+imprison\w*|pena|peine)"
    r"|\s+(?:or|and)\s+(?:both|imprisonment)|\s*\((?:or|and)\s+both\)|\s+or\s+both"
    r"|\s+(?:may|shall|will|is|are|was|were|for|if|when|upon|where|in\s+addition|against)\b",
    re.IGNORECASE,
)
_FINE_LEAD_RE: Final[re.Pattern[str]] = re.compile(
    rf"(?:(?:a|an|the|minimum|maximum|additional|further|heavy|une|un|una|uma)\s+|{_AMOUNT}\s*"
    r"|(?:euros?|dollars?|francs?(?:\s+CFA)?|pesos|naira|rupees)\s+d['’]\s*)+$",
    re.IGNORECASE,
)


def parse_number(raw: str) -> float | None:
    """Parse a number written in digits or words ("15", "fifteen", "cuatro (4)", "twenty-five").

    Returns None when ``raw`` is not a number we know.
    """
    head = re.match(r"\s*(\d+(?:[.,]\d+)?)", raw)
    if head:
        return float(head.group(1).replace(",", "."))
    paren = re.search(r"\(\s*(\d+(?:[.,]\d+)?)\s*\)", raw)
    if paren:
        return float(paren.group(1).replace(",", "."))
    s = raw.split("(")[0].strip().lower()
    if re.fullmatch(r"\d+(?:[.,]\d+)?", s):
        # "1,5" or "1.5" years; "1,000" is not a prison term anyway.
        return float(s.replace(",", "."))
    total = 0
    for part in re.split(r"[\s-]+", s):
        if part in {"et", "y", "e", ""}:
            continue
        if part not in _WORDS:
            return None
        total += _WORDS[part]
    return float(total)


def _years(num: str, month: bool) -> float | None:
    """Convert a parsed number to years (months / 12), rounded to 4 places."""
    value = parse_number(num)
    if value is None:
        return None
    return round(value / 12, 4) if month else value


def extract_penalty(text: str) -> PenaltyFigures:
    """Extract prison terms, life, death penalty and fine text from ``text``.

    Pure and total: any string gives a ``PenaltyFigures`` (all empty when the
    sentence states no figures, e.g. "punished as provided in subsection (d)").
    """
    # One space for every run of whitespace, and no long dash runs: keeps the
    # patterns linear-time on hostile input; figures never depend on layout.
    text = re.sub(r"[-‐‑–]{2,}", "-", re.sub(r"\s+", " ", text))
    mins: list[float] = []
    maxs: list[float] = []
    used: list[tuple[int, int]] = []
    penal = _PENAL_RE.search(text) is not None

    def free(start: int, end: int) -> bool:
        return all(end <= s or start >= e for s, e in used)

    # 1. Ranges: "from 3 to 10 years", "3-10 years", "de cuatro (4) a ocho (8) años".
    for m in _RANGE_RE.finditer(text):
        ua = (m.group("ua") or "").lower()
        if m.group("y") is None and m.group("m") is None:
            sep = text[m.end("a") : m.start("b")]
            if not ua or not re.search(r"\b(?:to|à|a|hasta|até|bis)\b|[-–—]", sep):
                continue
            is_month = bool(re.fullmatch(_MONTH_UNIT, ua, re.IGNORECASE))
        else:
            is_month = m.group("m") is not None
        a_month = bool(re.fullmatch(_MONTH_UNIT, ua, re.IGNORECASE)) if ua else is_month
        lo, hi = _years(m.group("a"), a_month), _years(m.group("b"), is_month)
        if lo is None or hi is None or lo > hi or lo == 0:
            continue
        before = text[max(0, m.start() - 40) : m.start()]
        if _AGE_BEFORE_RE.search(before) or _AGE_AFTER_RE.match(text[m.end() :]):
            continue
        if _MAX_BEFORE_RE.search(before) and not re.search(
            r"(?:from|between|de|entre)\s*$", before
        ):
            continue  # "up to 5 or 10 years": leave it to single terms
        if not penal:
            continue
        mins.append(lo)
        maxs.append(hi)
        used.append((m.start(), m.end()))

    # 1b. Alternatives: "for three, four, or five years" (California style);
    #     an ordered list of three or more terms is a penalty scale by itself.
    for m in _LIST_RE.finditer(text):
        if not free(m.start(), m.end()):
            continue
        month = m.group("m") is not None
        values = [
            _years(n, month)
            for n in re.split(r"\s*,\s*(?:or\s+|and\s+)?|\s+(?:or|and)\s+", m.group("nums"))
        ]
        nums = [v for v in values if v]
        if len(nums) >= 3 and nums == sorted(nums):
            mins.append(nums[0])
            maxs.append(nums[-1])
            used.append((m.start(), m.end()))

    # 2. Single terms with a unit, qualified by what precedes them.
    for m in _TERM_RE.finditer(text):
        if not free(m.start(), m.end()):
            continue
        value = _years(m.group("num"), m.group("m") is not None)
        if value is None or value == 0:
            continue
        before = text[max(0, m.start() - 60) : m.start()]
        after = text[m.end() :]
        if _MIN_BEFORE_RE.search(before):
            mins.append(value)
        elif _MAX_BEFORE_RE.search(before):
            maxs.append(value)
        elif _AGE_BEFORE_RE.search(before) or _AGE_AFTER_RE.match(after):
            continue
        elif _CLAUSE_MIN_RE.search(text[: m.start()].rsplit(";", 1)[-1]):
            mins.append(value)  # "the minimum penalty for X was seven years"
        elif penal:
            maxs.append(value)  # bare "imprisonment for N years" is a maximum
        used.append((m.start(), m.end()))

    # 3. A qualified number whose unit comes later: "no menor de doce ni mayor
    #    de veinte años", "not less than two nor more than ten years".
    for m in re.finditer(
        rf"(?P<q>{_MIN_QUAL})\s+(?P<num>{_NUM})\s+(?:(?:ni|nor|and|but|y|e|et|or|o)\s+)",
        text,
        re.IGNORECASE,
    ):
        if not free(m.start("num"), m.end("num")):
            continue
        unit = re.search(rf"\b(?:(?P<y>{_YEAR_UNIT})|(?P<m>{_MONTH_UNIT}))\b", text[m.end() :][:80])
        if unit is None:
            continue
        value = _years(m.group("num"), unit.group("m") is not None)
        if value:
            mins.append(value)

    for m in _CJK_MAX_RE.finditer(text):
        maxs.append(float(m.group(1) or m.group(2)))
    for m in _CJK_MIN_RE.finditer(text):
        mins.append(float(m.group(1)))

    life = _LIFE_RE.search(text) is not None
    death = _DEATH_RE.search(text) is not None
    return PenaltyFigures(
        prison_min_years=min(mins) if mins else None,
        prison_max_years=None if life or not maxs else max(maxs),
        prison_life=life,
        death_penalty=death,
        fine_text=_fine_text(text),
    )


def _fine_text(text: str) -> str | None:
    """Return the first fine phrase as written ("a fine of not more than $250,000")."""
    for m in _FINE_WORD_RE.finditer(text):
        word = m.group(0).lower()
        if word in {"fine", "fines"} and re.match(r"\s+(?:print|tuning|line)", text[m.end() :]):
            continue
        # Extend left over "a", "minimum", an amount ("$10,000 fine", "a R100m fine").
        lead = _FINE_LEAD_RE.search(text[max(0, m.start() - 40) : m.start()])
        start = m.start() - (len(lead.group(0)) if lead else 0)
        end = m.end()
        rest = text[end:]
        if _FINE_TAIL_RE.match(rest) and not re.match(r"\s*(?:or|and)\b", rest):
            stop = _FINE_STOP_RE.search(rest)
            tail_len = stop.start() if stop else len(rest)
            end += min(tail_len, 160)
        phrase = text[start:end].strip(" ,;:(")
        # Balance a dangling "(" left by the cut: "... dollars (NT$3,000,000".
        if phrase.count("(") > phrase.count(")"):
            close = text.find(")", start + len(phrase))
            if close != -1 and close - start < 220:
                phrase = text[start : close + 1].strip()
        return phrase or None
    return None
