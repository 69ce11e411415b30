"""Countries, agencies and legal instruments named in a text.

Analysts filter and group by country, so every document and sentence needs
the ISO 3166 alpha-2 codes of the places it is about.  Country names come
from ``pycountry`` (ISO names, official and common names) plus the short
names, aliases and demonyms that news and reports actually use ("the UK",
"Burma", "Ivory Coast", "Nigerian", "Filipina").  Agencies (INTERPOL, ILO,
UNODC, the FBI, ...) and instruments (the Palermo Protocol, the TVPA, the
Modern Slavery Act, Directive 2011/36/EU, ...) come from a small gazetteer
written here.

Matching is a spaCy ``PhraseMatcher`` gazetteer on the tokenizer of
``spacy.blank("xx")``, the one the rules use (``tipnlp.nlp.vocab.shared_nlp``:
with ``spacy.blank("en")``, used before, it finds exactly the same entities
on the gold documents, and sharing it splits each text chunk once): no
statistical model, so it is fast, deterministic
and works offline.  Two matchers run side by side: a case-sensitive one for
country names, demonyms and acronyms ("ICE" the agency, never "ice"; "US",
never "us") and a case-insensitive one for multi-word agency and
instrument names, whose capitalisation varies between documents.  When
matches overlap the longest wins (``spacy.util.filter_spans``), so "Guinea"
inside "Papua New Guinea", "Equatorial Guinea" or "Guinea-Bissau" resolves
to the longer country and "Niger" is never found inside "Nigeria".

Known ambiguities, kept simple and documented in ``docs/analysis.md``:

* Some longer phrases are *blockers*: they win the longest-match contest
  and then produce nothing ("Latin America", "New Mexico", "New South Wales",
  "Indian Ocean", "Atlanta, Georgia", "District of Georgia", ...).
* "Georgia" is the country (GE) unless it reads as the US state: another US
  state within three words ("Alabama, Florida, Georgia"), "Town, Georgia"
  where the town is not a country, or a blocker ("Atlanta, Georgia",
  "District of Georgia").
* "Chad" and "Jordan" are dropped when a neighbouring word is capitalised
  (a personal name such as "Michael Jordan" or "Chad Smith").
* Bare "Congo" is the Republic of the Congo (CG), as in ISO 3166; "DRC",
  "DR Congo" and the full name give CD.  Bare "Korea" is South Korea (KR).
* Kosovo has no ISO 3166 code and is not reported.
"""

from __future__ import annotations

import bisect
import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import pycountry
from spacy.language import Language
from spacy.matcher import PhraseMatcher
from spacy.tokens import Doc, Span
from spacy.util import filter_spans

from tipnlp.nlp.vocab import shared_nlp

COUNTRY: Final = "COUNTRY"
AGENCY: Final = "AGENCY"
INSTRUMENT: Final = "INSTRUMENT"
ENTITY_TYPES: Final[tuple[str, ...]] = (COUNTRY, AGENCY, INSTRUMENT)

#: Internal type of phrases that only exist to beat a shorter, wrong match.
_BLOCK: Final = "BLOCK"


@dataclass(frozen=True)
class Entity:
    """One named country, agency or instrument: character offsets into the text.

    ``code`` is the ISO 3166 alpha-2 code for countries and the canonical
    name for agencies and instruments, so different spellings group together.
    """

    start: int
    end: int
    text: str
    entity_type: str
    code: str


# --- the gazetteer ---------------------------------------------------------------

