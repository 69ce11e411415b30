"""The rules-only tagger: token patterns read from YAML, one file per label.

This is the baseline every model must beat, and a source of features
(``rule_hits``) and of fallback labels.  Patterns live in
``tipnlp/nlp/patterns/<label>.yaml`` so a legal expert can read and extend
them without touching Python; ``patterns/context.yaml`` lists what makes a
text *about human trafficking* and the hard negatives (drug, arms, wildlife
trafficking; migrant smuggling) that must not count (labels.md, case 6).

Phrase syntax (case-insensitive, matched on the tokens of ``spacy.blank("xx")``;
``compile_phrase`` gives the spaCy ``Matcher`` token pattern of a phrase and
``phrase_regex`` the equivalent regular expression the tagger runs, see
``token_string``):

* ``shall be punished`` - these words in this order;
* ``traffick*`` - a word starting with "traffick"; ``*emprisonnement`` - ending with it;
* ``arrest|detain*`` - any of the alternatives;
* ``official?`` - an optional word; ``organi?ation`` - "organisation" or
  "organization" (the letter before an inner ``?`` is optional);
* ``~3`` - up to three words of anything;
* ``#`` - a number.

A provision label fires when one of its phrases matches and the sentence is not
about a hard negative.  An enforcement signal (``requires_context: true`` in
its file) fires only in a trafficking context: the sentence, its document
title, the previous sentence, or earlier sentences of the same document (items
passed in order whose ``prev`` chains to the item before) mention trafficking.
A label file may also say which document kinds it ``applies_to``: enforcement
signals are reports of practice, so they do not fire inside a statute or
treaty; a kind no file names (or None) restricts nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any, Final

import yaml
from spacy.language import Language
from spacy.tokens import Doc

from tipnlp.errors import TipnlpError
from tipnlp.labels import LABELS, PROVISION_LABELS, SIGNAL_LABELS
from tipnlp.nlp.types import Prediction, SentenceInput
from tipnlp.nlp.vocab import shared_nlp

__all__ = [
    "RULES_VERSION",
    "LabelRules",
    "RuleTagger",
    "compile_phrase",
    "load_rules",
    "negative_context",
    "phrase_regex",
    "rule_hits",
    "token_string",
    "trafficking_context",
]

#: Stored as ``model_version`` with every row the rule tagger labels.  Bump it
#: whenever a pattern file changes (a test pins the patterns' digest to it):
#: v2 (2026-12-07) added Italian and German cues and narrowed ``pres*``.
RULES_VERSION: Final[str] = "rules-v2"

#: Pseudo-labels used for the context patterns in ``context.yaml``.
_POSITIVE: Final[str] = "_trafficking"
_GENERIC: Final[str] = "_generic"
_NEGATIVE: Final[str] = "_negative"

#: How many words ``~`` may skip when no number is given.
_DEFAULT_GAP: Final[int] = 3


class PatternError(TipnlpError):
    """A pattern file is missing, not YAML, or holds a phrase we cannot compile."""


@dataclass(frozen=True)
class LabelRules:
    """The parsed content of one ``patterns/<label>.yaml`` file."""

    label: str
    requires_context: bool
    phrases: tuple[str, ...]
    exclude: tuple[str, ...] = ()
    description: str = ""
    #: Document kinds the label applies to (``SentenceInput.kind``); empty: all.
    applies_to: tuple[str, ...] = ()


@dataclass
class _Rule:
    """One compiled phrase: its regular expression and the words that must occur.

    Each phrase is its own expression and runs only when one of its
    ``anchors`` (the literal words of its most selective required word)
    occurs in the lower-cased text, and every group of ``required`` has a
    member there too (each required word's literal alternatives: a necessary
    condition, so skipping the phrase when it fails changes no result).
    """

    key: str
    phrase: str
    anchors: tuple[str, ...]
    regex: re.Pattern[str]
    required: tuple[tuple[str, ...], ...] = ()


#: Distinct words whose unlocked rules ``_Compiled.unlocked`` remembers.
_WORD_MEMO: Final[int] = 100_000


@dataclass
class _Compiled:
    """Every compiled phrase (labels, ``!label`` exclusions, context)."""

    rules: list[_Rule] = field(default_factory=list)
    #: anchor string -> indices of the rules it unlocks.
    by_anchor: dict[str, list[int]] = field(default_factory=dict)
    #: rules without any anchor (always run).
    always: list[int] = field(default_factory=list)
    #: distinct anchor lengths, ascending.
    anchor_sizes: tuple[int, ...] = ()
    #: lower-cased word -> indices of the rules its anchors unlock (a bounded memo).
    by_word: dict[str, tuple[int, ...]] = field(default_factory=dict)

    def unlocked(self, word: str) -> tuple[int, ...]:
        """Indices of the rules whose anchor occurs in ``word`` (memoised per word).

        Anchors hold no whitespace, so an anchor occurs in a text exactly when
        it occurs in one of the text's whitespace-separated words; words repeat
        from sentence to sentence, so scanning the ~700 anchors once per
        distinct word instead of once per sentence is where the rules'
        pre-filter saves its time.  The memo is cleared when it holds
        ``_WORD_MEMO`` words, so memory stays bounded on any corpus.
        """
        found = self.by_word.get(word)
        if found is None:
            # Look every substring of an anchor's length up (cheaper than
            # testing ~700 anchors against the word).
            hits: dict[int, None] = {}
            n = len(word)
            for size in self.anchor_sizes:
                if size > n:
                    break
                for start in range(n - size + 1):
                    indices = self.by_anchor.get(word[start : start + size])
                    if indices is not None:
                        hits.update(dict.fromkeys(indices))
            found = tuple(hits)
            if len(self.by_word) >= _WORD_MEMO:
                self.by_word.clear()
            self.by_word[word] = found
        return found


@dataclass(frozen=True)
class _Word:
    """One parsed phrase word: what a single token must look like.

    ``alts`` holds, per ``|`` alternative, (any characters before, the
    escaped regular expression of its letters, any characters after);
    ``number`` is ``#``.  Both renderings below read this, so the spaCy
    pattern and the regular expression cannot drift apart.
    """

    alts: tuple[tuple[bool, str, bool], ...] = ()
    literals: tuple[str, ...] = ()  # the alternatives when none has * or ?
    number: bool = False
    optional: bool = False


def _parse_word(word: str) -> _Word:
    """Parse one phrase word of the syntax in the module docstring."""
    optional = word.endswith("?") and len(word) > 1
    if optional:
        word = word[:-1]
    if word == "#":
        return _Word(number=True, optional=optional)
    alts = [a for a in word.lower().split("|") if a]
    if not alts:
        raise PatternError(f"empty word in phrase element {word!r}")
    if not any("*" in a or "?" in a for a in alts):
        return _Word(literals=tuple(alts), optional=optional)
    parsed = tuple(
        (
            a.startswith("*"),
            # "organi?ation": the letter before an inner "?" is optional.
            "".join("?" if c == "?" else re.escape(c) for c in a.strip("*")),
            a.endswith("*"),
        )
        for a in alts
    )
    return _Word(alts=parsed, optional=optional)


def _phrase_words(phrase: str, tokenizer: Any) -> list[_Word | int]:
    """A phrase as parsed words and gaps (an ``int``: up to that many tokens).

    Plain words are run through ``tokenizer`` so that "non-punishment" or
    "trafficking-related" match however the tokenizer splits them.
    """
    out: list[_Word | int] = []
    for word in phrase.split():
        gap = re.fullmatch(r"~(\d*)", word)
        if gap:
            out.append(int(gap.group(1) or _DEFAULT_GAP))
            continue
        special = any(c in word for c in "*|?#")
        pieces = [word] if special else [t.text for t in tokenizer(word)]
        out.extend(_parse_word(p) for p in pieces)
    return out


def _token_spec(word: _Word) -> dict[str, Any]:
    """One parsed word as a spaCy ``Matcher`` token pattern."""
    spec: dict[str, Any]
    if word.number:
        spec = {"LIKE_NUM": True}
    elif word.literals:
        alts = word.literals
        spec = {"LOWER": alts[0]} if len(alts) == 1 else {"LOWER": {"IN": list(alts)}}
    else:
        parts = [
            f"{'' if lead else '^'}{core}{'' if tail else '$'}" for lead, core, tail in word.alts
        ]
        spec = {"LOWER": {"REGEX": "|".join(f"(?:{p})" for p in parts)}}
    if word.optional:
        spec["OP"] = "?"
    return spec


def compile_phrase(phrase: str, tokenizer: Any) -> list[dict[str, Any]]:
    """Compile one phrase of the pattern syntax into a ``Matcher`` token pattern.

    The reference reading of the syntax: ``phrase_regex`` must match
    exactly where this pattern matches (tested on every gold sentence).
    """
    pattern: list[dict[str, Any]] = [
        {"OP": f"{{0,{w}}}"} if isinstance(w, int) else _token_spec(w)
        for w in _phrase_words(phrase, tokenizer)
    ]
    if not pattern or all(set(p) == {"OP"} for p in pattern):
        raise PatternError(f"phrase {phrase!r} has no words")
    return pattern


#: Ends every token in a ``token_string`` (a control character no token holds).
_SEP: Final[str] = "\x1f"
#: Starts a token that looks like a number (spaCy's ``LIKE_NUM``) in a ``token_string``.
_NUM: Final[str] = "\x1e"
#: A token's text in a ``token_string``: anything up to its separator.
_ANY: Final[str] = f"[^{_SEP}]*"
#: Separator and marker characters inside a text's own tokens become this one.
_CONTROL: Final[dict[int, str]] = {ord(_SEP): "\x1d", ord(_NUM): "\x1d"}


def token_string(doc: Doc) -> str:
    """The tokens of ``doc`` as one string that ``phrase_regex`` expressions search.

    Every token's lower-cased text ends with ``_SEP`` (the string also starts
    with one), and a token spaCy considers number-like starts with ``_NUM``.
    One regular-expression search per phrase over this string decides what a
    spaCy ``Matcher`` decides token by token, without the Matcher's Python
    walk over every token on every call (the rules' largest cost before).
    """
    if _SEP in doc.text or _NUM in doc.text:
        # The text itself holds a separator or marker: neutralise it inside tokens.
        parts = [(_NUM if t.like_num else "") + t.lower_.translate(_CONTROL) for t in doc]
    else:
        parts = [_NUM + t.lower_ if t.like_num else t.lower_ for t in doc]
    return _SEP + _SEP.join(parts) + _SEP


def _token_regex(word: _Word) -> str:
    """One parsed word as an expression matching one token and its separator."""
    if word.number:
        body = f"{_NUM}{_ANY}"
    else:
        alts = [re.escape(a) for a in word.literals] or [
            f"{_ANY if lead else ''}{core}{_ANY if tail else ''}" for lead, core, tail in word.alts
        ]
        body = f"{_NUM}?(?:{'|'.join(alts)})"
    return f"(?:{body}{_SEP})" + ("?" if word.optional else "")


def phrase_regex(phrase: str, tokenizer: Any) -> re.Pattern[str]:
    """Compile one phrase into a regular expression over ``token_string``.

    It matches exactly where ``compile_phrase``'s ``Matcher`` pattern
    matches the same tokens (a test checks both on every gold sentence):
    each word consumes one token and its separator, a ``~n`` gap up to n
    tokens, and the match starts right after a separator, i.e. at a token.
    """
    words = _phrase_words(phrase, tokenizer)
    if all(isinstance(w, int) or w.optional for w in words):
        # A Matcher drops empty matches; such a phrase would match everywhere here.
        raise PatternError(f"phrase {phrase!r} has no required word")
    pieces = [
        f"(?:[^{_SEP}]+{_SEP}){{0,{w}}}" if isinstance(w, int) else _token_regex(w) for w in words
    ]
    try:
        return re.compile(f"(?<={_SEP})" + "".join(pieces))
    except re.error as exc:
        raise PatternError(f"cannot compile phrase {phrase!r}: {exc}") from exc


def _literals(word: str) -> tuple[str, ...]:
    """What a token matching one phrase word must contain: one of these strings.

    Each ``|`` alternative's longest literal run ("organi?ation" -> "ation",
    "traffick*" -> "traffick"), lower-cased.  Empty when the word requires
    nothing: a gap, a number, an optional word, or an alternative with no
    literal part (a bare ``*`` matches any token).
    """
    if word.startswith("~") or word == "#" or (word.endswith("?") and len(word) > 1):
        return ()
    alts = tuple(max(re.split(r".\?", a.strip("*")), key=len) for a in word.lower().split("|"))
    return alts if alts and all(alts) else ()


def _anchors(phrase: str) -> tuple[str, ...]:
    """The literal alternatives of the phrase's most selective required word.

    A text can only match the phrase if it contains one of these strings
    (lower-cased), which makes a cheap pre-filter before the ``Matcher``.
    """
    best: tuple[str, ...] = ()
    for word in phrase.split():
        alts = _literals(word)
        if alts and min(map(len, alts)) > min(map(len, best), default=0):
            best = alts
    return best


def _required(phrase: str, tokenizer: Any) -> tuple[tuple[str, ...], ...]:
    """Per required word of ``phrase``, the literal strings one of which must occur.

    A match gives each required token a lower-cased text containing one of
    ``_literals(word)``; plain words are split by ``tokenizer`` as
    ``compile_phrase`` splits them, each piece required.  So a lower-cased
    text lacking every string of some group cannot match.
    """
    groups: list[tuple[str, ...]] = []
    for word in phrase.split():
        if any(c in word for c in "*|?#~"):
            if alts := _literals(word):
                groups.append(alts)
            continue
        groups.extend((t.text.lower(),) for t in tokenizer(word) if t.text.strip())
    return tuple(dict.fromkeys(groups))


def _as_phrases(value: Any, where: str) -> tuple[str, ...]:
    """Flatten a phrases block: a list, or a mapping language -> list."""
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list):
        return tuple(str(v) for v in value)
    if isinstance(value, dict):
        out: list[str] = []
        for lang, items in value.items():
            out.extend(_as_phrases(items, f"{where}.{lang}"))
        return tuple(out)
    raise PatternError(f"{where}: expected a list of phrases, got {type(value).__name__}")


def _read_yaml(name: str) -> dict[str, Any]:
    """Read a packaged pattern file (package data, not a data table)."""
    ref = resources.files("tipnlp.nlp") / "patterns" / name
    try:
        data = yaml.safe_load(ref.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise PatternError(f"pattern file patterns/{name} is missing") from exc
    except yaml.YAMLError as exc:
        raise PatternError(f"pattern file patterns/{name} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise PatternError(f"pattern file patterns/{name} must hold a mapping")
    return data


@lru_cache(maxsize=1)
def load_rules() -> dict[str, LabelRules]:
    """Load every label's rules, in scheme order; fails naming the bad file."""
    out: dict[str, LabelRules] = {}
    for label in LABELS:
        data = _read_yaml(f"{label}.yaml")
        if data.get("label", label) != label:
            raise PatternError(f"patterns/{label}.yaml declares label {data.get('label')!r}")
        out[label] = LabelRules(
            label=label,
            requires_context=bool(data.get("requires_context", label in SIGNAL_LABELS)),
            phrases=_as_phrases(data.get("phrases"), f"{label}.phrases"),
            exclude=_as_phrases(data.get("exclude"), f"{label}.exclude"),
            description=str(data.get("description", "")).strip(),
            applies_to=_as_phrases(data.get("applies_to"), f"{label}.applies_to"),
        )
    return out


