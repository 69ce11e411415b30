"""What a scrape remembers between runs: raw bytes and per-URL state.

``RawCache`` keeps every fetched or read byte string under its SHA-256
(``cache_dir/raw/ab/abcdef...``), so documents can be re-extracted (a better
extractor, a fixed bug) without touching the network.

``ScrapeState`` is a small SQLite database per output folder: for each
normalised URL or path the validators of the last response (ETag,
Last-Modified) and the hashes of its bytes and text, for conditional GETs and
change detection; which doc_ids were written; content hashes and MinHash
signatures of written documents, so duplicates are found across runs.  SQLite
commits are atomic, so a run killed half-way leaves the previous state intact.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path


def sha256_bytes(data: bytes) -> str:
    """SHA-256 hex digest of ``data``."""
    return hashlib.sha256(data).hexdigest()


class RawCache:
    """Content-addressed store of raw bytes (atomic writes, safe across threads).

    A write creates one temporary file beside the target (named after the
    digest, process and thread, so concurrent writers never share one), with
    the umask's permissions, and renames it into place.  Creating a file is
    by far the costliest system call here (~0.4 ms of CPU on the build
    machine), so a write makes exactly one, and each fan-out folder is
    created once per ``RawCache``.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._dirs: set[str] = set()

    def path(self, digest: str) -> Path:
        """Where the bytes with SHA-256 ``digest`` live."""
        return self.root / digest[:2] / digest

    def put(self, data: bytes) -> str:
        """Store ``data`` (once) and return its SHA-256."""
        digest = sha256_bytes(data)
        folder = os.path.join(self.root, digest[:2])
        target = os.path.join(folder, digest)
        if not os.path.exists(target):
            self._write(folder, digest, data)
        return digest

    def _write(self, folder: str, digest: str, data: bytes) -> None:
        if folder not in self._dirs:
            os.makedirs(folder, exist_ok=True)
            self._dirs.add(folder)
        target = os.path.join(folder, digest)
        tmp = os.path.join(folder, f".{digest}.{os.getpid()}.{threading.get_ident()}.tmp")
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0)
        try:
            fd = os.open(tmp, flags, 0o666)
        except FileNotFoundError:  # the folder was removed behind our back
            os.makedirs(folder, exist_ok=True)
            fd = os.open(tmp, flags, 0o666)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def has(self, digest: str | None) -> bool:
        """True when bytes with this digest are cached."""
        return bool(digest) and self.path(str(digest)).is_file()

    def get(self, digest: str) -> bytes:
        """The cached bytes; ``FileNotFoundError`` when absent."""
        return self.path(digest).read_bytes()


@dataclass
class UrlState:
    """What the last run learned about one URL or path."""

    key: str
    etag: str | None
    last_modified: str | None
    raw_sha256: str | None
    content_sha256: str | None
    doc_id: str | None
    status: str | None


_SCHEMA = """
CREATE TABLE IF NOT EXISTS urls (
  key TEXT PRIMARY KEY, etag TEXT, last_modified TEXT, raw_sha256 TEXT,
  content_sha256 TEXT, doc_id TEXT, status TEXT, updated_at TEXT
);
CREATE TABLE IF NOT EXISTS docs (
  doc_id TEXT PRIMARY KEY, key TEXT, content_sha256 TEXT, status TEXT, part TEXT
);
CREATE TABLE IF NOT EXISTS hashes (content_sha256 TEXT PRIMARY KEY, doc_id TEXT);
CREATE TABLE IF NOT EXISTS minhash (doc_id TEXT PRIMARY KEY, sig BLOB);
"""


class ScrapeState:
    """SQLite-backed incremental state for one output folder."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)

    @classmethod
    def for_output(cls, cache_dir: Path, out_dir: Path) -> ScrapeState:
        """The state of ``out_dir`` (one database per resolved output folder)."""
        tag = hashlib.sha256(str(Path(out_dir).resolve()).encode()).hexdigest()[:16]
        return cls(Path(cache_dir) / "scrape" / f"state-{tag}.sqlite")

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()

    def reset(self) -> None:
        """Forget everything (the output folder was emptied)."""
        with self._lock:
            self._db.executescript(
                "DELETE FROM urls; DELETE FROM docs; DELETE FROM hashes; DELETE FROM minhash;"
            )

    def n_docs(self) -> int:
        """Number of documents recorded as written."""
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM docs").fetchone()[0])

    def url(self, key: str) -> UrlState | None:
        """State of one URL or path, if seen before."""
        with self._lock:
            row = self._db.execute(
                "SELECT key, etag, last_modified, raw_sha256, content_sha256, doc_id, status "
                "FROM urls WHERE key = ?",
                (key,),
            ).fetchone()
        return UrlState(*row) if row else None

    def has_doc(self, doc_id: str) -> bool:
        """True when ``doc_id`` was written to the output already."""
        with self._lock:
            return (
                self._db.execute("SELECT 1 FROM docs WHERE doc_id = ?", (doc_id,)).fetchone()
                is not None
            )

    def doc_for_hash(self, content_sha256: str) -> str | None:
        """doc_id of a written document with exactly this text, if any."""
        with self._lock:
            row = self._db.execute(
                "SELECT doc_id FROM hashes WHERE content_sha256 = ?", (content_sha256,)
            ).fetchone()
        return str(row[0]) if row else None

    def hashes(self) -> list[tuple[str, str, str | None]]:
        """(content_sha256, doc_id, key) of every written original document."""
        with self._lock:
            rows = self._db.execute(
                "SELECT h.content_sha256, h.doc_id, d.key FROM hashes h "
                "LEFT JOIN docs d ON d.doc_id = h.doc_id"
            )
            return [(str(r[0]), str(r[1]), r[2]) for r in rows]

    def signatures(self) -> list[tuple[str, bytes, str | None]]:
        """MinHash signatures of written documents (doc_id, raw uint64 bytes, key)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT m.doc_id, m.sig, d.key FROM minhash m "
                "LEFT JOIN docs d ON d.doc_id = m.doc_id"
            )
            return [(str(r[0]), bytes(r[1]), r[2]) for r in rows]

    def record_batch(
        self,
        urls: list[UrlState],
        docs: list[tuple[str, str, str | None, str]],
        part: str,
        hashes: list[tuple[str, str]],
        signatures: list[tuple[str, bytes]],
    ) -> None:
        """Record one written part in a single transaction.

        ``docs`` holds ``(doc_id, key, content_sha256, status)``.  Called only
        after the part file is in place, so the state never claims a document
        that is not on disk.
        """
        with self._lock:
            db = self._db
            db.execute("BEGIN")
            try:
                db.executemany(
                    "INSERT OR REPLACE INTO urls VALUES (?, ?, ?, ?, ?, ?, ?, datetime('now'))",
                    [
                        (
                            u.key,
                            u.etag,
                            u.last_modified,
                            u.raw_sha256,
                            u.content_sha256,
                            u.doc_id,
                            u.status,
                        )
                        for u in urls
                    ],
                )
                db.executemany(
                    "INSERT OR REPLACE INTO docs VALUES (?, ?, ?, ?, ?)",
                    [(d, k, c, s, part) for d, k, c, s in docs],
                )
                db.executemany("INSERT OR IGNORE INTO hashes VALUES (?, ?)", hashes)
                db.executemany("INSERT OR REPLACE INTO minhash VALUES (?, ?)", signatures)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
