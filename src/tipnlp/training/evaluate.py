"""Evaluate any tagger on a gold file the way the pipeline really runs.

Each gold document's text goes through OUR segmenter (``nlp.segment``), each
of our sentences is tagged with its context (title = first line of the
document if short, and the previous sentence), and our sentences are matched
to the gold sentences by character overlap:

    a gold sentence receives the labels (and the highest scores) of every
    one of our sentences that overlaps it by at least half of the gold
    sentence or at least half of our sentence (non-whitespace characters).

So a gold fragment cut at a line break inside one of our longer sentences
gets that sentence's labels, and one of our short fragments inside a longer
gold sentence passes its labels up.  Metrics are then computed per gold
sentence, so boundaries never change the denominator.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tipnlp.errors import InputError
from tipnlp.io import read_jsonl
from tipnlp.labels import LABEL2ID, LABELS
from tipnlp.nlp.types import Segment, SentenceInput, Tagger
from tipnlp.training.calibration import expected_calibration_error
from tipnlp.training.data import doc_title

#: Share of either span an overlap must cover for our sentence to count (see module doc).
MIN_SHARE = 0.5

Span = tuple[int, int]


def _solid(text: str, start: int, end: int) -> int:
    """Non-whitespace characters of ``text[start:end]``."""
    return sum(1 for c in text[start:end] if not c.isspace())


def match_spans(
    text: str, gold: Sequence[Span], ours: Sequence[Span], min_share: float = MIN_SHARE
) -> list[list[int]]:
    """For each gold span, the indices of our spans that match it (rule in module doc)."""
    out: list[list[int]] = []
    j0 = 0
    order = sorted(range(len(ours)), key=lambda k: ours[k])
    for gs, ge in gold:
        g_len = max(1, _solid(text, gs, ge))
        hits: list[int] = []
        while j0 < len(order) and ours[order[j0]][1] <= gs:
            j0 += 1
        j = j0
        while j < len(order) and ours[order[j]][0] < ge:
            os_, oe = ours[order[j]]
            lo, hi = max(gs, os_), min(ge, oe)
            if hi > lo:
                ov = _solid(text, lo, hi)
                o_len = max(1, _solid(text, os_, oe))
                if ov > 0 and (ov >= min_share * g_len or ov >= min_share * o_len):
                    hits.append(order[j])
            j += 1
        out.append(sorted(hits))
    return out


@dataclass
class LabelScore:
    """Precision, recall, F1 and support (gold positives) of one label."""

    precision: float
    recall: float
    f1: float
    support: int
    predicted: int


@dataclass
class EvalReport:
    """Everything ``tipnlp evaluate`` prints for one tagger."""

    tagger: str
    gold: str
    documents: int
    sentences: int
    per_label: dict[str, LabelScore]
    micro_f1: float
    macro_f1: float
    any_label: LabelScore
    negatives: dict[str, int]
    ece: float
    penalty: dict[str, float | int]
    boundaries: str = "ours"
    taggers_used: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (``--json`` and ``metrics.json``)."""
        d = asdict(self)
        d["per_label"] = {k: asdict(v) for k, v in self.per_label.items()}
        d["any_label"] = asdict(self.any_label)
        return d

    def f1_by_label(self) -> dict[str, float]:
        """``{label: f1}``: what version comparisons print."""
        return {k: v.f1 for k, v in self.per_label.items()}


def _score(y: np.ndarray, pred: np.ndarray) -> LabelScore:
    """P/R/F1 of one binary column (0 when undefined)."""
    tp = int(np.sum((y == 1) & (pred == 1)))
    fp = int(np.sum((y == 0) & (pred == 1)))
    fn = int(np.sum((y == 1) & (pred == 0)))
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return LabelScore(round(p, 4), round(r, 4), round(f, 4), tp + fn, tp + fp)


