"""Inter-annotator agreement and the list of disagreements to adjudicate.

For every task two or more people annotated, each pair of annotators gives
one observation per label (did each choose it?).  Observations are pooled
over tasks and pairs, then per label we report Cohen's kappa
(``sklearn.metrics.cohen_kappa_score``: agreement corrected for chance, the
usual yardstick for guideline clarity) and F1 between annotators (symmetric:
``2·both / (chosen by first + chosen by second)``, which ignores the many
sentences both left without the label, so rare labels are not flattered).
Kappa is undefined (``None``) when neither annotator ever chose the label
or both always did; F1 is undefined when neither chose it.
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sklearn.metrics import cohen_kappa_score

from tipnlp.labels import LABELS

_FIGURES = ("prison_min_years", "prison_max_years", "prison_life", "death_penalty", "fine_text")


@dataclass
class LabelAgreement:
    """Agreement on one label over all annotator pairs."""

    label: str
    pairs: int
    chosen_first: int
    chosen_second: int
    both: int
    kappa: float | None
    f1: float | None


@dataclass
class Disagreement:
    """A task whose annotators did not agree: what to adjudicate."""

    task_id: str
    text: str
    doc_id: str | None
    sent_id: int | None
    labels: list[str]
    by_annotator: dict[str, list[str]]
    figures: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_row(self) -> dict[str, Any]:
        """A JSON-ready dict (for ``--out disagreements.jsonl``)."""
        return {
            "task_id": self.task_id,
            "doc_id": self.doc_id,
            "sent_id": self.sent_id,
            "text": self.text,
            "disputed_labels": self.labels,
            "by_annotator": self.by_annotator,
            "figures": self.figures,
        }


@dataclass
class AgreementReport:
    """Per-label agreement, summary figures and the disagreements."""

    tasks: int
    multi_annotated: int
    annotators: list[str]
    pairs: int
    per_label: list[LabelAgreement]
    disagreements: list[Disagreement]

    @property
    def mean_kappa(self) -> float | None:
        """Mean kappa over labels where it is defined."""
        values = [la.kappa for la in self.per_label if la.kappa is not None]
        return sum(values) / len(values) if values else None

    @property
    def micro_f1(self) -> float | None:
        """F1 between annotators pooled over all labels."""
        both = sum(la.both for la in self.per_label)
        chosen = sum(la.chosen_first + la.chosen_second for la in self.per_label)
        return 2 * both / chosen if chosen else None

    @property
    def exact_agreement(self) -> float | None:
        """Share of annotator pairs that chose exactly the same label set."""
        if not self.pairs:
            return None
        disagreeing_pairs = sum(
            sum(
                1
                for a, b in itertools.combinations(sorted(d.by_annotator), 2)
                if d.by_annotator[a] != d.by_annotator[b]
            )
            for d in self.disagreements
            if d.labels
        )
        return 1 - disagreeing_pairs / self.pairs


def _figures_of(row: Mapping[str, Any]) -> dict[str, Any]:
    return {k: row.get(k) for k in _FIGURES if row.get(k) not in (None, False)}


def agreement(rows: Iterable[Mapping[str, Any]]) -> AgreementReport:
    """Compute agreement over ``annotations`` rows (one row per task and annotator).

    Tasks with a single annotator count toward ``tasks`` only.  When one person
    annotated a task twice, their latest row counts.
    """
    by_task: dict[str, dict[str, Mapping[str, Any]]] = defaultdict(dict)
    for row in rows:
        tid, who = str(row["task_id"]), str(row.get("annotator") or "unknown")
        old = by_task[tid].get(who)
        if old is None or str(row.get("annotated_at") or "") >= str(old.get("annotated_at") or ""):
            by_task[tid][who] = row
    first: dict[str, list[int]] = {lab: [] for lab in LABELS}
    second: dict[str, list[int]] = {lab: [] for lab in LABELS}
    disagreements: list[Disagreement] = []
    annotators: set[str] = set()
    pairs = multi = 0
    for tid in sorted(by_task, key=lambda t: (len(t), t)):
        anns = by_task[tid]
        if len(anns) < 2:
            continue
        multi += 1
        annotators.update(anns)
        sets = {who: set(r.get("labels") or []) for who, r in anns.items()}
        for a, b in itertools.combinations(sorted(anns), 2):
            pairs += 1
            for lab in LABELS:
                first[lab].append(int(lab in sets[a]))
                second[lab].append(int(lab in sets[b]))
        union = set().union(*sets.values())
        common = set.intersection(*sets.values())
        disputed = [lab for lab in LABELS if lab in union - common]
        figures = {who: _figures_of(r) for who, r in anns.items() if "penalty" in sets[who]}
        figures_differ = len({repr(sorted(f.items())) for f in figures.values()}) > 1
        if disputed or figures_differ:
            any_row = next(iter(anns.values()))
            disagreements.append(
                Disagreement(
                    task_id=tid,
                    text=str(any_row.get("text", "")),
                    doc_id=any_row.get("doc_id"),
                    sent_id=any_row.get("sent_id"),
                    labels=disputed,
                    by_annotator={
                        who: [lab for lab in LABELS if lab in sets[who]] for who in sorted(anns)
                    },
                    figures=figures if figures_differ else {},
                )
            )
    per_label: list[LabelAgreement] = []
    for lab in LABELS:
        ya, yb = first[lab], second[lab]
        n_a, n_b = sum(ya), sum(yb)
        both = sum(x & y for x, y in zip(ya, yb, strict=True))
        kappa: float | None = None
        if ya and len(set(ya) | set(yb)) > 1:
            value = float(cohen_kappa_score(ya, yb))
            kappa = None if math.isnan(value) else value
        f1 = 2 * both / (n_a + n_b) if n_a + n_b else None
        per_label.append(LabelAgreement(lab, len(ya), n_a, n_b, both, kappa, f1))
    return AgreementReport(
        tasks=len(by_task),
        multi_annotated=multi,
        annotators=sorted(annotators),
        pairs=pairs,
        per_label=per_label,
        disagreements=disagreements,
    )