@lru_cache(maxsize=1)
def _context_phrases() -> dict[str, tuple[str, ...]]:
    """Trafficking, generic and hard-negative phrases from ``context.yaml``."""
    data = _read_yaml("context.yaml")
    return {
        _POSITIVE: _as_phrases(data.get("trafficking"), "context.trafficking"),
        _GENERIC: _as_phrases(data.get("generic"), "context.generic"),
        _NEGATIVE: _as_phrases(data.get("negative"), "context.negative"),
    }


def _nlp() -> Language:
    """The shared tokenizer for rules: multi-language, so one pattern set serves all.

    ``tipnlp.nlp.vocab.shared_nlp``: the same tokens as ``spacy.blank("xx")``
    on a lean vocabulary, shared with the gazetteer.
    """
    return shared_nlp()


@lru_cache(maxsize=1)
def _compiled() -> _Compiled:
    """Compile every label's, exclusion's and context's phrases."""
    nlp = _nlp()
    comp = _Compiled()
    groups: list[tuple[str, Iterable[str]]] = []
    for label, rules in load_rules().items():
        groups.append((label, rules.phrases))
        groups.append((f"!{label}", rules.exclude))
    groups.extend(_context_phrases().items())
    for key, phrases in groups:
        for phrase in phrases:
            rule = _Rule(
                key,
                phrase,
                _anchors(phrase),
                phrase_regex(phrase, nlp.tokenizer),
                _required(phrase, nlp.tokenizer),
            )
            index = len(comp.rules)
            comp.rules.append(rule)
            if not rule.anchors:
                comp.always.append(index)
            for anchor in rule.anchors:
                comp.by_anchor.setdefault(anchor, []).append(index)
    comp.anchor_sizes = tuple(sorted({len(a) for a in comp.by_anchor}))
    return comp