def multilabel_metrics(
    y: np.ndarray, pred: np.ndarray
) -> tuple[dict[str, LabelScore], float, float, LabelScore]:
    """Per-label scores, micro F1, macro F1 (all 14 labels) and any-label scores."""
    y = np.asarray(y).astype(int)
    pred = np.asarray(pred).astype(int)
    per = {name: _score(y[:, j], pred[:, j]) for j, name in enumerate(LABELS)}
    tp = int(np.sum((y == 1) & (pred == 1)))
    fp = int(np.sum((y == 0) & (pred == 1)))
    fn = int(np.sum((y == 1) & (pred == 0)))
    micro = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
    macro = float(np.mean([s.f1 for s in per.values()]))
    any_label = _score(y.max(axis=1), pred.max(axis=1))
    return per, round(micro, 4), round(macro, 4), any_label


_NUMBER_TOKEN = re.compile(r"\d+(?:[.,]\d+)?|[^\W\d_]+", re.UNICODE)
_DURATION = re.compile(
    r"\b(?:years?|yrs?|months?|años?|anos?|ans|mois|meses|jahre\w*|monate\w*)\b|年",
    re.IGNORECASE,
)
_LIFE = re.compile(r"life|perp[ée]tu", re.IGNORECASE)


def states_term(text: str, gold: dict[str, Any]) -> bool:
    """Whether a gold penalty sentence states its own prison term.

    The gold copies a clause's figures onto fragments the splitter cut from
    it (decided case 1), e.g. "(b) abduction;" under "3 to 20 years"; no
    extractor can read figures from such a fragment.  A sentence states its
    term when it has a prison figure and every figure is written in it
    (digits or words, shortly before a duration word; months count as
    years / 12), or it says "life" when life is annotated.
    """
    from tipnlp.nlp.penalties import parse_number

    lo, hi, life = _term(gold)
    if lo is None and hi is None and not life:
        return False
    written: set[float] = set()
    for m in _NUMBER_TOKEN.finditer(text):
        value = parse_number(m.group(0))
        if value is None or value <= 0 or not _DURATION.search(text[m.end() : m.end() + 30]):
            continue
        written.update({round(value, 3), round(value / 12, 3)})
    if any(v is not None and v not in written for v in (lo, hi)):
        return False
    return not (life and not _LIFE.search(text))


def _term(d: Any) -> tuple[float | None, float | None, bool]:
    """(min, max, life) of a gold dict or a PenaltyFigures, for exact comparison."""
    if isinstance(d, dict):
        mn, mx, life = d.get("prison_min_years"), d.get("prison_max_years"), d.get("prison_life")
    else:
        mn, mx, life = d.prison_min_years, d.prison_max_years, d.prison_life
    return (
        None if mn is None else round(float(mn), 3),
        None if mx is None else round(float(mx), 3),
        bool(life),
    )