#: Short names and aliases pycountry does not list (or lists only with commas).
COUNTRY_ALIASES: Final[dict[str, tuple[str, ...]]] = {
    "US": ("US", "U.S.", "USA", "U.S.A.", "United States of America", "America"),
    "GB": (
        "UK",
        "U.K.",
        "Britain",
        "Great Britain",
        "England",
        "Scotland",
        "Wales",
        "Northern Ireland",
        "United Kingdom of Great Britain and Northern Ireland",
    ),
    "RU": ("Russia",),
    "IR": ("Iran", "Persia"),
    "SY": ("Syria",),
    "VN": ("Vietnam", "Viet Nam"),
    "LA": ("Laos", "Lao PDR"),
    "MM": ("Burma", "Myanmar"),
    "CI": ("Ivory Coast", "Cote d'Ivoire", "Côte d’Ivoire", "Cote d’Ivoire"),
    "CD": (
        "DRC",
        "DR Congo",
        "D.R. Congo",
        "Democratic Republic of the Congo",
        "Democratic Republic of Congo",
        "Congo-Kinshasa",
    ),
    "CG": ("Republic of the Congo", "Congo-Brazzaville", "Congo Republic"),
    "KR": ("South Korea", "Republic of Korea", "Korea"),
    "KP": ("North Korea", "DPRK"),
    "CN": ("China", "PRC", "People's Republic of China", "Mainland China"),
    "TW": ("Taiwan", "Chinese Taipei"),
    "MO": ("Macau", "Macao"),
    "BO": ("Bolivia",),
    "VE": ("Venezuela",),
    "TZ": ("Tanzania",),
    "MD": ("Moldova",),
    "FM": ("Micronesia",),
    "PS": ("Palestine", "State of Palestine"),
    "CZ": ("Czech Republic", "Czechia"),
    "TR": ("Turkey", "Türkiye", "Turkiye"),
    "SZ": ("Swaziland", "Eswatini"),
    "CV": ("Cape Verde", "Cabo Verde"),
    "MK": ("Macedonia", "North Macedonia"),
    "BN": ("Brunei",),
    "VA": ("Vatican", "Vatican City", "Holy See"),
    "TL": ("East Timor", "Timor-Leste"),
    "NL": ("Holland", "The Netherlands"),
    "AE": ("UAE", "U.A.E.", "Emirates"),
    "BA": ("Bosnia",),
    "SA": ("KSA",),
    "NG": ("Niger Delta",),
    "KN": ("St Kitts and Nevis", "St. Kitts and Nevis", "Saint Kitts and Nevis"),
    "LC": ("St Lucia", "St. Lucia"),
    "VC": ("St Vincent and the Grenadines", "St. Vincent and the Grenadines"),
    "VG": ("British Virgin Islands",),
    "VI": ("US Virgin Islands", "U.S. Virgin Islands"),
}