def _all_hits(text: str) -> dict[str, list[str]]:
    """Every matched phrase, grouped by key (labels, ``!label`` exclusions, context)."""
    if not text:
        return {}
    lowered = text.lower()
    comp = _compiled()
    candidates = set(comp.always)
    for word in set(lowered.split()):
        candidates.update(comp.unlocked(word))
    tokens: str | None = None
    out: dict[str, list[str]] = {}
    for index in sorted(candidates):
        rule = comp.rules[index]
        found = out.get(rule.key)
        if found is not None and rule.phrase in found:
            continue
        if not all(any(a in lowered for a in group) for group in rule.required):
            continue
        if tokens is None:
            tokens = token_string(_nlp().make_doc(text))
        if rule.regex.search(tokens):
            out.setdefault(rule.key, []).append(rule.phrase)
    return out


def _context_flags(hits: dict[str, list[str]]) -> tuple[bool, bool]:
    """(about trafficking, about a hard negative) from context hits."""
    positive = bool(hits.get(_POSITIVE))
    negative = bool(hits.get(_NEGATIVE))
    generic = bool(hits.get(_GENERIC))
    about = positive or (generic and not negative)
    return about, negative and not positive


def rule_hits(text: str) -> dict[str, list[str]]:
    """Which label phrases match ``text`` (exclusions applied; no context check).

    Returns ``{label: [phrase, ...]}`` for labels with at least one match, for
    use as model features or to explain a rule decision.
    """
    hits = _all_hits(text)
    return {label: hits[label] for label in LABELS if hits.get(label) and not hits.get(f"!{label}")}


