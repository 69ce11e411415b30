"""DuckDB views over an output folder, and the read-only guarantee of tipnlp query."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tipnlp import io
from tipnlp.analysis.views import (
    VIEWS,
    QueryError,
    connect,
    format_result,
    query,
    run_query,
)
from tipnlp.schemas import schema_for


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_every_view_is_queryable(out_dir: Path) -> None:
    con = connect(out_dir)
    for view in VIEWS:
        run_query(con, f"SELECT * FROM {view}")
    counts = {v: run_query(con, f"SELECT count(*) AS n FROM {v}")["n"][0].as_py() for v in VIEWS}
    assert counts["documents"] == 10
    assert counts["sentences"] == 25
    assert counts["penalties"] == 4
    assert counts["signals"] == 8


def test_penalties_carry_figures_and_provenance(out_dir: Path) -> None:
    rows = query(
        out_dir,
        "SELECT jurisdiction, prison_max_years, prison_life, has_figures, url FROM penalties "
        "ORDER BY jurisdiction",
    ).to_pylist()
    by_j = {r["jurisdiction"]: r for r in rows}
    assert by_j["GB"]["prison_max_years"] == 14.0
    assert by_j["GB"]["url"] == "https://example.org/law/full"
    assert by_j["IE"]["prison_life"] is True
    # "Ireland" and "IE" were written by different collectors: one jurisdiction.
    assert "Ireland" not in by_j


def test_provisions_are_long_form_law_sentences(out_dir: Path) -> None:
    rows = query(out_dir, "SELECT DISTINCT kind, label FROM provisions").to_pylist()
    assert {r["kind"] for r in rows} == {"statute"}
    assert {"definition", "non_punishment", "immigration"} <= {r["label"] for r in rows}
    assert not {r["label"] for r in rows} & {"arrest", "corruption"}


def test_signals_have_country_and_month(out_dir: Path) -> None:
    rows = query(
        out_dir, "SELECT doc_id, sent_id, country, month, date_source, label FROM signals"
    ).to_pylist()
    got = {(r["doc_id"], r["sent_id"], r["country"], r["label"]) for r in rows}
    # A sentence naming no country takes its document's countries (both of them).
    assert ("news-2", 0, "TH", "corruption") in got
    assert ("news-2", 0, "MM", "corruption") in got
    # A sentence naming a country keeps only that one.
    assert ("news-2", 1, "TH", "victim_penalized") not in got
    undated = [r for r in rows if r["doc_id"] == "news-4"]
    assert undated[0]["month"] == "2024-05" and undated[0]["date_source"] == "fetched"
    assert undated[0]["country"] is None


def test_failed_documents_are_left_out_of_joins(out_dir: Path) -> None:
    n = query(out_dir, "SELECT count(*) AS n FROM signal_sentences WHERE doc_id = 'broken'")
    assert n["n"][0].as_py() == 0


def test_empty_folder_gives_empty_views_with_all_columns(tmp_path: Path) -> None:
    con = connect(tmp_path)
    for view in VIEWS:
        assert run_query(con, f"SELECT count(*) AS n FROM {view}")["n"][0].as_py() == 0
    cols = run_query(con, "SELECT * FROM sentences").column_names
    assert cols == schema_for("sentences").names


def test_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(QueryError, match="output folder not found"):
        connect(tmp_path / "nope")


def test_hidden_temporaries_are_not_read(tmp_path: Path, make_out: Any) -> None:
    out = make_out(tmp_path)
    (out / "documents" / ".part-9.parquet.abc.tmp").write_bytes(b"half a file")
    (out / "documents" / ".hidden.parquet").write_bytes(b"not parquet")
    (out / "documents" / "_private.parquet").write_bytes(b"not parquet")
    assert query(out, "SELECT count(*) AS n FROM documents")["n"][0].as_py() == 10


def test_parts_and_older_files_are_unioned_by_name(tmp_path: Path, make_out: Any) -> None:
    out = make_out(tmp_path)
    # A part written before a column existed: it lacks `author` and `sitename`.
    old = io.to_table(
        "documents", [{"doc_id": "old-1", "status": "ok", "kind": "news", "text": "x"}]
    )
    old = old.drop_columns(["author", "sitename"])
    pq.write_table(old, out / "documents" / "part-old.parquet")
    rows = query(out, "SELECT doc_id, author FROM documents WHERE doc_id = 'old-1'").to_pylist()
    assert rows == [{"doc_id": "old-1", "author": None}]


@pytest.mark.parametrize(
    "sql",
    [
        "COPY documents TO '{out}/documents/evil.parquet'",
        "COPY (SELECT 1) TO '/tmp/tipnlp-evil.csv'",
        "CREATE TABLE t AS SELECT 1",
        "INSERT INTO documents SELECT * FROM documents",
        "DELETE FROM documents",
        "DROP VIEW documents",
        "ATTACH '{out}/evil.duckdb' AS evil",
        "INSTALL httpfs",
        "LOAD httpfs",
        "SET enable_external_access = true",
        "PRAGMA enable_profiling",
        "CALL pragma_version()",
        "EXPORT DATABASE '{out}/dump'",
        "SELECT 1; COPY (SELECT 1) TO '{out}/evil.csv'",
    ],
)
def test_writes_are_refused_with_a_clear_message(tmp_path: Path, make_out: Any, sql: str) -> None:
    out = make_out(tmp_path / "out")
    before = _files(out)
    with pytest.raises(QueryError, match=r"read-only|only SELECT|one statement"):
        query(out, sql.format(out=out))
    assert _files(out) == before
    assert not Path("/tmp/tipnlp-evil.csv").exists()


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM read_csv('/etc/hostname')",
        "SELECT * FROM read_text('{outside}')",
        "SELECT * FROM read_parquet('{out}/../elsewhere.parquet')",
    ],
)
def test_selects_cannot_reach_other_files(tmp_path: Path, make_out: Any, sql: str) -> None:
    out = make_out(tmp_path / "out")
    outside = tmp_path / "secret.txt"
    outside.write_text("secret")
    pq.write_table(pa.table({"a": [1]}), tmp_path / "elsewhere.parquet")
    with pytest.raises(QueryError, match="query failed"):
        query(out, sql.format(out=out, outside=outside))


def test_configuration_cannot_be_unlocked(out_dir: Path) -> None:
    con = connect(out_dir)
    with pytest.raises(Exception, match="configuration"):
        con.execute("SET enable_external_access = true")


def test_reading_queries_are_allowed(out_dir: Path) -> None:
    for sql in (
        "WITH x AS (SELECT 1 AS a) SELECT * FROM x",
        "FROM documents LIMIT 1",
        "DESCRIBE sentences",
        "SELECT * FROM checklist WHERE status = 'yes'",
    ):
        query(out_dir, sql)


def test_bad_sql_names_the_problem(out_dir: Path) -> None:
    with pytest.raises(QueryError, match="could not parse"):
        query(out_dir, "SELEC 1")
    with pytest.raises(QueryError, match=r"query failed.*no_such_view"):
        query(out_dir, "SELECT * FROM no_such_view")
    with pytest.raises(QueryError, match="empty"):
        query(out_dir, "   ")


def test_formats_round_trip(out_dir: Path, tmp_path: Path) -> None:
    table = query(out_dir, "SELECT doc_id, sent_id, labels FROM sentences ORDER BY 1, 2")
    csv = format_result(table, "csv").decode()
    assert csv.splitlines()[0] == '"doc_id","sent_id","labels"'
    assert len(csv.splitlines()) == table.num_rows + 1
    import json

    assert json.loads(format_result(table, "json"))[0]["doc_id"] == "law-full"
    path = tmp_path / "r.parquet"
    io.write_bytes_atomic(path, format_result(table, "parquet"))
    assert pq.read_table(path).num_rows == table.num_rows
    with pytest.raises(QueryError, match="unknown format"):
        format_result(table, "xml")
    assert os.listdir(tmp_path) == ["r.parquet"]