#: Demonyms and adjectives of nationality (singular; plurals are derived).
DEMONYMS: Final[dict[str, tuple[str, ...]]] = {
    "AF": ("Afghan",),
    "AL": ("Albanian",),
    "DZ": ("Algerian",),
    "AO": ("Angolan",),
    "AR": ("Argentine", "Argentinian", "Argentinean"),
    "AM": ("Armenian",),
    "AU": ("Australian",),
    "AT": ("Austrian",),
    "AZ": ("Azerbaijani",),
    "BH": ("Bahraini",),
    "BD": ("Bangladeshi",),
    "BY": ("Belarusian",),
    "BE": ("Belgian",),
    "BZ": ("Belizean",),
    "BJ": ("Beninese",),
    "BT": ("Bhutanese",),
    "BO": ("Bolivian",),
    "BA": ("Bosnian",),
    "BW": ("Botswanan",),
    "BR": ("Brazilian",),
    "BG": ("Bulgarian",),
    "BF": ("Burkinabe", "Burkinabè"),
    "MM": ("Burmese", "Myanmarese"),
    "BI": ("Burundian",),
    "KH": ("Cambodian",),
    "CM": ("Cameroonian",),
    "CA": ("Canadian",),
    "TD": ("Chadian",),
    "CL": ("Chilean",),
    "CN": ("Chinese",),
    "CO": ("Colombian",),
    "CD": ("Congolese",),
    "CR": ("Costa Rican",),
    "CI": ("Ivorian",),
    "HR": ("Croatian",),
    "CU": ("Cuban",),
    "CY": ("Cypriot",),
    "CZ": ("Czech",),
    "DK": ("Danish",),
    "DJ": ("Djiboutian",),
    "DO": ("Dominican",),
    "EC": ("Ecuadorian", "Ecuadorean"),
    "EG": ("Egyptian",),
    "SV": ("Salvadoran", "Salvadorian"),
    "ER": ("Eritrean",),
    "EE": ("Estonian",),
    "ET": ("Ethiopian",),
    "FJ": ("Fijian",),
    "PH": ("Filipino", "Filipina", "Philippine"),
    "FI": ("Finnish",),
    "FR": ("French",),
    "GA": ("Gabonese",),
    "GM": ("Gambian",),
    "GE": ("Georgian",),
    "DE": ("German",),
    "GH": ("Ghanaian",),
    "GR": ("Greek",),
    "GT": ("Guatemalan",),
    "GN": ("Guinean",),
    "GY": ("Guyanese",),
    "HT": ("Haitian",),
    "HN": ("Honduran",),
    "HK": ("Hongkonger",),
    "HU": ("Hungarian",),
    "IS": ("Icelandic",),
    "IN": ("Indian",),
    "ID": ("Indonesian",),
    "IR": ("Iranian",),
    "IQ": ("Iraqi",),
    "IE": ("Irish",),
    "IL": ("Israeli",),
    "IT": ("Italian",),
    "JM": ("Jamaican",),
    "JP": ("Japanese",),
    "JO": ("Jordanian",),
    "KZ": ("Kazakh", "Kazakhstani"),
    "KE": ("Kenyan",),
    "KW": ("Kuwaiti",),
    "KG": ("Kyrgyz",),
    "LA": ("Lao", "Laotian"),
    "LV": ("Latvian",),
    "LB": ("Lebanese",),
    "LS": ("Basotho",),
    "LR": ("Liberian",),
    "LY": ("Libyan",),
    "LT": ("Lithuanian",),
    "MG": ("Malagasy",),
    "MW": ("Malawian",),
    "MY": ("Malaysian",),
    "MV": ("Maldivian",),
    "ML": ("Malian",),
    "MT": ("Maltese",),
    "MR": ("Mauritanian",),
    "MU": ("Mauritian",),
    "MX": ("Mexican",),
    "MD": ("Moldovan",),
    "MN": ("Mongolian",),
    "ME": ("Montenegrin",),
    "MA": ("Moroccan",),
    "MZ": ("Mozambican",),
    "NA": ("Namibian",),
    "NP": ("Nepali", "Nepalese"),
    "NL": ("Dutch",),
    "NZ": ("New Zealander",),
    "NI": ("Nicaraguan",),
    "NE": ("Nigerien",),
    "NG": ("Nigerian",),
    "KP": ("North Korean",),
    "MK": ("Macedonian",),
    "NO": ("Norwegian",),
    "OM": ("Omani",),
    "PK": ("Pakistani",),
    "PS": ("Palestinian",),
    "PA": ("Panamanian",),
    "PG": ("Papua New Guinean",),
    "PY": ("Paraguayan",),
    "PE": ("Peruvian",),
    "PL": ("Polish",),
    "PT": ("Portuguese",),
    "QA": ("Qatari",),
    "RO": ("Romanian",),
    "RU": ("Russian",),
    "RW": ("Rwandan",),
    "SA": ("Saudi", "Saudi Arabian"),
    "SN": ("Senegalese",),
    "RS": ("Serbian",),
    "SL": ("Sierra Leonean",),
    "SG": ("Singaporean",),
    "SK": ("Slovak",),
    "SI": ("Slovenian", "Slovene"),
    "SO": ("Somali",),
    "ZA": ("South African",),
    "KR": ("South Korean", "Korean"),
    "SS": ("South Sudanese",),
    "ES": ("Spanish",),
    "LK": ("Sri Lankan",),
    "SD": ("Sudanese",),
    "SR": ("Surinamese",),
    "SE": ("Swedish",),
    "CH": ("Swiss",),
    "SY": ("Syrian",),
    "TW": ("Taiwanese",),
    "TJ": ("Tajik",),
    "TZ": ("Tanzanian",),
    "TH": ("Thai",),
    "TL": ("Timorese",),
    "TG": ("Togolese",),
    "TT": ("Trinidadian",),
    "TN": ("Tunisian",),
    "TR": ("Turkish",),
    "TM": ("Turkmen",),
    "UG": ("Ugandan",),
    "UA": ("Ukrainian",),
    "AE": ("Emirati",),
    "GB": ("British", "Scottish", "Welsh"),
    "US": ("American",),
    "UY": ("Uruguayan",),
    "UZ": ("Uzbek",),
    "VE": ("Venezuelan",),
    "VN": ("Vietnamese",),
    "YE": ("Yemeni",),
    "ZM": ("Zambian",),
    "ZW": ("Zimbabwean",),
}

