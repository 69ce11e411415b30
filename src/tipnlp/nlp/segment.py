"""Legal-aware sentence segmentation with statute-unit tracking.

Statutes, treaties and news need a splitter that knows legal layout: an
enumeration marker ("(a)", "1.", "2.—(1)", "§ 1591", "Article 7") starts a unit
and stays with its text; "U.S.C.", "Art.", "No.", "s.", "e.g." do not end a
sentence; a line break between paragraphs does.  Trained sentence splitters
know none of that and are slow.  Our rules find the boundaries with compiled
regular expressions over the raw text (``boundary_offsets``, C speed); they
are packaged as a spaCy component, ``tipnlp_legal_sentencizer``, on
``spacy.blank(lang)`` (``get_nlp``) for anyone who builds spaCy pipelines,
and ``segment()`` calls them directly: the component's output is character
offsets, so tokenizing first would cost time (spaCy's French tokenizer takes
2.5 s to build) and change nothing.

``segment()`` then walks the sentences, strips surrounding whitespace (offsets
stay exact: ``text[seg.start:seg.end] == seg.text``) and records the statute
unit each sentence sits in ("Art. 3(a)", "s. 2(1)", "§ 1591(a)").
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Final

import numpy as np
import spacy
from spacy.attrs import SENT_START
from spacy.language import Language
from spacy.tokens import Doc
from spacy.util import get_lang_class

from tipnlp.nlp.types import Segment

__all__ = ["COMPONENT_NAME", "boundary_offsets", "get_nlp", "segment"]

#: Name under which the sentence-boundary component is registered with spaCy.
COMPONENT_NAME: Final[str] = "tipnlp_legal_sentencizer"

#: ``Doc.user_data`` key under which segment() hands the raw text to the component.
_TEXT_KEY: Final[str] = "tipnlp_text"
#: ``Doc.user_data`` key under which the component leaves the character offsets.
_STARTS_KEY: Final[str] = "tipnlp_sentence_starts"

# --------------------------------------------------------------------------
# Abbreviations: a period after one of these does not end a sentence.
# Compared lower-cased, without the final period.  Kept in one place so a
# legal expert can extend it; multilingual because statutes are.
# --------------------------------------------------------------------------
_ABBREVIATIONS: Final[frozenset[str]] = frozenset(
    (  # noqa: SIM905 - a word list is easier to extend than a list literal
        "art arts sec secs s ss para paras par no nos nr n° p pp ch cap chap cl subs subsec "
        "u.s.c u.s u.k u.n e.u e.g i.e etc viz cf vs v al et seq id ibid op cit "
        "mr mrs ms dr prof gen col lt capt sgt rev hon jr sr st messrs mme mlle m "
        "jan feb apr jun jul aug sep sept oct nov "
        "inc ltd co corp dept govt gov approx fig vol ed eds "
        "sra srta dra lic ing núm nº incs apdo "
        "bzw abs ziff lit vgl ggf usw z.b d.h cod c.p r.d"
    ).split()
)

#: After "U.S." and similar country/organisation abbreviations a sentence *may*
#: end; it does when one of these typical sentence openers follows.
_SENTENCE_OPENERS: Final[frozenset[str]] = frozenset(
    (  # noqa: SIM905
        "the a an in on at it he she they we this that these those there his her its "
        "their but however according officials police authorities prosecutors"
    ).split()
)

# A candidate sentence end: . ! ? (or …) plus closing quotes/brackets, then
# horizontal whitespace, then something that can open a sentence.
_END_RE: Final[re.Pattern[str]] = re.compile(
    r"""(?P<punct>[.!?…]+)(?P<close>["'”’»)\]]*)[ \t\u00a0]+(?=(?P<next>[\"'“‘«(\[¿¡§]?[^\s]))"""
)

# Chinese/Japanese sentence ends: "。", "！", "？" (plus closing brackets), no space needed.
_CJK_END_RE: Final[re.Pattern[str]] = re.compile(r"[。！？]+[」』）]*(?=[^\s」』）])")

# Inline enumerations after a colon, semicolon or dash: "... means— (A) threats".
_INLINE_ENUM_RE: Final[re.Pattern[str]] = re.compile(
    r"(?:[:;]|—|--)[ \t]+(?=\((?:[a-z]|[ivx]{1,5}|[A-Z]|\d{1,3}[a-zA-Z]?)\)[ \t]+\S)"
)

_NEWLINE_RE: Final[re.Pattern[str]] = re.compile(r"\n")

# A line that holds nothing but an enumeration marker: "(a)", "1.", "- b)", "(iv)".
_MARKER_LINE_RE: Final[re.Pattern[str]] = re.compile(
    r"[ \t]*[-–—•]?[ \t]*(?:\((?:\d{1,3}[A-Za-z]?|[A-Za-z]|[ivxlcIVXLC]{1,6})\)"
    r"|(?:\d{1,3}[A-Za-z]?|[a-z])[.)])[ \t]*$"
)

# The word right before a period (letters, digits, inner dots, °/º).
_WORD_BEFORE_RE: Final[re.Pattern[str]] = re.compile(r"([\w.°º\-]*\w)[.]*$")

# A heading keyword before a number: "Article", "Art.", "Section", "Sec.", "§".
_HEADING_HEAD_RE: Final[re.Pattern[str]] = re.compile(
    r"(?:[-–—•]\s*)?(?:§+|Article|ARTICLE|Artículo|ARTÍCULO|Articulo|Artigo|Articolo|Artikel"
    r"|Arts?\.|Section|SECTION|Sec\.|SEC\.|Sección|Seção|Rule|Regulation)"
)

# Enumeration-only opening of a segment: "1", "IV", "a", "(2)", "12A".
_ENUM_ONLY_RE: Final[re.Pattern[str]] = re.compile(
    r"^[(\[]?(?:\d{1,4}[A-Za-z]?|[IVXLC]{1,6}|[ivxlc]{1,6}|[A-Za-z])[)\]]?$"
)


def _is_wrapped_line(prev_line: str, next_line: str) -> bool:
    """Decide whether a single line break is a hard wrap inside a sentence.

    Only the unambiguous case is joined: the previous line ends in a word or a
    comma (no sentence punctuation, no colon) and the next line starts with a
    lower-case letter that is not an enumeration marker like "(a)" or "a)".
    Anything else (headings, list items, paragraphs) stays a boundary.
    """
    p = prev_line.rstrip()
    n = next_line.lstrip()
    if not p or not n:
        return False
    if p[-1] not in ",-–" and not p[-1].isalnum():
        return False
    if not n[0].islower():
        return False
    return not re.match(r"^(?:[a-z]{1,4}[).]|\(?[ivx]{1,5}\)|[a-z]\s*[-–]\s)", n)


def boundary_offsets(text: str, *, join_wrapped: bool = True) -> list[int]:
    """Return the character offsets where sentences start in ``text``.

    Pure function behind the spaCy component, exposed for reuse and testing.
    ``join_wrapped`` keeps hard-wrapped lines together (see ``_is_wrapped_line``);
    set it False to split at every line break like the gold "simple" splitter.
    """
    starts: set[int] = {0}
    # 1. Line breaks.  A line holding only an enumeration marker ("(a)",
    # "1.", "- b)") is glued to the next non-blank line: the marker stays
    # with its text.
    line_starts = [0] + [m.end() for m in _NEWLINE_RE.finditer(text)]
    line_ends = [ls - 1 for ls in line_starts[1:]] + [len(text)]
    glue = _MARKER_LINE_RE.match(text, 0, line_ends[0]) is not None
    for i in range(1, len(line_starts)):
        ls, le = line_starts[i], line_ends[i]
        line = text[ls:le]
        if line.isspace() or not line:
            if not glue:
                starts.add(ls)
            continue
        if glue:
            glue = False
        elif not (join_wrapped and _is_wrapped_line(text[line_starts[i - 1] : ls - 1], line)):
            starts.add(ls)
        glue = _MARKER_LINE_RE.match(line) is not None
    # 2. Sentence-final punctuation.
    for m in _END_RE.finditer(text):
        nxt = m.group("next")
        nxt_start = m.end()
        if not _opens_sentence(text, nxt_start, nxt):
            continue
        if (
            m.group("punct") == "."
            and not m.group("close")
            and _period_is_abbreviation(text, m.start(), nxt_start)
        ):
            continue
        starts.add(nxt_start)
    # 2b. CJK full stops need no space after them.
    for m in _CJK_END_RE.finditer(text):
        starts.add(m.end())
    # 3. Inline enumerations after ":" ";" "—".
    for m in _INLINE_ENUM_RE.finditer(text):
        starts.add(m.end())
    return sorted(s for s in starts if s < len(text))


def _opens_sentence(text: str, pos: int, first: str) -> bool:
    """Whether the text at ``pos`` can open a sentence (capital, digit, quote, marker)."""
    ch = first[-1]
    if ch.isupper() or ch.isdigit():
        return True
    if first[0] in "§([":
        return True
    # After an opening quote a capital or digit must follow; a lower-case
    # word is a continuation ("e.g. the", "approx. five").
    return first[0] in "\"'“‘«¿¡" and (ch.isupper() or ch.isdigit())


def _period_is_abbreviation(text: str, period: int, next_start: int) -> bool:
    """Whether the period at ``period`` belongs to an abbreviation or a marker.

    Covers listed abbreviations ("Art.", "U.S.C.", "No."), single-letter
    initials and section signs ("s.", "J."), and enumeration labels at the
    start of a segment ("1. The agent...", "IV. ...", "a. ...").
    """
    # Look back over the current line only.
    line_start = max(text.rfind("\n", 0, period) + 1, period - 60)
    before = text[line_start:period]
    m = _WORD_BEFORE_RE.search(before)
    if not m:
        return False
    word = m.group(1)
    low = word.lower()
    if low in _ABBREVIATIONS:
        if low in {"u.s", "u.k", "u.n", "e.u"}:
            nxt = re.match(r"[A-Za-z]+", text[next_start:])
            if nxt and nxt.group(0).lower() in _SENTENCE_OPENERS:
                return False
        return True
    if len(word) == 1 and word.isalpha():
        return True  # initials and "s." / "v."
    if "." in word and re.fullmatch(r"(?:[A-Za-z]\.)+[A-Za-z]", word):
        return True  # "U.S.C", "i.e", "S.A"
    # Enumeration label opening the segment: "1." "IV." "(a)." "12A."
    # (also right after another sentence: "... voluntarily. 2. Nevertheless").
    head = before[: m.start(1)].strip(" \t-–—")
    if (not head or head[-1] in ".!?:;") and _ENUM_ONLY_RE.match(word):
        return True
    # A heading number: "Article 7. Penalties", "Sec. 7102. Definitions".
    return bool(_HEADING_HEAD_RE.fullmatch(head) and re.fullmatch(r"[\w\-‑.]*\d[\w\-‑]*", word))


def _sentencize(doc: Doc, join_wrapped: bool) -> Doc:
    """Set ``is_sent_start`` on every token from ``boundary_offsets(doc.text)``."""
    n = len(doc)
    if n == 0:
        return doc
    idx = doc.to_array("IDX").astype(np.int64)
    flags = np.full(n, -1, dtype=np.int64)
    # ``doc.text`` re-joins every token; segment() passes the original along.
    text = doc.user_data.get(_TEXT_KEY)
    if not isinstance(text, str) or len(text) != idx[-1] + len(doc[-1].text_with_ws):
        text = doc.text
    char_starts = boundary_offsets(text, join_wrapped=join_wrapped)
    # Kept at character level too: a boundary can fall inside a token when the
    # tokenizer does not split a script (CJK text in the "xx" tokenizer).
    doc.user_data[_STARTS_KEY] = char_starts
    offsets = np.asarray(char_starts, dtype=np.int64)
    # A boundary at char c starts the first token whose idx >= c.
    tok = np.searchsorted(idx, offsets, side="left")
    flags[tok[tok < n]] = 1
    flags[0] = 1
    doc.from_array([SENT_START], flags.astype(np.uint64))  # type: ignore[arg-type]
    return doc


class LegalSentencizer:
    """spaCy component: legal-aware sentence boundaries (see module docstring)."""

    def __init__(self, join_wrapped: bool = True) -> None:
        self.join_wrapped = join_wrapped

    def __call__(self, doc: Doc) -> Doc:
        """Mark sentence starts on ``doc`` in place and return it."""
        return _sentencize(doc, self.join_wrapped)


@Language.factory(COMPONENT_NAME, default_config={"join_wrapped": True})
def make_legal_sentencizer(nlp: Language, name: str, join_wrapped: bool) -> LegalSentencizer:
    """Factory so the component can be added with ``nlp.add_pipe(COMPONENT_NAME)``."""
    return LegalSentencizer(join_wrapped=join_wrapped)


@lru_cache(maxsize=64)
def get_nlp(language: str | None = None, join_wrapped: bool = True) -> Language:
    """Return a cached blank pipeline for ``language`` with our sentencizer.

    Unknown or missing language codes fall back to spaCy's multi-language
    ``"xx"`` tokenizer rather than failing: the document still gets split.
    """
    code = (language or "xx").lower().replace("_", "-").split("-")[0]
    try:
        get_lang_class(code)
    except Exception:
        code = "xx"
    try:
        nlp = spacy.blank(code)
    except Exception:  # languages needing extra packages (e.g. ja, zh, th)
        nlp = spacy.blank("xx")
    nlp.max_length = 50_000_000  # tokenizer only: no parser memory concerns
    nlp.add_pipe(COMPONENT_NAME, config={"join_wrapped": join_wrapped})
    return nlp


# --------------------------------------------------------------------------
# Statute units
# --------------------------------------------------------------------------
_ARTICLE_RE: Final[re.Pattern[str]] = re.compile(
    r"^[-–—•\s]*(?:Article|Artículo|Articulo|Artigo|Articolo|Artikel|Arts?\.|ARTICLE|ARTÍCULO|ARTIGO)"
    r"\s*(?P<num>\d+[A-Za-z]?(?:[-‑]\w+)*(?:\s+(?:bis|ter|quater|quinquies))?|[IVXLC]+)\b",
)
_SECTION_RE: Final[re.Pattern[str]] = re.compile(
    r"^[-–—•\s]*(?:Section|SECTION|Sec\.|SEC\.|Sección|Seção|Secção|s\.|Regulation|Reg\.|Rule)"
    r"\s*(?P<num>\d+[A-Za-z]?(?:[.\-‑]\d+[A-Za-z]?)*)\b"
)
_PARAGRAPH_SIGN_RE: Final[re.Pattern[str]] = re.compile(
    r"^[-–—•\s]*§+\s*(?P<num>\d+[A-Za-z]?(?:[.\-‑]\d+[A-Za-z]?)*)"
)
# UK style "2.—(1) A person ..." or "2. (1)".
_UK_SECTION_RE: Final[re.Pattern[str]] = re.compile(r"^(?P<num>\d+[A-Z]?)\.\s*[—–-]+\s*(?=\()")
# A heading glued to its number, as copied from legislation sites: "57Trafficking".
_GLUED_SECTION_RE: Final[re.Pattern[str]] = re.compile(r"^(?P<num>\d{1,3}[A-Z]?)(?=[A-Z][a-z])")
# A segment that is only a number: a section number on its own line (or a page number).
_BARE_NUMBER_RE: Final[re.Pattern[str]] = re.compile(r"^\d{1,3}[A-Z]?\.?$")
# Markers at the start of a segment: "(1)", "(a)", "(iv)", "1.", "a)", "- I -".
_MARKER_RE: Final[re.Pattern[str]] = re.compile(
    r"^[-–—•\s]*(?:\((?P<p>\d{1,3}[A-Za-z]?|[A-Za-z]|[ivxlc]{1,6}|[IVXLC]{1,6})\)"
    r"|(?P<d>\d{1,3}[A-Za-z]?|[IVXLC]{1,6}|[a-z])\.(?=\s)"
    r"|(?P<l>[a-z]|[ivx]{1,5})\)(?=\s)"
    r"|(?P<r>[IVXLC]{1,6})\s*[-–]\s)"
)


def _marker_kind(marker: str, stack: list[tuple[str, str]]) -> str:
    """Classify an enumeration marker: digit, lower, roman, upper or ROMAN.

    "(i)", "(v)", "(x)" are letters when the current level already counts
    letters ("(h)" then "(i)"), otherwise roman numerals.
    """
    if marker[0].isdigit():
        return "digit"
    if re.fullmatch(r"[ivxlc]+", marker):
        if len(marker) == 1:
            prev_letters = [m for k, m in stack if k == "lower"]
            if prev_letters and ord(marker) == ord(prev_letters[-1]) + 1:
                return "lower"
            if marker not in "iv" and not any(k == "roman" for k, _ in stack):
                return "lower"
        return "roman"
    if re.fullmatch(r"[a-z]", marker):
        return "lower"
    if re.fullmatch(r"[IVXLC]+", marker):
        if len(marker) == 1:
            prev_caps = [m for k, m in stack if k == "upper"]
            if prev_caps and ord(marker) == ord(prev_caps[-1]) + 1:
                return "upper"
            if marker not in "IV" and not any(k == "ROMAN" for k, _ in stack):
                return "upper"
        return "ROMAN"
    return "upper"


class _UnitTracker:
    """Follows article/section headers and nested markers through a document."""

    def __init__(self) -> None:
        self.base: str | None = None
        self.stack: list[tuple[str, str]] = []
        #: A bare number line ("1") that becomes a section if "(1)" follows.
        self.pending: str | None = None
        #: Whether the previous piece ended a sentence (". ! ?").
        self.prev_closed = False

    def feed(self, sent: str) -> str | None:
        """Update the state from a segment's opening and return its unit label."""
        rest = sent
        pending, self.pending = self.pending, None
        if _BARE_NUMBER_RE.match(rest):
            self.pending = rest.strip(" .")
        elif pending and re.match(r"^[-–—•\s]*\(1\)", rest):
            self.base, self.stack = f"s. {pending}", []
        m = _ARTICLE_RE.match(rest)
        if m:
            self.base, self.stack = f"Art. {m.group('num')}", []
            rest = rest[m.end() :]
            rest = re.sub(r"^[.:\s\-–—]+", "", rest)
        else:
            m = _PARAGRAPH_SIGN_RE.match(rest)
            if m:
                self.base, self.stack = f"§ {m.group('num')}", []
                rest = rest[m.end() :].lstrip(" .:-–—")
            else:
                m = _SECTION_RE.match(rest)
                if m:
                    self.base, self.stack = f"s. {m.group('num')}", []
                    rest = rest[m.end() :].lstrip(" .:-–—")
                else:
                    m = _UK_SECTION_RE.match(rest) or _GLUED_SECTION_RE.match(rest)
                    if m:
                        self.base, self.stack = f"s. {m.group('num')}", []
                        rest = rest[m.end() :]
        # Consecutive markers: "(1)(a)", "2.—(1)", "(b) (i)".
        pushed = False
        for _ in range(6):
            mm = _MARKER_RE.match(rest)
            if not mm:
                break
            marker = mm.group("p") or mm.group("d") or mm.group("l") or mm.group("r") or ""
            if marker == "U" and not self.stack:
                break  # "(U)": a classification mark in diplomatic cables, not a unit
            self._push(marker)
            pushed = True
            rest = rest[mm.end() :]
        # Without an article/section header a numbered list in a news text
        # must not label the rest of the article: a new sentence that is not
        # a list item ends the list.
        if (
            self.base is None
            and not pushed
            and self.prev_closed
            and not sent[:1].islower()
            and m is None
        ):
            self.stack = []
        self.prev_closed = sent.rstrip("\"'”’)]").endswith((".", "!", "?"))
        if self.base is None and not self.stack:
            return None
        return (self.base or "") + "".join(f"({m})" for _, m in self.stack)

    def _push(self, marker: str) -> None:
        """Place ``marker`` in the stack: replace its level, or nest one deeper."""
        kind = _marker_kind(marker, self.stack)
        for i, (k, _) in enumerate(self.stack):
            if k == kind:
                del self.stack[i:]
                break
        self.stack.append((kind, marker))


def segment(text: str, language: str | None = None, *, join_wrapped: bool = True) -> list[Segment]:
    """Split ``text`` into sentences and statute-unit fragments.

    ``language`` is an ISO 639-1 code (None or unknown: multi-language rules).
    Every returned ``Segment`` has ``text == text[start:end]`` with surrounding
    whitespace stripped, and ``unit`` set when a statute header or enumeration
    marker is in force.  Whitespace-only pieces are dropped.
    """
    if not text or text.isspace():
        return []
    # The boundaries are character offsets (``boundary_offsets``), which is
    # what the spaCy component computes too and what it leaves in
    # ``Doc.user_data``; tokenizing only to read them back cost more than
    # everything else here (spaCy's French tokenizer alone compiles for 2.5 s,
    # and tokens are never used).  The output is the same as
    # ``get_nlp(language)`` + the component gives (tested); ``language`` is
    # kept for that path and for callers that pass it.
    starts = boundary_offsets(text, join_wrapped=join_wrapped)
    bounds = list(zip(starts, [*starts[1:], len(text)], strict=True))
    tracker = _UnitTracker()
    out: list[Segment] = []
    prev_end = 0
    for i, (start, _end) in enumerate(bounds):
        # Extend each piece to the next start so trailing characters spaCy
        # left outside tokens (whitespace) are covered, then strip.
        end = bounds[i + 1][0] if i + 1 < len(bounds) else len(text)
        start = max(start, prev_end)
        prev_end = end
        chunk = text[start:end]
        lstripped = len(chunk) - len(chunk.lstrip())
        rstripped = len(chunk) - len(chunk.rstrip())
        s, e = start + lstripped, end - rstripped
        if s >= e:
            continue
        piece = text[s:e]
        out.append(Segment(start=s, end=e, text=piece, unit=tracker.feed(piece)))
    return out
