"""A small output folder written the way the tagging stage writes one.

The statutes and news below are our own wording, made up for the tests; the
labels are what a correct tagger would give them, so the right checklist and
signal answers are known.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tipnlp import io
from tipnlp.labels import LABELS, label_group

S = dict[str, Any]


def _sent(text: str, labels: list[str], **extra: Any) -> S:
    return {"text": text, "labels": labels, **extra}


#: A law that covers every criterion: max 14 years.
FULL_LAW = [
    _sent(
        "In this Act, trafficking in persons means the recruitment, transportation, transfer, "
        "harbouring or receipt of a person by means of threat, force, deception or the abuse "
        "of a position of vulnerability, for the purpose of exploitation.",
        ["definition"],
    ),
    _sent(
        "Exploitation includes sexual exploitation, forced labour, servitude and the removal "
        "of organs.",
        ["definition"],
    ),
    _sent(
        "The consent of a victim to the intended exploitation is irrelevant where any of the "
        "means in section 1 has been used.",
        ["definition"],
    ),
    _sent(
        "Where the person recruited is a child, the offence is committed even if none of the "
        "means in section 1 has been used.",
        ["definition", "criminalization"],
    ),
    _sent(
        "A person who commits trafficking in persons shall be guilty of an offence and liable "
        "to imprisonment for a term of up to 14 years.",
        ["criminalization", "penalty"],
        prison_max_years=14.0,
    ),
    _sent(
        "A victim shall not be prosecuted or punished for an offence that the victim was "
        "compelled to commit as a direct consequence of being trafficked.",
        ["non_punishment"],
    ),
    _sent(
        "A victim may be granted a temporary residence permit for the duration of the proceedings.",
        ["immigration"],
    ),
    _sent(
        "The Minister shall ensure that victims receive safe housing, medical care and legal "
        "counselling.",
        ["victim_protection"],
    ),
]

#: A definition without the means, no non-punishment clause, a 2-year maximum.
NO_MEANS_LAW = [
    _sent(
        "For the purposes of this Part, trafficking means the recruitment, transport, "
        "harbouring or receipt of a person for the purpose of exploitation.",
        ["definition"],
    ),
    _sent("Child means a person under the age of eighteen years.", ["definition"]),
    _sent(
        "Any person who traffics another person commits an offence and is liable to "
        "imprisonment for a term not exceeding 2 years.",
        ["criminalization", "penalty"],
        prison_max_years=2.0,
    ),
    _sent(
        "Victims shall be repatriated to their country of origin without undue delay.",
        ["immigration"],
    ),
]

IE_LAW_1 = [
    _sent(
        "A person who sells or buys a child for the purpose of sexual exploitation shall be "
        "guilty of an offence.",
        ["criminalization"],
    ),
]
IE_LAW_2 = [
    _sent(
        "A person guilty of an offence under section 4 shall be liable to imprisonment for life.",
        ["penalty"],
        prison_life=True,
    ),
]
#: Only side provisions: the core law was not collected.
PARTIAL_LAW = [
    _sent(
        "Victims shall have access to free interpretation during proceedings.",
        ["victim_protection"],
    ),
    _sent("The offence is also punishable by a fine.", ["penalty"], fine_text="a fine"),
]

NEWS_1 = [
    _sent(
        "Police in Thailand arrested four suspected traffickers on Monday.",
        ["arrest"],
        countries=["TH"],
    ),
    _sent("The suspects were charged with trafficking in persons.", ["prosecution"]),
    _sent("The weather was mild.", []),
]
NEWS_2 = [
    _sent("Officers accepted bribes to ignore the brothel.", ["corruption"]),
    _sent(
        "Myanmar workers rescued from the boats were detained for immigration offences.",
        ["victim_penalized"],
        countries=["MM"],
    ),
]
NEWS_3 = [
    _sent("A court in Lagos, Nigeria convicted two traffickers.", ["conviction"], countries=["NG"]),
    _sent("The agency lacks funding for shelters.", ["resource_gap"]),
    _sent("Nothing else happened.", []),
]
NEWS_4 = [_sent("Three men were arrested.", ["arrest"])]

DOCS: list[tuple[S, list[S]]] = [
    (
        {
            "doc_id": "law-full",
            "kind": "statute",
            "jurisdiction": "GB",
            "url": "https://example.org/law/full",
            "title": "Full Act",
        },
        FULL_LAW,
    ),
    (
        {
            "doc_id": "law-nomeans",
            "kind": "statute",
            "jurisdiction": "NZ",
            "url": "https://example.org/law/nomeans",
            "title": "No Means Act",
        },
        NO_MEANS_LAW,
    ),
    (
        {
            "doc_id": "law-ie-1",
            "kind": "statute",
            "jurisdiction": "Ireland",
            "url": "https://example.org/law/ie1",
        },
        IE_LAW_1,
    ),
    (
        {
            "doc_id": "law-ie-2",
            "kind": "statute",
            "jurisdiction": "IE",
            "url": "https://example.org/law/ie2",
        },
        IE_LAW_2,
    ),
    (
        {
            "doc_id": "law-partial",
            "kind": "statute",
            "jurisdiction": "FR",
            "url": "https://example.org/law/partial",
        },
        PARTIAL_LAW,
    ),
    (
        {
            "doc_id": "news-1",
            "kind": "news",
            "published": "2024-03-05",
            "countries": ["TH"],
            "url": "https://example.org/news/1",
            "title": "Arrests in Thailand",
        },
        NEWS_1,
    ),
    (
        {
            "doc_id": "news-2",
            "kind": "news",
            "published": "2024-03-20",
            "countries": ["MM", "TH"],
            "url": "https://example.org/news/2",
        },
        NEWS_2,
    ),
    (
        {
            "doc_id": "news-3",
            "kind": "press_release",
            "published": "2024-04-02",
            "countries": ["NG"],
            "url": "https://example.org/news/3",
        },
        NEWS_3,
    ),
    (
        {
            "doc_id": "news-4",
            "kind": "news",
            "url": "javascript:alert(1)",
            "fetched_at": datetime(2024, 5, 10, tzinfo=UTC),
        },
        NEWS_4,
    ),
    # A failed fetch: a documents row without sentences, to be ignored.
    ({"doc_id": "broken", "kind": "news", "status": "http_404", "error": "not found"}, []),
]


def build_out(out: Path, docs: list[tuple[S, list[S]]] = DOCS, part: str = "0") -> Path:
    """Write documents, sentences, sentence_labels and entities parts below ``out``."""
    doc_rows: list[S] = []
    sent_rows: list[S] = []
    label_rows: list[S] = []
    entity_rows: list[S] = []
    for meta, sents in docs:
        text = ""
        offsets = []
        for s in sents:
            start = len(text)
            text += s["text"]
            offsets.append((start, len(text)))
            text += " "
        row = {
            "status": "ok",
            "countries": [],
            "fetched_at": datetime(2024, 6, 1, tzinfo=UTC),
            **meta,
            "text": text.strip(),
            "n_sentences": len(sents),
        }
        doc_rows.append(row)
        for i, (s, (start, end)) in enumerate(zip(sents, offsets, strict=True)):
            labels = [lab for lab in LABELS if lab in s["labels"]]
            scores = {lab: (0.9 if lab in labels else 0.05) for lab in LABELS}
            sent_rows.append(
                {
                    "doc_id": meta["doc_id"],
                    "sent_id": i,
                    "start": start,
                    "end": end,
                    "text": s["text"],
                    "language": "en",
                    "labels": labels,
                    "scores": scores,
                    "tagger": "model",
                    "countries": s.get("countries", []),
                    "prison_min_years": s.get("prison_min_years"),
                    "prison_max_years": s.get("prison_max_years"),
                    "prison_life": s.get("prison_life", False),
                    "death_penalty": s.get("death_penalty", False),
                    "fine_text": s.get("fine_text"),
                    "model_version": "test-1",
                }
            )
            for lab in labels:
                label_rows.append(
                    {
                        "doc_id": meta["doc_id"],
                        "sent_id": i,
                        "label": lab,
                        "label_group": label_group(lab),
                        "score": 0.9,
                        "threshold": 0.5,
                        "source": "model",
                        "model_version": "test-1",
                    }
                )
            for code in s.get("countries", []):
                entity_rows.append(
                    {
                        "doc_id": meta["doc_id"],
                        "sent_id": i,
                        "start": start,
                        "end": end,
                        "text": code,
                        "entity_type": "COUNTRY",
                        "code": code,
                    }
                )
    io.write_part(out, "documents", part, doc_rows)
    io.write_part(out, "sentences", part, sent_rows)
    io.write_part(out, "sentence_labels", part, label_rows)
    io.write_part(out, "entities", part, entity_rows)
    return out


@pytest.fixture(scope="session")
def out_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample output folder (shared, read-only by convention)."""
    return build_out(tmp_path_factory.mktemp("out"))


@pytest.fixture
def make_out() -> Any:
    """The folder builder, for tests that need their own documents."""
    return build_out