#: Phrases that contain a country name or demonym but are not about that country.
BLOCKERS: Final[tuple[str, ...]] = (
    "Latin America",
    "Latin American",
    "Latin Americans",
    "South America",
    "South American",
    "South Americans",
    "North America",
    "North American",
    "North Americans",
    "Central America",
    "Central American",
    "Central Americans",
    "Native American",
    "Native Americans",
    "African American",
    "African Americans",
    "American Indian",
    "American Indians",
    "Indian Ocean",
    "West Indian",
    "West Indies",
    "New Mexico",
    "New Mexican",
    "New Jersey",
    "New England",
    "New South Wales",
    "New Guinea",
    "Guinea pig",
    "Atlanta, Georgia",
    "Savannah, Georgia",
    "District of Georgia",
    "State of Georgia",
    "Georgia Bureau of Investigation",
    "Georgia General Assembly",
    "Official Code of Georgia",
    "Indian Country",
    "US Open",
    "U.S. Open",
    "Jordan River",
    "Lake Chad",
    "French fries",
    "English Channel",
    "Turkey Creek",
)

#: Agencies and organisations: canonical name -> (case-sensitive forms, other forms).
AGENCIES: Final[dict[str, tuple[tuple[str, ...], tuple[str, ...]]]] = {
    "INTERPOL": (("INTERPOL", "Interpol"), ("International Criminal Police Organization",)),
    "Europol": (("Europol", "EUROPOL"), ("European Union Agency for Law Enforcement Cooperation",)),
    "Eurojust": (("Eurojust",), ()),
    "Frontex": (("Frontex",), ("European Border and Coast Guard Agency",)),
    "ILO": (
        ("ILO",),
        (
            "International Labour Organization",
            "International Labour Organisation",
            "International Labor Organization",
            "International Labour Office",
        ),
    ),
    "IOM": (("IOM",), ("International Organization for Migration",)),
    "UNODC": (
        ("UNODC",),
        ("United Nations Office on Drugs and Crime", "UN Office on Drugs and Crime"),
    ),
    "UNHCR": (
        ("UNHCR",),
        ("UN Refugee Agency", "United Nations High Commissioner for Refugees"),
    ),
    "UNICEF": (("UNICEF",), ("United Nations Children's Fund",)),
    "OHCHR": (("OHCHR",), ("Office of the High Commissioner for Human Rights",)),
    "OSCE": (("OSCE",), ("Organization for Security and Co-operation in Europe",)),
    "GRETA": (("GRETA",), ("Group of Experts on Action against Trafficking in Human Beings",)),
    "FBI": (("FBI",), ("Federal Bureau of Investigation",)),
    "ICE": (("ICE",), ("Immigration and Customs Enforcement",)),
    "HSI": (("HSI",), ("Homeland Security Investigations",)),
    "DHS": (("DHS",), ("Department of Homeland Security",)),
    "DOJ": (
        ("DOJ",),
        ("U.S. Department of Justice", "US Department of Justice", "Justice Department"),
    ),
    "CBP": (("CBP",), ("Customs and Border Protection",)),
    "J/TIP": (("J/TIP",), ("Office to Monitor and Combat Trafficking in Persons",)),
    "NCA": (("NCA",), ("National Crime Agency",)),
    "GLAA": (("GLAA",), ("Gangmasters and Labour Abuse Authority",)),
    "NAPTIP": (
        ("NAPTIP",),
        ("National Agency for the Prohibition of Trafficking in Persons",),
    ),
    "UN": (("UN", "U.N."), ("United Nations",)),
    "EU": (("EU", "E.U."), ("European Union",)),
    "Council of Europe": ((), ("Council of Europe",)),
    "ASEAN": (("ASEAN",), ("Association of Southeast Asian Nations",)),
    "African Union": ((), ("African Union",)),
    "SAARC": (("SAARC",), ("South Asian Association for Regional Cooperation",)),
    "ECOWAS": (("ECOWAS",), ("Economic Community of West African States",)),
}