def evaluate_tagger(
    tagger: Tagger,
    gold_path: str | Path,
    *,
    segmenter: Callable[..., list[Segment]] | None = None,
    extract_penalty: Callable[[str], Any] | None = None,
    use_context: bool = True,
    gold_boundaries: bool = False,
) -> EvalReport:
    """Score ``tagger`` on a gold file (see the module docstring for the matching rule).

    ``segmenter`` defaults to ``tipnlp.nlp.segment.segment`` and
    ``extract_penalty`` to ``tipnlp.nlp.penalties.extract_penalty``;
    ``gold_boundaries`` tags the gold sentences themselves instead (the
    setting in which TF-IDF's 0.44 reference figure was measured).
    """
    if segmenter is None and not gold_boundaries:
        from tipnlp.nlp.segment import segment as segmenter
    if extract_penalty is None:
        from tipnlp.nlp.penalties import extract_penalty as _extract

        extract_penalty = _extract
    extract = extract_penalty
    p = Path(gold_path)
    docs = list(read_jsonl(p))
    if not docs:
        raise InputError(f"{p}: no gold documents")

    inputs: list[SentenceInput] = []
    doc_spans: list[tuple[dict[str, Any], list[Span], int]] = []
    for n, doc in enumerate(docs, 1):
        text = doc.get("text")
        if not isinstance(text, str) or not isinstance(doc.get("sentences"), list):
            raise InputError(f"{p}: document {doc.get('doc_id', n)} needs text and sentences")
        if gold_boundaries:
            spans = [(int(s["start"]), int(s["end"])) for s in doc["sentences"]]
        else:
            assert segmenter is not None
            spans = [(s.start, s.end) for s in segmenter(text, doc.get("language"))]
        title = doc_title(text) if use_context else None
        prev: str | None = None
        first = len(inputs)
        for s, e in spans:
            sent = " ".join(text[s:e].split())
            inputs.append(
                SentenceInput(
                    text=sent,
                    title=title,
                    prev=prev if use_context else None,
                    language=doc.get("language"),
                    kind=doc.get("kind"),
                    doc=f"{p}#{n}" if use_context else None,
                )
            )
            prev = sent
        doc_spans.append((doc, spans, first))

    preds = tagger.predict(inputs) if inputs else []
    if len(preds) != len(inputs):
        raise InputError(
            f"tagger {tagger.version} returned {len(preds)} predictions for {len(inputs)} sentences"
        )

    y_rows: list[np.ndarray] = []
    p_rows: list[np.ndarray] = []
    s_rows: list[np.ndarray] = []
    neg = {"sentences": 0, "false_positive_sentences": 0, "false_positive_labels": 0}
    pen_total = pen_right = 0
    used: dict[str, int] = {}
    for pr in preds:
        used[pr.tagger] = used.get(pr.tagger, 0) + 1
    for doc, spans, first in doc_spans:
        text = doc["text"]
        gold = [(int(s["start"]), int(s["end"])) for s in doc["sentences"]]
        matches = match_spans(text, gold, spans)
        for gs, idx in zip(doc["sentences"], matches, strict=True):
            y = np.zeros(len(LABELS))
            for name in gs.get("labels") or []:
                y[LABEL2ID[name]] = 1
            pred = np.zeros(len(LABELS))
            score = np.zeros(len(LABELS))
            for k in idx:
                pk = preds[first + k]
                for name in pk.labels:
                    pred[LABEL2ID[name]] = 1
                for name, v in pk.scores.items():
                    if name in LABEL2ID:
                        score[LABEL2ID[name]] = max(score[LABEL2ID[name]], float(v))
            y_rows.append(y)
            p_rows.append(pred)
            s_rows.append(score)
            if doc.get("kind") == "negative":
                neg["sentences"] += 1
                if pred.any():
                    neg["false_positive_sentences"] += 1
                    neg["false_positive_labels"] += int(pred.sum())
            if "penalty" in (gs.get("labels") or []):
                want = _term(gs)
                if states_term(text[int(gs["start"]) : int(gs["end"])], gs):
                    pen_total += 1
                    matched = " ".join(text[spans[k][0] : spans[k][1]] for k in idx)
                    if matched and _term(extract(" ".join(matched.split()))) == want:
                        pen_right += 1

    y_all = np.array(y_rows).reshape(-1, len(LABELS))
    p_all = np.array(p_rows).reshape(-1, len(LABELS))
    s_all = np.array(s_rows).reshape(-1, len(LABELS))
    per, micro, macro, any_label = multilabel_metrics(y_all, p_all)
    return EvalReport(
        tagger=tagger.version,
        gold=str(p),
        documents=len(docs),
        sentences=int(y_all.shape[0]),
        per_label=per,
        micro_f1=micro,
        macro_f1=macro,
        any_label=any_label,
        negatives=neg,
        ece=round(expected_calibration_error(y_all, s_all), 4),
        penalty={
            "sentences_with_term": pen_total,
            "exact": pen_right,
            "accuracy": round(pen_right / pen_total, 4) if pen_total else 0.0,
        },
        boundaries="gold" if gold_boundaries else "ours",
        taggers_used=used,
    )
