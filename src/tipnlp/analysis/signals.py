"""Country signals: what news, press releases and reports say enforcement looks like.

Counts and rates of the six enforcement-signal labels (corruption, victims
penalized, arrests, prosecutions, convictions, resource gaps) by country and
month, each row linked to example sentences.

* A sentence's country is the one it names; a sentence naming none takes its
  document's countries (metadata plus place names); a document with none is
  counted under an unknown (null) country.  A sentence about two countries
  counts for both, so per-country figures do not add up to the corpus total.
* A sentence's month is its document's publication month, else the month it
  was fetched (``date_source`` in the ``signals`` view says which).
* ``per_1000_sentences`` divides by all news/press/report sentences of that
  country and month (labelled or not), so busy months do not look worse
  merely for having more text; ``share_of_documents`` is the share of that
  country's documents in that month with at least one such sentence.

All of it is SQL on the ``signal_sentences`` and ``signals`` views.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

from tipnlp.labels import SIGNAL_LABELS

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

#: Columns a signal table can be grouped by.
GROUP_KEYS: Final[tuple[str, ...]] = ("country", "month")


def _validate(by: Sequence[str], labels: Sequence[str]) -> None:
    """Reject unknown grouping keys and labels with a message naming them."""
    if not by or any(k not in GROUP_KEYS for k in by) or len(set(by)) != len(by):
        raise ValueError(f"group by one or more of {GROUP_KEYS}, got {list(by)}")
    unknown = [lab for lab in labels if lab not in SIGNAL_LABELS]
    if unknown or not labels:
        raise ValueError(f"signal labels are {list(SIGNAL_LABELS)}, got {list(labels)}")


def signal_counts_sql(
    by: Sequence[str] = GROUP_KEYS,
    labels: Sequence[str] = SIGNAL_LABELS,
    max_evidence: int = 5,
) -> str:
    """SQL for counts and rates per group and label (every label, zeros included).

    Columns: the ``by`` keys, ``label``, ``n_sentences``, ``n_documents``,
    ``total_sentences``, ``total_documents``, ``per_1000_sentences``,
    ``share_of_documents``, and ``evidence`` (up to ``max_evidence``
    ``{doc_id, sent_id, date, url, text}`` structs, newest first).
    """
    _validate(by, labels)
    keys = ", ".join(by)
    sent_key = "doc_id || '#' || CAST(sent_id AS VARCHAR)"
    label_rows = ", ".join(f"({i}, '{lab}')" for i, lab in enumerate(labels))
    join = " AND ".join(f"n.{k} IS NOT DISTINCT FROM d.{k}" for k in by)
    return f"""
    WITH denom AS (
        SELECT {keys}, count(DISTINCT {sent_key}) AS total_sentences,
               count(DISTINCT doc_id) AS total_documents
        FROM signal_sentences GROUP BY {keys}
    ),
    lab(ord, label) AS (VALUES {label_rows}),
    num AS (
        SELECT {keys}, label, count(DISTINCT {sent_key}) AS n_sentences,
               count(DISTINCT doc_id) AS n_documents,
               list({{'doc_id': doc_id, 'sent_id': sent_id, 'date': date, 'url': url,
                     'text': text}} ORDER BY date DESC, doc_id, sent_id) AS evidence
        FROM signals GROUP BY {keys}, label
    )
    SELECT {", ".join(f"d.{k}" for k in by)}, lab.label,
           coalesce(n.n_sentences, 0) AS n_sentences,
           coalesce(n.n_documents, 0) AS n_documents,
           d.total_sentences, d.total_documents,
           1000.0 * coalesce(n.n_sentences, 0) / d.total_sentences AS per_1000_sentences,
           CAST(coalesce(n.n_documents, 0) AS DOUBLE) / d.total_documents
               AS share_of_documents,
           coalesce(list_slice(n.evidence, 1, {int(max_evidence)}), []) AS evidence
    FROM denom d CROSS JOIN lab
    LEFT JOIN num n ON {join} AND n.label = lab.label
    ORDER BY {", ".join(f"d.{k} NULLS LAST" for k in by)}, lab.ord
    """


def signal_counts(
    con: duckdb.DuckDBPyConnection,
    by: Sequence[str] = GROUP_KEYS,
    labels: Sequence[str] = SIGNAL_LABELS,
    max_evidence: int = 5,
) -> pa.Table:
    """Counts and rates of signal labels per group (see ``signal_counts_sql``)."""
    return con.sql(signal_counts_sql(by, labels, max_evidence)).to_arrow_table()


def signal_evidence(
    con: duckdb.DuckDBPyConnection,
    label: str | None = None,
    country: str | None = None,
    month: str | None = None,
    limit: int = 50,
) -> pa.Table:
    """The sentences behind a count: filter by label, country and month (None = any).

    Parameters are bound, never pasted into the SQL, so any value is safe.
    """
    if label is not None:
        _validate(GROUP_KEYS, [label])
    return con.sql(
        """
        SELECT doc_id, sent_id, country, date, month, date_source, label, kind, title, url,
               text
        FROM signals
        WHERE (CAST($1 AS VARCHAR) IS NULL OR label = $1)
          AND (CAST($2 AS VARCHAR) IS NULL OR country = $2)
          AND (CAST($3 AS VARCHAR) IS NULL OR month = $3)
        ORDER BY date DESC, doc_id, sent_id
        LIMIT $4
        """,
        params=[label, country, month, int(limit)],
    ).to_arrow_table()