#: Legal instruments: canonical name -> (case-sensitive forms, other forms).
INSTRUMENTS: Final[dict[str, tuple[tuple[str, ...], tuple[str, ...]]]] = {
    "Palermo Protocol": (
        (),
        (
            "Palermo Protocol",
            "Palermo Protocols",
            "Trafficking in Persons Protocol",
            "UN Trafficking Protocol",
            # Also matches the start of the full title (", Especially Women and Children").
            "Protocol to Prevent, Suppress and Punish Trafficking in Persons",
        ),
    ),
    "UNTOC": (
        ("UNTOC",),
        (
            "United Nations Convention against Transnational Organized Crime",
            "UN Convention against Transnational Organized Crime",
            "Convention against Transnational Organized Crime",
            "Convention against Transnational Organised Crime",
            "Palermo Convention",
        ),
    ),
    "TVPA": (
        ("TVPA", "TVPRA"),
        (
            "Trafficking Victims Protection Act",
            "Trafficking Victims Protection Reauthorization Act",
            "Victims of Trafficking and Violence Protection Act",
        ),
    ),
    "Modern Slavery Act": ((), ("Modern Slavery Act",)),
    "Directive 2011/36/EU": (
        (),
        (
            "Directive 2011/36/EU",
            "Directive 2011/36",
            "EU Directive 2011/36",
            "EU Directive 2011/36/EU",
            "EU Anti-Trafficking Directive",
            "Anti-Trafficking Directive",
        ),
    ),
    "Directive (EU) 2024/1712": ((), ("Directive (EU) 2024/1712", "Directive 2024/1712")),
    "Council of Europe Convention on Action against Trafficking in Human Beings": (
        (),
        (
            "Council of Europe Convention on Action against Trafficking in Human Beings",
            "Council of Europe Convention",
            "Council of Europe Anti-Trafficking Convention",
        ),
    ),
    "ILO Forced Labour Convention (No. 29)": (
        ("C029", "C29"),
        ("Forced Labour Convention", "Forced Labor Convention", "ILO Convention No. 29"),
    ),
    "ILO Forced Labour Protocol (2014)": (
        (),
        ("Protocol of 2014 to the Forced Labour Convention", "Forced Labour Protocol"),
    ),
    "ILO Worst Forms of Child Labour Convention (No. 182)": (
        ("C182",),
        ("Worst Forms of Child Labour Convention", "ILO Convention No. 182"),
    ),
    "Convention on the Rights of the Child": (
        ("UNCRC",),
        ("Convention on the Rights of the Child",),
    ),
    "CRC Optional Protocol on the Sale of Children": (
        (),
        (
            "Optional Protocol on the Sale of Children, Child Prostitution and Child Pornography",
            "Optional Protocol to the Convention on the Rights of the Child on the sale of "
            "children, child prostitution and child pornography",
        ),
    ),
    "ASEAN Convention against Trafficking in Persons": (
        ("ACTIP",),
        (
            "ASEAN Convention against Trafficking in Persons",
            "ASEAN Convention against Trafficking in Persons, Especially Women and Children",
        ),
    ),
    "Slavery Convention": (
        (),
        ("Slavery Convention", "Supplementary Convention on the Abolition of Slavery"),
    ),
    "CEDAW": (
        ("CEDAW",),
        ("Convention on the Elimination of All Forms of Discrimination against Women",),
    ),
}

