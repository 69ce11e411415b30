"""Entity gazetteer: countries, demonyms, agencies, instruments, and their traps."""

from __future__ import annotations

import pytest

from tipnlp.nlp.entities import (
    AGENCY,
    COUNTRY,
    INSTRUMENT,
    countries_by_sentence,
    countries_in,
    document_countries,
    entity_rows,
    find_entities,
    jurisdiction_country,
    normalize_jurisdiction,
)


def _found(text: str) -> list[tuple[str, str, str]]:
    return [(e.text, e.entity_type, e.code) for e in find_entities(text)]


def test_offsets_point_into_the_text() -> None:
    text = "Nigerian women were taken to Italy, UNODC said."
    for ent in find_entities(text):
        assert text[ent.start : ent.end] == ent.text
    assert _found(text) == [
        ("Nigerian", COUNTRY, "NG"),
        ("Italy", COUNTRY, "IT"),
        ("UNODC", AGENCY, "UNODC"),
    ]


def test_longest_match_wins_for_guinea_and_niger() -> None:
    text = (
        "Workers from Papua New Guinea, Equatorial Guinea, Guinea-Bissau and Guinea, "
        "and from Niger and Nigeria."
    )
    assert [code for _, _, code in _found(text)] == ["PG", "GQ", "GW", "GN", "NE", "NG"]


@pytest.mark.parametrize(
    ("text", "codes"),
    [
        ("Cases in the USA, the U.S. and America.", ["US"]),
        ("Britain and the UK and Scotland.", ["GB"]),
        ("Burma, also called Myanmar.", ["MM"]),
        ("From Laos and Vietnam to Russia.", ["LA", "RU", "VN"]),
        ("Ivory Coast and Côte d'Ivoire.", ["CI"]),
        ("The DRC and South Korea and North Korea.", ["CD", "KP", "KR"]),
        ("Iran and Syria.", ["IR", "SY"]),
        ("Thai and Filipino workers, two Moldovans.", ["MD", "PH", "TH"]),
    ],
)
def test_aliases_and_demonyms(text: str, codes: list[str]) -> None:
    assert countries_in(text) == codes


@pytest.mark.parametrize(
    "text",
    [
        "Michael Jordan and Chad Smith spoke.",
        "Latin American and South American migrants.",
        "Raids in Atlanta, Georgia and in New Mexico.",
        "Agents in Moultrie, Georgia found the workers.",
        "Brothels in Alabama, Florida, Georgia and Louisiana.",
        "Crimes in Indian Country.",
        "He bought ice and told us.",
        "The States Parties shall cooperate.",
    ],
)
def test_false_positives_are_avoided(text: str) -> None:
    assert countries_in(text) == []


def test_country_names_still_found_next_to_lowercase_words() -> None:
    assert countries_in("Refugees in Jordan and in Chad were recruited.") == ["JO", "TD"]
    assert countries_in("Border guards in Georgia detained them.") == ["GE"]
    assert countries_in("Victims from Russia, Georgia and Ukraine.") == ["GE", "RU", "UA"]


def test_agencies_and_instruments() -> None:
    text = (
        "ICE, HSI and the FBI worked with INTERPOL, Europol and the International "
        "Labour Organization under the Palermo Protocol, the UN Convention against "
        "Transnational Organized Crime, the TVPA, the Modern Slavery Act, Directive "
        "2011/36/EU and the Council of Europe Convention on Action against Trafficking "
        "in Human Beings."
    )
    found = {(t, c) for _, t, c in _found(text)}
    for agency in ("ICE", "HSI", "FBI", "INTERPOL", "Europol", "ILO"):
        assert (AGENCY, agency) in found
    for instrument in (
        "Palermo Protocol",
        "UNTOC",
        "TVPA",
        "Modern Slavery Act",
        "Directive 2011/36/EU",
        "Council of Europe Convention on Action against Trafficking in Human Beings",
    ):
        assert (INSTRUMENT, instrument) in found
    # The long instrument name beats the organisation inside it.
    assert (AGENCY, "Council of Europe") not in found


def test_long_names_match_whatever_the_case() -> None:
    assert _found("the palermo protocol") == [("palermo protocol", INSTRUMENT, "Palermo Protocol")]


@pytest.mark.parametrize(
    ("value", "normal", "country"),
    [
        ("GB", "GB", "GB"),
        ("United Kingdom", "GB", "GB"),
        ("UK", "GB", "GB"),
        ("Moldova", "MD", "MD"),
        ("Côte d'Ivoire", "CI", "CI"),
        ("usa", "US", "US"),
        ("US-WA", "US-WA", "US"),
        ("GB-NIR", "GB-NIR", "GB"),
        ("UN", "UN", None),
        ("EU", "EU", None),
        ("CoE", "CoE", None),
        ("ASEAN", "ASEAN", None),
        (None, None, None),
        ("  ", None, None),
    ],
)
def test_jurisdictions(value: str | None, normal: str | None, country: str | None) -> None:
    assert normalize_jurisdiction(value) == normal
    assert jurisdiction_country(value) == country


def test_document_countries_merge_metadata_and_text() -> None:
    text = "Thai workers were found on farms in Israel."
    assert document_countries(text, "United States") == ["IL", "TH", "US"]
    assert document_countries(text, "EU") == ["IL", "TH"]
    # Entities passed in are used instead of matching the text again.
    assert document_countries(text, None, entities=[]) == []


def test_entities_are_mapped_to_sentences() -> None:
    text = "Police in Kenya acted. ILO staff helped. Uganda too."
    spans = [(0, 22), (23, 40), (41, 52)]
    ents = find_entities(text)
    rows = entity_rows("d1", ents, spans)
    assert [(r["sent_id"], r["code"]) for r in rows] == [(0, "KE"), (1, "ILO"), (2, "UG")]
    assert countries_by_sentence(ents, spans) == [["KE"], [], ["UG"]]
    # An entity outside every sentence gets no sentence.
    assert entity_rows("d1", ents, [(0, 5)])[0]["sent_id"] is None


def test_empty_text() -> None:
    assert find_entities("") == []
    assert countries_in("") == []
