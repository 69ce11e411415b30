"""Table IO: atomic writes, schema metadata, reading parts."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tipnlp import io
from tipnlp.errors import InputError
from tipnlp.schemas import SCHEMAS, describe, version_of


def test_every_field_is_described_and_versioned() -> None:
    for name, schema in SCHEMAS.items():
        assert schema.metadata[b"tipnlp.table"].decode() == name
        assert int(schema.metadata[b"tipnlp.schema_version"]) == version_of(name)
        for field_name, _type, description in describe(name):
            assert description.strip(), f"{name}.{field_name} has no description"


def test_write_part_roundtrip_keeps_metadata(tmp_path: Path) -> None:
    rows = [{"doc_id": "d1", "sent_id": 0, "label": "penalty", "score": 0.9}]
    path = io.write_part(tmp_path, "sentence_labels", "a", rows)
    meta = io.file_metadata(path)
    assert meta["tipnlp.table"] == "sentence_labels"
    assert meta["tipnlp.schema_version"] == str(version_of("sentence_labels"))
    table = io.read_table(tmp_path, "sentence_labels")
    assert table.num_rows == 1
    assert table.column("schema_version").to_pylist() == [version_of("sentence_labels")]


def test_unknown_field_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown field"):
        io.write_part(tmp_path, "sentence_labels", "a", [{"doc_id": "d", "bogus": 1}])


def test_failed_write_leaves_nothing(tmp_path: Path) -> None:
    target = tmp_path / "t" / "x.parquet"
    with pytest.raises(RuntimeError), io.atomic_path(target) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("killed")
    assert not target.exists()
    assert list(target.parent.iterdir()) == []


def test_readers_ignore_temporaries(tmp_path: Path) -> None:
    io.write_part(tmp_path, "documents", "a", [{"doc_id": "d", "status": "ok"}])
    (tmp_path / "documents" / ".part-b.parquet.123.tmp").write_bytes(b"junk")
    assert io.read_table(tmp_path, "documents").num_rows == 1
    assert io.clean_temporaries(tmp_path) == 1


def test_empty_dataset_reads_as_empty_table(tmp_path: Path) -> None:
    table = io.read_table(tmp_path, "sentences")
    assert table.num_rows == 0
    assert table.schema.names == SCHEMAS["sentences"].names


def test_read_jsonl_names_file_and_line(tmp_path: Path) -> None:
    p = tmp_path / "d.jsonl"
    p.write_text('{"a": 1}\n\n[1, 2]\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"d\.jsonl:3"):
        list(io.read_jsonl(p))
    lenient = list(io.iter_jsonl_lenient(p))
    assert [(n, e is None) for n, _, e in lenient] == [(1, True), (3, False)]


def test_written_file_is_valid_parquet(tmp_path: Path) -> None:
    path = io.write_table(
        "documents", [{"doc_id": "d", "status": "ok", "text": "x"}], tmp_path / "f.parquet"
    )
    assert pq.ParquetFile(path).metadata.num_rows == 1