#: Country names that are also given names: dropped next to another capitalised word.
_NAME_LIKE: Final[frozenset[str]] = frozenset({"Chad", "Jordan"})

#: US states (single-word names and the last word of two-word ones): next to "Georgia"
#: they mean the US state, not the country.
_US_STATES: Final[frozenset[str]] = frozenset(
    [
        "Alabama",
        "Alaska",
        "Arizona",
        "Arkansas",
        "California",
        "Colorado",
        "Connecticut",
        "Delaware",
        "Florida",
        "Hawaii",
        "Idaho",
        "Illinois",
        "Indiana",
        "Iowa",
        "Kansas",
        "Kentucky",
        "Louisiana",
        "Maine",
        "Maryland",
        "Massachusetts",
        "Michigan",
        "Minnesota",
        "Mississippi",
        "Missouri",
        "Montana",
        "Nebraska",
        "Nevada",
        "Hampshire",
        "York",
        "Carolina",
        "Dakota",
        "Ohio",
        "Oklahoma",
        "Oregon",
        "Pennsylvania",
        "Island",
        "Tennessee",
        "Texas",
        "Utah",
        "Vermont",
        "Virginia",
        "Washington",
        "Wisconsin",
        "Wyoming",
    ]
)

#: Capitalised words that may precede a country name at a sentence start.
_FUNCTION_WORDS: Final[frozenset[str]] = frozenset(
    {"In", "From", "To", "And", "Of", "The", "For", "With", "Both", "Neighbouring", "Like"}
)

#: Jurisdiction values that name an organisation or no place; they map to no country.
ORGANISATION_JURISDICTIONS: Final[frozenset[str]] = frozenset(
    {"UN", "EU", "COE", "ASEAN", "INT", "ILO", "SAARC", "AU", "OAS", "ECOWAS", "OSCE", "IOM"}
)

_SUBDIVISION = re.compile(r"^([A-Za-z]{2})-[A-Za-z0-9]{1,3}$")


def _plural(word: str) -> str | None:
    """English plural of a demonym ("Nigerians"), or None where it has none ("Swiss")."""
    if word.endswith(("ese", "s", "sh", "ch", "x", "z")):
        return None
    return word + "s"


def _country_phrases() -> dict[str, str]:
    """Every case-sensitive country phrase mapped to its alpha-2 code."""
    phrases: dict[str, str] = {}
    for country in pycountry.countries:
        code = country.alpha_2
        for attr in ("name", "official_name", "common_name"):
            value = getattr(country, attr, None)
            if value and "," not in value:
                phrases.setdefault(value, code)
                phrases.setdefault(value.upper(), code)
    for code, names in COUNTRY_ALIASES.items():
        for name in names:
            phrases[name] = code
            if not name.isupper():
                phrases.setdefault(name.upper(), code)
    for code, words in DEMONYMS.items():
        for word in words:
            phrases[word] = code
            plural = _plural(word)
            if plural:
                phrases[plural] = code
    return phrases


