"""The Palermo checklist: what each jurisdiction's law covers, against the standard.

For every jurisdiction with statute or treaty text in the output folder, and
for every criterion below, the checklist answers **yes**, **no** or **not
found**, with the sentences that support a *yes* (or, for the penalty
threshold, the sentences whose figures decided it), their URLs, and the
international instrument the criterion comes from.

How a cell is decided (rule-based, on the tagger's labels plus cue patterns):

* **yes**: at least one sentence of the jurisdiction's laws carries one of
  the criterion's labels *and* matches all its cue patterns.
* **no**: the jurisdiction's core trafficking law is in the corpus (it has
  at least one ``definition`` or ``criminalization`` sentence) but no
  sentence qualifies.  For the penalty threshold: figures were found and
  none reaches 4 years (nor life or death).
* **not found**: the core law is not in the corpus (only other provisions
  were collected), so absence proves nothing.  For the penalty threshold:
  no penalty sentence states a prison term.

The answer is about the collected text: a "no" can be a gap in what was
scraped rather than in the law, which is why every "yes" links its evidence.

Everything is computed by one DuckDB query (``checklist_sql``) over the
``sentences`` and ``documents`` views, so it stays fast on large corpora.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

#: UNTOC art. 2(b): a serious crime carries a maximum of at least four years.
SERIOUS_CRIME_YEARS: Final[float] = 4.0

#: Labels that mark a jurisdiction's core trafficking law as present.
CORE_LABELS: Final[tuple[str, ...]] = ("definition", "criminalization")

#: Kinds of documents the checklist reads.
LAW_KINDS: Final[tuple[str, ...]] = ("statute", "treaty")

YES: Final = "yes"
NO: Final = "no"
NOT_FOUND: Final = "not found"


@dataclass(frozen=True)
class Criterion:
    """One column of the checklist.

    A sentence is evidence when it carries one of ``labels`` and matches
    every regular expression in ``cues`` (RE2 syntax, case-insensitive),
    after the phrases matching ``ignore`` are blanked out ("in force" is
    not the means "force").
    """

    key: str
    question: str
    instrument: str
    labels: tuple[str, ...]
    cues: tuple[str, ...] = ()
    ignore: str | None = None


_ACT = (
    r"recruit|transport|transfer|harbou?r|\breceiv(e|es|ed|ing)\b|receipt|obtain|entic"
    r"|\bmaintain|solicit|patroni[sz]|advertis|\bsell|\bsale\b|\bsold\b|\bbuy|\bbought\b"
    r"|purchas|acquir|\blur(e|es|ed|ing)\b|conceal|\bhid(e|es|ing)\b|\bdeliver"
)
_MEANS = (
    r"threat|\bforce\b|forcibl|coerci|abduct|fraud|decepti|deceiv|\bdeceit"
    r"|abuse of (power|authority|a position|position)|vulnerabilit|giving or receiving"
    r"|payments? or benefits|\bviolence|intimidat|kidnap|false pretences|false promise"
    r"|duress|undue influence"
)
_PURPOSE = (
    r"exploit|forced labou?r|slavery|servitude|prostitution|sexual|\borgans?\b"
    r"|commercial sex|debt bondage|forced marriage|begging|pornograph|peonage"
)
_CONSENT = (
    r"consent[^.;]{0,150}(irrelevant|immaterial|no defen[cs]e|not (be )?(a )?(valid )?"
    r"defen[cs]e|not relevant|shall not (be|affect|constitute|exclude|negate)"
    r"|does not (affect|constitute|exclude|negate|matter)|without (legal )?effect"
    r"|not (be )?taken into account)"
    r"|(irrespective|regardless|whether or not|notwithstanding|even with)[^.;]{0,80}consent"
    r"|with or without[^.;]{0,40}consent"
    r"|(irrelevant|immaterial)[^.;]{0,80}consent"
)
_CHILD = (
    r"\bchild|\bminor|(under|below|not attained) the age of (18|eighteen)"
    r"|under (18|eighteen) years|persons? under (18|eighteen)"
)
_NO_MEANS_NEEDED = (
    r"irrelevan|immaterial|even if|even though|even where|even when|regardless|irrespective"
    r"|whether or not|need not|not (be )?necessary|not (be )?required|does not involve"
    r"|notwithstanding|not attained the age|with or without|absence of"
)
_RESIDENCE = (
    r"residen|permit|\bvisas?\b|right to (stay|remain)|remain in|stay in|leave to remain"
    r"|reflection period|deport|removal"
)

#: The checklist columns, in display order (the penalty threshold comes last).
CRITERIA: Final[tuple[Criterion, ...]] = (
    Criterion(
        "definition_act",
        "Definition covers the act (recruitment, transport, transfer, harbouring, receipt)",
        "Palermo Protocol art. 3(a)",
        CORE_LABELS,
        (_ACT,),
    ),
    Criterion(
        "definition_means",
        "Definition covers the means (threat, force, coercion, abduction, fraud, deception, "
        "abuse of power or vulnerability, payments)",
        "Palermo Protocol art. 3(a)",
        CORE_LABELS,
        (_MEANS,),
        ignore=r"\b(in|into|remain in|enter into) force\b|\bforce of law\b",
    ),
    Criterion(
        "definition_purpose",
        "Definition covers the purpose of exploitation",
        "Palermo Protocol art. 3(a)",
        CORE_LABELS,
        (_PURPOSE,),
    ),
    Criterion(
        "consent_irrelevant",
        "Consent of the victim is irrelevant",
        "Palermo Protocol art. 3(b)",
        CORE_LABELS,
        (_CONSENT,),
    ),
    Criterion(
        "child_no_means",
        "For children no means need be shown",
        "Palermo Protocol art. 3(c)",
        CORE_LABELS,
        (_CHILD, _NO_MEANS_NEEDED),
    ),
    Criterion(
        "non_punishment",
        "Victims are not punished for acts they were compelled to commit",
        "Council of Europe Convention art. 26; Directive 2011/36/EU art. 8 (not in the Protocol)",
        ("non_punishment",),
    ),
    Criterion(
        "residence_permits",
        "Victims may stay (residence permit, visa, protection from removal)",
        "Palermo Protocol art. 7",
        ("immigration",),
        (_RESIDENCE,),
    ),
    Criterion(
        "victim_assistance",
        "Victims get assistance and protection (housing, care, counselling, legal aid)",
        "Palermo Protocol art. 6",
        ("victim_protection",),
    ),
)

#: The last column: maximum prison term of at least four years.
PENALTY_CRITERION: Final[Criterion] = Criterion(
    "max_penalty_4y",
    "Maximum prison term is at least 4 years (serious crime)",
    "UN Convention against Transnational Organized Crime art. 2(b)",
    ("penalty",),
)

#: Every column key in display order.
CRITERION_KEYS: Final[tuple[str, ...]] = (*(c.key for c in CRITERIA), PENALTY_CRITERION.key)


def _q(value: str) -> str:
    """A SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def _list(values: tuple[str, ...]) -> str:
    """A SQL list literal of strings."""
    return "[" + ", ".join(_q(v) for v in values) + "]"


