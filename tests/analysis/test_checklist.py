"""The Palermo checklist on hand-written statutes whose right answers are known."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tipnlp.analysis.checklist import CRITERION_KEYS, checklist, checklist_sql
from tipnlp.analysis.views import connect


@pytest.fixture(scope="module")
def cells(out_dir: Path) -> dict[tuple[str, str], dict[str, Any]]:
    rows = checklist(connect(out_dir)).to_pylist()
    return {(r["jurisdiction"], r["criterion"]): r for r in rows}


def _statuses(cells: dict[tuple[str, str], dict[str, Any]], jur: str) -> dict[str, str]:
    return {key: cells[(jur, key)]["status"] for key in CRITERION_KEYS}


def test_one_row_per_jurisdiction_and_criterion(cells: dict[Any, Any]) -> None:
    assert {j for j, _ in cells} == {"GB", "NZ", "IE", "FR"}
    assert len(cells) == 4 * len(CRITERION_KEYS)


def test_complete_law_is_yes_everywhere(cells: dict[Any, Any]) -> None:
    assert set(_statuses(cells, "GB").values()) == {"yes"}
    assert cells[("GB", "max_penalty_4y")]["detail"] == "max 14 years"


def test_definition_without_means(cells: dict[Any, Any]) -> None:
    got = _statuses(cells, "NZ")
    assert got["definition_act"] == "yes"
    assert got["definition_purpose"] == "yes"
    assert got["definition_means"] == "no"
    assert got["consent_irrelevant"] == "no"
    # A child definition alone does not drop the means.
    assert got["child_no_means"] == "no"


def test_law_without_non_punishment_or_residence(cells: dict[Any, Any]) -> None:
    got = _statuses(cells, "NZ")
    assert got["non_punishment"] == "no"
    # Repatriation is immigration but not a permit to stay (art. 7 vs art. 8).
    assert got["residence_permits"] == "no"
    assert got["victim_assistance"] == "no"


def test_penalty_threshold(cells: dict[Any, Any]) -> None:
    assert cells[("NZ", "max_penalty_4y")]["status"] == "no"
    assert cells[("NZ", "max_penalty_4y")]["detail"] == "max 2 years"
    assert cells[("IE", "max_penalty_4y")]["status"] == "yes"
    assert cells[("IE", "max_penalty_4y")]["detail"] == "life imprisonment"
    # A fine without a prison term decides nothing.
    assert cells[("FR", "max_penalty_4y")]["status"] == "not found"


def test_jurisdiction_spellings_are_merged(cells: dict[Any, Any]) -> None:
    got = _statuses(cells, "IE")
    assert got["definition_act"] == "yes"  # from the doc marked "Ireland"
    assert got["max_penalty_4y"] == "yes"  # from the doc marked "IE"


def test_without_the_core_law_absence_is_not_found(cells: dict[Any, Any]) -> None:
    got = _statuses(cells, "FR")
    assert got["victim_assistance"] == "yes"
    for key in ("definition_act", "definition_means", "non_punishment", "residence_permits"):
        assert got[key] == "not found"


def test_evidence_points_at_the_sentence(cells: dict[Any, Any], out_dir: Path) -> None:
    cell = cells[("GB", "non_punishment")]
    assert cell["n_evidence"] == 1
    (ev,) = cell["evidence"]
    assert (ev["doc_id"], ev["sent_id"]) == ("law-full", 5)
    assert ev["url"] == "https://example.org/law/full"
    assert "shall not be prosecuted" in ev["text"]
    assert "art. 26" in cell["instrument"]
    assert cells[("GB", "consent_irrelevant")]["instrument"] == "Palermo Protocol art. 3(b)"
    assert cells[("NZ", "definition_means")]["evidence"] == []


def test_penalty_evidence_is_highest_first(tmp_path: Path, make_out: Any) -> None:
    law = [
        (
            {"doc_id": "a", "kind": "statute", "jurisdiction": "KE"},
            [
                {"text": "A trafficker commits an offence.", "labels": ["criminalization"]},
                {"text": "Attempt: up to 3 years.", "labels": ["penalty"], "prison_max_years": 3.0},
                {
                    "text": "Trafficking: 7 to 20 years.",
                    "labels": ["penalty"],
                    "prison_min_years": 7.0,
                    "prison_max_years": 20.0,
                },
                {
                    "text": "Not less than 10 years.",
                    "labels": ["penalty"],
                    "prison_min_years": 10.0,
                },
            ],
        ),
    ]
    out = make_out(tmp_path, law)
    (row,) = [r for r in checklist(connect(out)).to_pylist() if r["criterion"] == "max_penalty_4y"]
    assert row["status"] == "yes" and row["detail"] == "max 20 years"
    assert [e["sent_id"] for e in row["evidence"]] == [2, 3, 1]
    small = checklist(connect(out), max_evidence=1).to_pylist()
    assert all(len(r["evidence"]) <= 1 for r in small)


@pytest.mark.parametrize(
    ("text", "key", "expected"),
    [
        (
            "The victim's consent shall not be a defence to a charge under this section.",
            "consent_irrelevant",
            "yes",
        ),
        ("It is immaterial whether the victim gave consent.", "consent_irrelevant", "yes"),
        (
            "Whether or not the victim consented to the travel, the offence is committed.",
            "consent_irrelevant",
            "yes",
        ),
        (
            "A person who recruits another with the consent of a parent commits an offence.",
            "consent_irrelevant",
            "no",
        ),
        ("It is an offence whether or not the person gave consent.", "consent_irrelevant", "yes"),
        (
            "Where the victim has not attained the age of 18 years, the means need not be proved.",
            "child_no_means",
            "yes",
        ),
        ("A child victim shall receive special care.", "child_no_means", "no"),
        (
            "Any person who recruits another by deception for forced labour commits an offence.",
            "definition_means",
            "yes",
        ),
        (
            "Any person who recruits another for forced labour commits an offence.",
            "definition_means",
            "no",
        ),
        (
            "This Act on the recruitment of persons for exploitation came into force in 2005.",
            "definition_means",
            "no",
        ),
        (
            "Recruiting a person by force for exploitation while an order is in force is an "
            "offence.",
            "definition_means",
            "yes",
        ),
    ],
)
def test_cue_patterns(tmp_path: Path, make_out: Any, text: str, key: str, expected: str) -> None:
    out = make_out(
        tmp_path,
        [
            (
                {"doc_id": "x", "kind": "statute", "jurisdiction": "ZA"},
                [{"text": text, "labels": ["criminalization"]}],
            )
        ],
    )
    rows = {r["criterion"]: r["status"] for r in checklist(connect(out)).to_pylist()}
    assert rows[key] == expected


def test_news_and_documents_without_jurisdiction_are_ignored(tmp_path: Path, make_out: Any) -> None:
    out = make_out(
        tmp_path,
        [
            (
                {"doc_id": "n", "kind": "news", "jurisdiction": "GB"},
                [{"text": "The law makes trafficking an offence.", "labels": ["criminalization"]}],
            ),
            (
                {"doc_id": "s", "kind": "statute"},
                [{"text": "Trafficking is an offence.", "labels": ["criminalization"]}],
            ),
        ],
    )
    assert checklist(connect(out)).num_rows == 0


def test_invalid_evidence_limit() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        checklist_sql(0)