class _Gazetteer:
    """The two phrase matchers and the meaning of each match id."""

    def __init__(self) -> None:
        self.nlp: Language = shared_nlp()
        self.cased = PhraseMatcher(self.nlp.vocab, attr="ORTH")
        self.uncased = PhraseMatcher(self.nlp.vocab, attr="LOWER")
        self.meaning: dict[int, tuple[str, str]] = {}
        cased: dict[tuple[str, str], list[str]] = {}
        uncased: dict[tuple[str, str], list[str]] = {}
        for phrase, code in _country_phrases().items():
            cased.setdefault((COUNTRY, code), []).append(phrase)
        for etype, table in ((AGENCY, AGENCIES), (INSTRUMENT, INSTRUMENTS)):
            for canonical, (exact, loose) in table.items():
                cased.setdefault((etype, canonical), []).extend(exact)
                uncased.setdefault((etype, canonical), []).extend(loose)
        cased[(_BLOCK, "")] = list(BLOCKERS)
        for matcher, groups in ((self.cased, cased), (self.uncased, uncased)):
            for (etype, code), phrases in groups.items():
                if not phrases:
                    continue
                key = f"{etype}|{code}"
                match_id = self.nlp.vocab.strings.add(key)
                self.meaning[match_id] = (etype, code)
                matcher.add(key, [self.nlp.make_doc(p) for p in dict.fromkeys(phrases)])

    def spans(self, doc: Doc) -> list[Span]:
        """Longest non-overlapping matches of both matchers, blockers included."""
        found = [
            Span(doc, start, end, label=match_id)
            for matcher in (self.cased, self.uncased)
            for match_id, start, end in matcher(doc)
        ]
        return filter_spans(found)


@functools.lru_cache(maxsize=1)
def _gazetteer() -> _Gazetteer:
    """Build the matchers once per process (about a tenth of a second)."""
    return _Gazetteer()


def _looks_like_person(doc: Doc, span: Span) -> bool:
    """True when a name-like country ("Jordan") sits next to another capitalised word."""
    if span.text not in _NAME_LIKE:
        return False
    nxt = doc[span.end] if span.end < len(doc) else None
    prev = doc[span.start - 1] if span.start > 0 else None
    if nxt is not None and nxt.is_title and nxt.is_alpha:
        return True
    return bool(
        prev is not None and prev.is_title and prev.is_alpha and prev.text not in _FUNCTION_WORDS
    )


def _looks_like_us_state(doc: Doc, span: Span, country_ends: set[int]) -> bool:
    """True when "Georgia" reads as the US state.

    That is when another US state is named within three words ("Alabama,
    Florida, Georgia") or it follows "Town," ("Moultrie, Georgia") where the
    town is not itself a country ("Russia, Georgia and Ukraine" stays GE).
    """
    if span.text.lower() != "georgia":
        return False
    window = doc[max(0, span.start - 3) : min(len(doc), span.end + 3)]
    if any(tok.text in _US_STATES for tok in window):
        return True
    if span.start >= 2 and doc[span.start - 1].text == ",":
        before = doc[span.start - 2]
        return before.is_title and before.is_alpha and before.i + 1 not in country_ends
    return False


def find_entities(text: str) -> list[Entity]:
    """Countries, agencies and instruments named in ``text``, in text order.

    Offsets are character offsets into ``text`` (end exclusive).  The lead
    tagging stage calls this once per document and maps entities to
    sentences with ``entity_rows``.
    """
    if not text:
        return []
    gaz = _gazetteer()
    doc = gaz.nlp.make_doc(text)
    spans = gaz.spans(doc)
    country_ends = {sp.end for sp in spans if gaz.meaning[sp.label][0] == COUNTRY}
    out: list[Entity] = []
    for span in spans:
        etype, code = gaz.meaning[span.label]
        if etype == _BLOCK:
            continue
        if etype == COUNTRY and (
            _looks_like_person(doc, span) or _looks_like_us_state(doc, span, country_ends)
        ):
            continue
        out.append(Entity(span.start_char, span.end_char, span.text, etype, code))
    return out


def countries_in(text: str) -> list[str]:
    """ISO 3166 alpha-2 codes of the countries named in ``text``, sorted and unique."""
    return sorted({e.code for e in find_entities(text) if e.entity_type == COUNTRY})


