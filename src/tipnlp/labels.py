"""The label scheme: the only module that spells the 14 label names.

Everything else (rules, models, schemas, Label Studio config, reports) imports
from here, so a scheme change is one edit plus a version bump.  The scheme
follows ``../shared/spec/labels.md`` (version 1).
"""

from __future__ import annotations

from typing import Final

#: Version of the label scheme (``spec/labels.md``).  Stored with every model,
#: annotation file and Parquet table so mixed versions are detected.
SCHEME_VERSION: Final[int] = 1

#: Provision labels: what a law or treaty says.
PROVISION_LABELS: Final[tuple[str, ...]] = (
    "definition",
    "criminalization",
    "penalty",
    "victim_protection",
    "non_punishment",
    "immigration",
    "prevention",
    "cooperation",
)

#: Enforcement signals: what happens in practice.
SIGNAL_LABELS: Final[tuple[str, ...]] = (
    "corruption",
    "victim_penalized",
    "arrest",
    "prosecution",
    "conviction",
    "resource_gap",
)

#: All labels in canonical order (model output order, column order in reports).
LABELS: Final[tuple[str, ...]] = PROVISION_LABELS + SIGNAL_LABELS

LABEL2ID: Final[dict[str, int]] = {name: i for i, name in enumerate(LABELS)}
ID2LABEL: Final[dict[int, str]] = dict(enumerate(LABELS))

#: One-line descriptions, shown to annotators and in reports.
DESCRIPTIONS: Final[dict[str, str]] = {
    "definition": "Defines trafficking, one of its elements, exploitation, victim, child "
    "or another key term; or says consent or means are irrelevant.",
    "criminalization": "Makes conduct an offence: trafficking, attempt, complicity, "
    "organising, benefiting, corporate liability.",
    "penalty": "Sets a punishment: imprisonment, fine, forfeiture, death penalty, "
    "aggravating circumstances.",
    "victim_protection": "Assistance or protection for victims: shelter, care, legal aid, "
    "privacy, compensation, identification and referral.",
    "non_punishment": "Victims are not punished for acts they were compelled to commit "
    "as a result of being trafficked.",
    "immigration": "Residence permits, visas, protection from deportation, repatriation "
    "and return of victims.",
    "prevention": "Awareness, research, training of officials, demand reduction, "
    "border and document controls, root causes.",
    "cooperation": "Cooperation between states or agencies: information exchange, "
    "mutual legal assistance, extradition, task forces, NGO partnerships.",
    "corruption": "Official complicity: bribes, officials protecting or tipping off "
    "traffickers, obstruction, and allegations of these.",
    "victim_penalized": "Victims treated as offenders: arrested, detained, fined, "
    "prosecuted or deported.",
    "arrest": "Suspected traffickers arrested or raided; rescues; inspections that "
    "find exploitation.",
    "prosecution": "Charges, indictments, investigations, trials or hearings of "
    "trafficking suspects.",
    "conviction": "Convictions, guilty pleas, sentences handed down, acquittals.",
    "resource_gap": "Shortages of funding, staff, shelters, training or capacity; "
    "budget cuts; weak implementation blamed on means.",
}


def label_group(label: str) -> str:
    """Return ``"provision"`` or ``"signal"``; raises ``KeyError`` for unknown names."""
    if label in PROVISION_LABELS:
        return "provision"
    if label in SIGNAL_LABELS:
        return "signal"
    raise KeyError(f"unknown label {label!r}; known: {', '.join(LABELS)}")


def validate_labels(labels: list[str] | tuple[str, ...]) -> list[str]:
    """Return ``labels`` in canonical order, or raise ``ValueError`` naming unknown ones."""
    unknown = sorted(set(labels) - set(LABELS))
    if unknown:
        raise ValueError(f"unknown label(s) {unknown}; scheme v{SCHEME_VERSION} has {list(LABELS)}")
    wanted = set(labels)
    return [name for name in LABELS if name in wanted]