def _hits_select(c: Criterion) -> str:
    """The SELECT that lists one criterion's evidence sentences (constant regexes)."""
    cond = [f"list_has_any(labels, {_list(c.labels)})"]
    text = f"regexp_replace(text, {_q(c.ignore)}, ' ', 'gi')" if c.ignore else "text"
    cond += [f"regexp_matches({text}, {_q(cue)}, 'i')" for cue in c.cues]
    return (
        f"SELECT {_q(c.key)} AS criterion, jurisdiction, doc_id, sent_id, text, url, "
        f"NULL::DOUBLE AS years, NULL::DOUBLE AS rank_years, false AS life, false AS death "
        f"FROM law WHERE {' AND '.join(cond)}"
    )


def checklist_sql(max_evidence: int = 10) -> str:
    """The checklist as one SQL query over the views of ``views.connect``.

    One row per (jurisdiction, criterion): ``jurisdiction, ord, criterion,
    question, instrument, status, n_evidence, detail, evidence`` where
    ``evidence`` is a list of ``{doc_id, sent_id, text, url}`` structs (at
    most ``max_evidence``; ``n_evidence`` counts them all).
    """
    if max_evidence < 1:
        raise ValueError("max_evidence must be at least 1")
    law_kinds = ", ".join(_q(k) for k in LAW_KINDS)
    crit_rows = ", ".join(
        f"({i}, {_q(c.key)}, {_q(c.question)}, {_q(c.instrument)})"
        for i, c in enumerate((*CRITERIA, PENALTY_CRITERION), 1)
    )
    hits = "\n        UNION ALL ".join(_hits_select(c) for c in CRITERIA)
    pen = PENALTY_CRITERION.key
    return f"""
    WITH law AS (
        SELECT s.doc_id, s.sent_id, s.text, coalesce(s.labels, []) AS labels,
               s.prison_min_years, s.prison_max_years,
               coalesce(s.prison_life, false) AS life,
               coalesce(s.death_penalty, false) AS death,
               d.jurisdiction, d.url
        FROM sentences s JOIN _docs d ON d.doc_id = s.doc_id
        WHERE d.kind IN ({law_kinds}) AND d.jurisdiction IS NOT NULL
    ),
    juris AS (
        SELECT jurisdiction,
               bool_or(list_has_any(labels, {_list(CORE_LABELS)})) AS has_core
        FROM law GROUP BY jurisdiction
    ),
    crit(ord, criterion, question, instrument) AS (VALUES {crit_rows}),
    hits AS (
        {hits}
        UNION ALL
        SELECT {_q(pen)}, jurisdiction, doc_id, sent_id, text, url,
               greatest(prison_max_years, prison_min_years) AS years,
               CASE WHEN death THEN 1e12 WHEN life THEN 1e9
                    ELSE greatest(prison_max_years, prison_min_years) END AS rank_years,
               life, death
        FROM law
        WHERE list_contains(labels, 'penalty')
          AND (prison_max_years IS NOT NULL OR prison_min_years IS NOT NULL OR life OR death)
    ),
    agg AS (
        SELECT criterion, jurisdiction, count(*) AS n_evidence, max(years) AS max_years,
               bool_or(life) AS any_life, bool_or(death) AS any_death,
               list({{'doc_id': doc_id, 'sent_id': sent_id, 'text': text, 'url': url}}
                    ORDER BY rank_years DESC NULLS LAST, doc_id, sent_id) AS evidence
        FROM hits GROUP BY criterion, jurisdiction
    )
    SELECT j.jurisdiction, c.ord, c.criterion, c.question, c.instrument,
           CASE
             WHEN c.criterion = {_q(pen)} THEN
               CASE WHEN a.n_evidence IS NULL THEN {_q(NOT_FOUND)}
                    WHEN a.any_life OR a.any_death
                         OR a.max_years >= {SERIOUS_CRIME_YEARS} THEN {_q(YES)}
                    ELSE {_q(NO)} END
             WHEN a.n_evidence > 0 THEN {_q(YES)}
             WHEN j.has_core THEN {_q(NO)}
             ELSE {_q(NOT_FOUND)}
           END AS status,
           coalesce(a.n_evidence, 0) AS n_evidence,
           CASE WHEN c.criterion = {_q(pen)} AND a.n_evidence IS NOT NULL THEN
             concat_ws('; ',
               CASE WHEN a.max_years = floor(a.max_years)
                    THEN 'max ' || CAST(CAST(a.max_years AS BIGINT) AS VARCHAR) || ' years'
                    WHEN a.max_years IS NOT NULL
                    THEN 'max ' || CAST(round(a.max_years, 1) AS VARCHAR) || ' years' END,
               CASE WHEN a.any_life THEN 'life imprisonment' END,
               CASE WHEN a.any_death THEN 'death penalty' END)
           END AS detail,
           coalesce(list_slice(a.evidence, 1, {int(max_evidence)}), []) AS evidence
    FROM juris j CROSS JOIN crit c
    LEFT JOIN agg a ON a.jurisdiction = j.jurisdiction AND a.criterion = c.criterion
    ORDER BY j.jurisdiction, c.ord
    """


def checklist(con: duckdb.DuckDBPyConnection, max_evidence: int = 10) -> pa.Table:
    """The checklist (long form, one row per jurisdiction and criterion) as Arrow."""
    return con.sql(checklist_sql(max_evidence)).to_arrow_table()
