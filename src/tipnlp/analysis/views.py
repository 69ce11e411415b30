"""DuckDB over an output folder: the tables as views, plus the views analysts ask for.

``connect(out_dir)`` opens an in-memory DuckDB database whose views read the
Parquet parts of ``OUT/<table>/`` in place (nothing is copied, so opening a
large corpus is instant and queries stream).  Besides one view per table it
defines:

* ``penalties``: penalty sentences with their figures and the document's
  jurisdiction and URL;
* ``provisions``: statute and treaty sentences, one row per provision label;
* ``signal_sentences``: every news, press-release and report sentence with
  the country it is about and its month (the denominators of the rates);
* ``signals``: the same, one row per enforcement-signal label;
* ``checklist``: the Palermo checklist per jurisdiction (``checklist.py``).

A read-only connection (the default, and the only kind ``tipnlp query``
uses) cannot write anywhere: the database lives in memory, file access is
switched off except for the exact Parquet files the views read, extension
auto-loading is off and the configuration is locked; on top of that
``check_read_only`` accepts a single ``SELECT`` statement and nothing else.
"""

from __future__ import annotations

import io as _stdio
import json
import os
from pathlib import Path
from typing import Final

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from tipnlp import io
from tipnlp.analysis.checklist import checklist_sql
from tipnlp.errors import TipnlpError
from tipnlp.labels import PROVISION_LABELS, SIGNAL_LABELS
from tipnlp.schemas import schema_for

#: Tables read from the output folder, each exposed as a view of the same name.
TABLES: Final[tuple[str, ...]] = ("documents", "sentences", "sentence_labels", "entities")

#: Document kinds whose sentences say what the law is.
LAW_KINDS: Final[tuple[str, ...]] = ("statute", "treaty")

#: Document kinds whose sentences report what happens in practice.
NEWS_KINDS: Final[tuple[str, ...]] = ("news", "press_release", "report")

#: Output formats of ``format_result``.
FORMATS: Final[tuple[str, ...]] = ("table", "csv", "json", "parquet")

#: Views ``connect`` defines, in the order they are created.
VIEWS: Final[tuple[str, ...]] = (
    *TABLES,
    "penalties",
    "provisions",
    "signal_sentences",
    "signals",
    "checklist",
)


class QueryError(TipnlpError):
    """A query was refused (not a single SELECT) or failed; the message says why."""


def _sql_list(values: tuple[str, ...] | list[str]) -> str:
    """A SQL list literal of strings: ['a', 'b']."""
    return "[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def _in_list(values: tuple[str, ...]) -> str:
    """A SQL IN list of strings: ('a', 'b')."""
    return "(" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + ")"


def _table_view(con: duckdb.DuckDBPyConnection, out_dir: Path, table: str) -> list[str]:
    """Create the view of one table; return the files it reads.

    The parts are read with ``union_by_name`` and unioned, by name, with an
    empty table of the current schema, so a table with no files is an empty
    view with every column, and files written under an older schema still
    have every column (null where they lack it).  Hidden and private files
    (temporaries of an interrupted write) are not read.
    """
    empty = f"_empty_{table}"
    con.register(empty, schema_for(table).empty_table())
    files = [str(p.resolve()) for p in io.dataset_files(out_dir, table)]
    if files:
        source = (
            f"SELECT * FROM read_parquet({_sql_list(files)}, union_by_name = true) "
            f"UNION ALL BY NAME SELECT * FROM {empty}"
        )
    else:
        source = f"SELECT * FROM {empty}"
    con.execute(f"CREATE VIEW {table} AS {source}")
    return files