def trafficking_context(text: str) -> bool:
    """Whether ``text`` is about human trafficking in the Palermo sense.

    True for specific terms (human trafficking, forced labour, slavery, sexual
    exploitation, trata de personas ...), and for a bare "trafficking" unless
    the text names a hard negative (drug, arms, wildlife trafficking, migrant
    smuggling) without any specific term.
    """
    about, _negative = _context_flags(_all_hits(text))
    return about


def negative_context(text: str) -> bool:
    """Whether ``text`` is about a hard negative and not about human trafficking."""
    _about, negative = _context_flags(_all_hits(text))
    return negative


_LIST_ITEM_RE: Final[re.Pattern[str]] = re.compile(
    r"^[-–—•·\s]*(?:\(?(?:\d{1,3}|[a-zA-Z]|[ivxlcIVXLC]{1,6})\)|(?:\d{1,3}|[a-z])[.)]\s|[IVXLC]{1,6}[.)]?\s*[-–.]\s|[-–•·]\s)"
)
_OPEN_END_RE: Final[re.Pattern[str]] = re.compile(
    r"(?:[:—–,;]|-{1,2}|\b(?:means|includes|include|following|or|and|if|who|where|to|of|by|the|a|when|cuando|que|si|ou|et|o|y|e))\s*$",
    re.IGNORECASE,
)


