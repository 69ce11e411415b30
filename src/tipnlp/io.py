"""The only module that reads or writes tables and data files.

Every write goes to a hidden temporary file in the target folder and is then
renamed into place (``os.replace`` is atomic on POSIX), so a run killed
half-way never leaves a half-written Parquet or JSONL file.  Readers ignore
hidden (``.``) and private (``_``) files, which is where temporaries live.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from tipnlp.errors import InputError
from tipnlp.schemas import schema_for

#: Rows per Parquet row group: small enough to stream, large enough to scan fast.
ROW_GROUP_SIZE = 10_000


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success.

    On an exception the temporary file is removed and ``path`` is untouched.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        # mkstemp creates 0600 files; outputs are meant to be shared like any file.
        umask = os.umask(0)
        os.umask(umask)
        tmp.chmod(0o666 & ~umask)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: str | os.PathLike[str], obj: Any) -> None:
    """Write ``obj`` as indented JSON atomically."""
    write_text_atomic(path, json.dumps(obj, indent=2, ensure_ascii=False, default=str) + "\n")


def write_jsonl_atomic(path: str | os.PathLike[str], rows: Iterable[Mapping[str, Any]]) -> int:
    """Write one JSON object per line atomically; return the number of rows."""
    n = 0
    with atomic_path(path) as tmp, tmp.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
            n += 1
    return n


def read_jsonl(path: str | os.PathLike[str]) -> Iterator[dict[str, Any]]:
    """Yield the objects of a JSONL file; raise ``InputError`` naming file and line.

    Blank lines are skipped.  A line that is not a JSON object is an error: the
    caller decides whether to skip it (``iter_jsonl_lenient``) or stop.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: no such file")
    with p.open("r", encoding="utf-8", errors="strict") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"{p}:{lineno}: not valid JSON ({exc.msg})") from None
            if not isinstance(obj, dict):
                raise InputError(f"{p}:{lineno}: expected a JSON object, got {type(obj).__name__}")
            yield obj


def iter_jsonl_lenient(
    path: str | os.PathLike[str],
) -> Iterator[tuple[int, dict[str, Any] | None, str | None]]:
    """Yield ``(line_number, object_or_None, error_or_None)`` for every non-blank line.

    Used where one bad line must not stop a batch: the caller records the error.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: no such file")
    with p.open("rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            if not raw.strip():
                continue
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                line = raw.decode("utf-8", errors="replace")
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                yield lineno, None, f"line {lineno}: not valid JSON ({exc.msg})"
                continue
            if not isinstance(obj, dict):
                yield lineno, None, f"line {lineno}: expected a JSON object"
                continue
            yield lineno, obj, None


def to_table(table: str, rows: Sequence[Mapping[str, Any]] | pa.Table) -> pa.Table:
    """Build a table with ``table``'s schema from dict rows, filling missing fields.

    ``schema_version`` is set from the schema module; unknown keys raise.
    """
    schema = schema_for(table)
    if isinstance(rows, pa.Table):
        return rows.select(schema.names).cast(schema)
    version = int(schema.metadata[b"tipnlp.schema_version"])
    names = set(schema.names)
    columns: dict[str, list[Any]] = {name: [] for name in schema.names}
    for row in rows:
        extra = set(row) - names
        if extra:
            raise ValueError(f"{table}: unknown field(s) {sorted(extra)}")
        for name in schema.names:
            value = row.get(name)
            if name == "schema_version" and value is None:
                value = version
            columns[name].append(value)
    return pa.Table.from_pydict(columns, schema=schema)


def write_table(
    table: str, rows: Sequence[Mapping[str, Any]] | pa.Table, path: str | os.PathLike[str]
) -> Path:
    """Write ``rows`` as one Parquet file with ``table``'s schema, atomically."""
    data = to_table(table, rows)
    target = Path(path)
    with atomic_path(target) as tmp:
        pq.write_table(data, tmp, row_group_size=ROW_GROUP_SIZE, compression="zstd")
    return target


def part_path(out_dir: str | os.PathLike[str], table: str, part: str) -> Path:
    """Path of one part file of a dataset: ``OUT/table/part-<part>.parquet``.

    Each batch of work writes its own part, so parallel workers never share a file.
    """
    return Path(out_dir) / table / f"part-{part}.parquet"


def write_part(
    out_dir: str | os.PathLike[str],
    table: str,
    part: str,
    rows: Sequence[Mapping[str, Any]] | pa.Table,
) -> Path:
    """Write one part of dataset ``table`` below ``out_dir`` (atomic)."""
    return write_table(table, rows, part_path(out_dir, table, part))


def dataset_files(out_dir: str | os.PathLike[str], table: str) -> list[Path]:
    """All committed Parquet files of ``table`` below ``out_dir``, sorted."""
    root = Path(out_dir) / table
    if not root.is_dir():
        return []
    return sorted(
        p
        for p in root.rglob("*.parquet")
        if not any(part.startswith((".", "_")) for part in p.relative_to(root).parts)
    )


def read_table(
    out_dir: str | os.PathLike[str], table: str, columns: list[str] | None = None
) -> pa.Table:
    """Read every part of ``table`` below ``out_dir`` into one table (empty if none)."""
    schema = schema_for(table)
    files = dataset_files(out_dir, table)
    if not files:
        return schema.empty_table() if columns is None else schema.empty_table().select(columns)
    parts = [pq.read_table(f, columns=columns, schema=schema) for f in files]
    return pa.concat_tables(parts)


def file_metadata(path: str | os.PathLike[str]) -> dict[str, str]:
    """The tipnlp metadata stored in a Parquet file (table, schema version, scheme)."""
    meta = pq.read_schema(path).metadata or {}
    return {k.decode(): v.decode() for k, v in meta.items() if k.startswith(b"tipnlp.")}


def clean_temporaries(out_dir: str | os.PathLike[str]) -> int:
    """Remove temporaries left by a killed run; return how many were removed."""
    root = Path(out_dir)
    if not root.is_dir():
        return 0
    n = 0
    for p in root.rglob(".*.tmp"):
        p.unlink(missing_ok=True)
        n += 1
    return n