def _derived_views(con: duckdb.DuckDBPyConnection) -> None:
    """Create the analysis views on top of the table views."""
    law = _in_list(LAW_KINDS)
    news = _in_list(NEWS_KINDS)
    # Jurisdictions as collectors wrote them ("United Kingdom", "UK", "GB") -> one form.
    from tipnlp.nlp.entities import normalize_jurisdiction

    raw = [
        row[0]
        for row in con.execute(
            "SELECT DISTINCT jurisdiction FROM documents WHERE jurisdiction IS NOT NULL"
        ).fetchall()
    ]
    con.register(
        "_jurisdictions",
        pa.table(
            {
                "raw": pa.array(raw, pa.string()),
                "norm": pa.array([normalize_jurisdiction(r) for r in raw], pa.string()),
            }
        ),
    )
    # One row per doc_id (the latest fetch) for joins, and only usable documents.
    con.execute(
        """
        CREATE VIEW _docs AS
        SELECT d.* REPLACE (coalesce(m.norm, d.jurisdiction) AS jurisdiction)
        FROM documents d LEFT JOIN _jurisdictions m ON m.raw = d.jurisdiction
        WHERE coalesce(d.status, 'ok') = 'ok'
        QUALIFY row_number() OVER (PARTITION BY d.doc_id
                                   ORDER BY d.fetched_at DESC NULLS LAST) = 1
        """
    )
    con.execute(
        f"""
        CREATE VIEW penalties AS
        SELECT s.doc_id, s.sent_id, d.jurisdiction, d.kind, d.title, d.url, d.published,
               s.unit, s.text, s.prison_min_years, s.prison_max_years,
               coalesce(s.prison_life, false) AS prison_life,
               coalesce(s.death_penalty, false) AS death_penalty, s.fine_text,
               (s.prison_min_years IS NOT NULL OR s.prison_max_years IS NOT NULL
                OR coalesce(s.prison_life, false) OR coalesce(s.death_penalty, false)
                OR s.fine_text IS NOT NULL) AS has_figures,
               d.kind IN {law} AS is_law
        FROM sentences s JOIN _docs d ON d.doc_id = s.doc_id
        WHERE list_contains(s.labels, 'penalty')
        """
    )
    con.execute(
        f"""
        CREATE VIEW provisions AS
        SELECT s.doc_id, s.sent_id, d.jurisdiction, d.kind, d.title, d.url, s.unit,
               l.label, s.text, s.labels
        FROM sentences s JOIN _docs d ON d.doc_id = s.doc_id,
             unnest(s.labels) AS l(label)
        WHERE d.kind IN {law} AND l.label IN {_in_list(PROVISION_LABELS)}
        """
    )
    # Country: the sentence's own countries, else its document's, else unknown (NULL).
    # Date: the publication date; where a source gave none, the day it was fetched.
    con.execute(
        f"""
        CREATE VIEW signal_sentences AS
        WITH base AS (
            SELECT s.doc_id, s.sent_id, s.text, s.labels, d.kind, d.title, d.url,
                   coalesce(try_cast(left(d.published, 10) AS DATE),
                            try_cast(left(d.published, 7) || '-01' AS DATE)) AS pub_date,
                   CAST(d.fetched_at AS DATE) AS fetch_date,
                   CASE WHEN len(coalesce(s.countries, [])) > 0 THEN s.countries
                        WHEN len(coalesce(d.countries, [])) > 0 THEN d.countries
                        ELSE [NULL::VARCHAR] END AS cs
            FROM sentences s JOIN _docs d ON d.doc_id = s.doc_id
            WHERE d.kind IN {news}
        )
        SELECT doc_id, sent_id, unnest(cs) AS country,
               coalesce(pub_date, fetch_date) AS date,
               strftime(coalesce(pub_date, fetch_date), '%Y-%m') AS month,
               CASE WHEN pub_date IS NOT NULL THEN 'published' ELSE 'fetched' END
                   AS date_source,
               kind, title, url, text, labels
        FROM base
        """
    )
    con.execute(
        f"""
        CREATE VIEW signals AS
        SELECT b.doc_id, b.sent_id, b.country, b.date, b.month, b.date_source, l.label,
               b.kind, b.title, b.url, b.text
        FROM signal_sentences b, unnest(b.labels) AS l(label)
        WHERE l.label IN {_in_list(SIGNAL_LABELS)}
        """
    )
    con.execute(f"CREATE VIEW checklist AS {checklist_sql()}")