_HEADING_VERB_RE: Final[re.Pattern[str]] = re.compile(
    r"\b(?:shall|must|may|is|are|was|were|will|means|has|have|includes?|constitutes?"
    # the same auxiliaries in the other languages the rules cover
    r"|será|est|é|es|debe|deben|deberá|podrá|puede|sont|doit|doivent|peut|peuvent|sera"
    r"|são|deve|devem|pode|podem|è|sono|devono|può|possono|viene|vengono|hanno"
    r"|ist|sind|wird|werden|muss|müssen|kann|können)\b",
    re.IGNORECASE,
)


def _is_heading(text: str) -> bool:
    """A short line that names a topic (labels.md: a heading alone is none)."""
    words = text.split()
    if len(words) > 8 or not words or text.rstrip()[-1:] in ",;:—–-":
        return False
    if text.lstrip()[:1].islower():
        return False
    return _HEADING_VERB_RE.search(text) is None


def _continues(text: str) -> bool:
    """Whether ``text`` continues the previous piece: a list item or a wrapped tail."""
    stripped = text.lstrip()
    return bool(_LIST_ITEM_RE.match(stripped)) or (stripped[:1].islower())


def _opens_list(text: str) -> bool:
    """Whether ``text`` ends open, so the pieces after it belong to it (a lead-in)."""
    return bool(_OPEN_END_RE.search(text.rstrip()))