def _country_code(value: str) -> str | None:
    """Alpha-2 code for a code, alpha-3 code or country name; None if it is not one."""
    value = value.strip()
    if len(value) <= 3 and value.isalpha():
        value = value.upper()
    if len(value) == 2 and value.isalpha():
        hit = pycountry.countries.get(alpha_2=value)
        if hit is not None:
            return str(hit.alpha_2)
        return "GB" if value == "UK" else None
    if len(value) == 3 and value.isalpha():
        hit = pycountry.countries.get(alpha_3=value)
        if hit is not None:
            return str(hit.alpha_2)
    ents = find_entities(value)
    if (
        len(ents) == 1
        and ents[0].entity_type == COUNTRY
        and ents[0].start == 0
        and ents[0].end == len(value)
    ):
        return ents[0].code
    return None


def normalize_jurisdiction(value: str | None) -> str | None:
    """Canonical jurisdiction: alpha-2 for countries, subdivision codes and organisations kept.

    "United Kingdom" and "UK" give "GB", "Côte d'Ivoire" gives "CI", "us-wa"
    gives "US-WA", and organisations ("UN", "EU", "CoE", "ASEAN") stay as
    written.  Inputs carry whichever form their collector knew; one form per
    jurisdiction is what lets the checklist group a country's laws together.
    """
    if value is None or not value.strip():
        return None
    value = value.strip()
    if _SUBDIVISION.match(value):
        return value.upper()
    code = _country_code(value)
    return code if code is not None else value


def jurisdiction_country(jurisdiction: str | None) -> str | None:
    """The country a jurisdiction belongs to ("US-WA" -> "US"); None for organisations."""
    value = normalize_jurisdiction(jurisdiction)
    if value is None or value.upper() in ORGANISATION_JURISDICTIONS:
        return None
    sub = _SUBDIVISION.match(value)
    if sub:
        return _country_code(sub.group(1).upper())
    return _country_code(value)


def document_countries(
    text: str, jurisdiction: str | None, entities: Sequence[Entity] | None = None
) -> list[str]:
    """Countries a document is about: its jurisdiction's country plus countries named in it.

    ``entities`` are the document's ``find_entities`` result when the caller
    already has them (the tagging stage does), so the text is matched once.
    """
    if entities is None:
        entities = find_entities(text)
    codes = {e.code for e in entities if e.entity_type == COUNTRY}
    own = jurisdiction_country(jurisdiction)
    if own is not None:
        codes.add(own)
    return sorted(codes)


def _sentence_index(starts: Sequence[int], ends: Sequence[int], entity: Entity) -> int | None:
    """Position of the sentence that contains the entity's start, or None."""
    i = bisect.bisect_right(starts, entity.start) - 1
    if i >= 0 and entity.start < ends[i]:
        return i
    return None


def entity_rows(
    doc_id: str, entities: Iterable[Entity], spans: Sequence[tuple[int, int]]
) -> list[dict[str, Any]]:
    """Rows of the ``entities`` table for one document.

    ``spans`` are the (start, end) offsets of its sentences in order, so
    ``sent_id`` is the position of the sentence containing each entity
    (null when it falls between sentences).
    """
    starts = [s for s, _ in spans]
    ends = [e for _, e in spans]
    return [
        {
            "doc_id": doc_id,
            "sent_id": _sentence_index(starts, ends, ent),
            "start": ent.start,
            "end": ent.end,
            "text": ent.text,
            "entity_type": ent.entity_type,
            "code": ent.code,
        }
        for ent in entities
    ]


def countries_by_sentence(
    entities: Iterable[Entity], spans: Sequence[tuple[int, int]]
) -> list[list[str]]:
    """For each sentence span, the sorted unique country codes named inside it."""
    starts = [s for s, _ in spans]
    ends = [e for _, e in spans]
    found: list[set[str]] = [set() for _ in spans]
    for ent in entities:
        if ent.entity_type != COUNTRY:
            continue
        i = _sentence_index(starts, ends, ent)
        if i is not None:
            found[i].add(ent.code)
    return [sorted(codes) for codes in found]