def connect(out_dir: str | os.PathLike[str], read_only: bool = True) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with every view over ``out_dir``.

    ``read_only=True`` locks the connection down (see the module docstring);
    ``read_only=False`` leaves it open for library code that wants to add
    its own temporary tables.  A missing folder is an error; a folder
    without some table gives that view no rows.
    """
    root = Path(out_dir)
    if not root.is_dir():
        raise QueryError(f"{root}: output folder not found")
    con = duckdb.connect(":memory:")
    try:
        con.execute("SET TimeZone = 'UTC'")
        files: list[str] = []
        for table in TABLES:
            files += _table_view(con, root, table)
        _derived_views(con)
        if read_only:
            con.execute("SET autoinstall_known_extensions = false")
            con.execute("SET autoload_known_extensions = false")
            con.execute(f"SET allowed_paths = {_sql_list(files)}")
            con.execute("SET enable_external_access = false")
            con.execute("SET lock_configuration = true")
    except BaseException:
        con.close()
        raise
    return con


def check_read_only(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    """Accept exactly one ``SELECT`` statement (``WITH``, ``FROM``, ``DESCRIBE`` included).

    Everything else (``COPY``, ``ATTACH``, ``INSTALL``, ``SET``, ``CREATE``,
    ``PRAGMA``, ``CALL``, several statements) raises ``QueryError`` before
    anything runs.
    """
    if not sql.strip():
        raise QueryError("empty query")
    try:
        statements = con.extract_statements(sql)
    except duckdb.Error as exc:
        raise QueryError(f"could not parse the query: {exc}") from None
    if len(statements) != 1:
        raise QueryError(
            f"one statement at a time, got {len(statements)}; tipnlp query is read-only"
        )
    kind = statements[0].type
    if kind != duckdb.StatementType.SELECT:
        raise QueryError(
            f"only SELECT queries are allowed, got {kind.name}: tipnlp query is read-only"
        )


def run_query(con: duckdb.DuckDBPyConnection, sql: str) -> pa.Table:
    """Run one read-only query on ``con`` and return all rows as an Arrow table."""
    check_read_only(con, sql)
    try:
        return con.sql(sql).to_arrow_table()
    except duckdb.Error as exc:
        raise QueryError(f"query failed: {str(exc).strip()}") from None


def query(out_dir: str | os.PathLike[str], sql: str) -> pa.Table:
    """Run one read-only SQL query over ``out_dir``: what ``tipnlp query`` does."""
    con = connect(out_dir, read_only=True)
    try:
        return run_query(con, sql)
    finally:
        con.close()


def _jsonable(table: pa.Table) -> list[dict[str, object]]:
    """Rows as plain Python objects (dates and decimals become strings when dumped)."""
    return table.to_pylist()


def _flatten_for_csv(table: pa.Table) -> pa.Table:
    """Nested columns (lists, structs) as JSON text, since CSV has no nesting."""
    columns = []
    for column in table.columns:
        if pa.types.is_nested(column.type):
            values = [
                None if v is None else json.dumps(v, ensure_ascii=False, default=str)
                for v in column.to_pylist()
            ]
            columns.append(pa.array(values, pa.string()))
        else:
            columns.append(column)
    return pa.table(columns, names=table.column_names)


def format_result(table: pa.Table, fmt: str) -> bytes:
    """Serialise a query result as ``csv``, ``json`` (an array of objects) or ``parquet``.

    Returns bytes so the caller decides where they go (stdout, or a file
    written atomically by ``tipnlp.io``).
    """
    if fmt == "csv":
        buf = _stdio.BytesIO()
        pacsv.write_csv(_flatten_for_csv(table), buf)
        return buf.getvalue()
    if fmt == "json":
        text = json.dumps(_jsonable(table), ensure_ascii=False, default=str, indent=1)
        return (text + "\n").encode("utf-8")
    if fmt == "parquet":
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink, compression="zstd")
        return bytes(sink.getvalue().to_pybytes())
    raise QueryError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