class RuleTagger:
    """Labels sentences with the YAML rules; implements the ``Tagger`` protocol.

    Scores are 0 or 1 per label (scheme order) with thresholds of 0.5; every
    chosen label's source is ``"rule"``.
    """

    version: str = RULES_VERSION

    def __init__(self) -> None:
        self.rules = load_rules()
        _compiled()  # fail early, naming a bad pattern file
        self.thresholds = dict.fromkeys(LABELS, 0.5)
        #: Kinds some label is restricted to; other kinds (or None) restrict nothing.
        self.known_kinds = {k for r in self.rules.values() for k in r.applies_to}

    def predict(self, items: Sequence[SentenceInput]) -> list[Prediction]:
        """Return one prediction per item, in order.

        Items passed in document order carry context forward: when an item's
        ``prev`` is the previous item's text (and the title is the same), a
        trafficking mention earlier in the document still counts.
        """
        out: list[Prediction] = []
        doc_about = False
        lead_labels: list[str] = []
        prev_item: SentenceInput | None = None
        title_cache: dict[str, tuple[bool, bool]] = {}
        for item in items:
            same_doc = (
                prev_item is not None
                and item.prev is not None
                and item.prev == prev_item.text
                and item.title == prev_item.title
            )
            if not same_doc:
                doc_about = False
            hits = _all_hits(item.text)
            about, negative = _context_flags(hits)
            title_about = title_negative = False
            if item.title:
                if item.title not in title_cache:
                    title_cache[item.title] = _context_flags(_all_hits(item.title))
                title_about, title_negative = title_cache[item.title]
            prev_about = False
            if item.prev and not same_doc:
                prev_about = _context_flags(_all_hits(item.prev))[0]
            in_context = about or title_about or prev_about or doc_about
            suppressed = negative or (title_negative and not about)
            heading = _is_heading(item.text)
            labels: list[str] = []
            for label, rules in self.rules.items():
                if not hits.get(label) or hits.get(f"!{label}") or suppressed:
                    continue
                if heading and label in PROVISION_LABELS:
                    continue  # "19. Immigration status of victims." names a topic only
                if rules.requires_context and not in_context:
                    continue
                if (
                    rules.applies_to
                    and item.kind in self.known_kinds
                    and item.kind not in rules.applies_to
                ):
                    continue
                labels.append(label)
            # Decided case 1: list items and wrapped tails carry the labels of
            # the lead-in they belong to ("The term coercion means—" / "(A) threats").
            if same_doc and _continues(item.text):
                carried = [lab for lab in lead_labels if lab not in labels and not suppressed]
                labels = [lab for lab in LABELS if lab in labels or lab in carried]
            else:
                lead_labels = []
            if _opens_list(item.text):
                lead_labels = [
                    lab for lab in PROVISION_LABELS if lab in labels or lab in lead_labels
                ]
            elif not (same_doc and _continues(item.text)):
                lead_labels = []
            scores = {label: (1.0 if label in labels else 0.0) for label in LABELS}
            out.append(
                Prediction(
                    scores=scores,
                    labels=labels,
                    thresholds=dict(self.thresholds),
                    sources=dict.fromkeys(labels, "rule"),
                    tagger="rules",
                )
            )
            doc_about = doc_about or about or title_about or prev_about
            prev_item = item
        return out
