"""What a scrape remembers between runs: raw bytes and per-URL state.

``RawCache`` keeps every fetched or read byte string under its SHA-256, so
documents can be re-extracted (a better extractor, a fixed bug) without
touching the network.  Layout under ``cache_dir/raw``:

* ``packs/<pid>-<random>.pack``: append-only files, one per writing process
  (per ``RawCache`` root), so concurrent writers never share one.  A record
  is a 44-byte header (``TPK1``, the data length as a big-endian uint64, the
  32-byte SHA-256) followed by the bytes.
* ``index.sqlite`` (WAL): digest -> (pack, offset, length).  Rows are
  committed in batches (every 256 puts, ``flush``, ``close``), always after
  the records they point at were written whole.
* ``ab/abcdef...``: one file per entry, the layout before packs.  Still read
  (``has``/``get``), never written; nothing needs migrating.

Why packs: creating a file costs ~0.4 ms of CPU on the build machine, and it
varies (0.6-1.8 ms per page with its fan-out folder inside ingest runs, the
largest and noisiest cost ingest adds to extraction); an append and a
buffered index row cost ~0.02 ms.

Crash safety (the project rule: nothing is ever read half-written): a run
killed at any point leaves at worst a torn record at the end of its own pack
and appended records the index does not name yet.  Nothing points at them:
they are invisible, and the next run appends to a new pack.  ``recover``
indexes the whole records a killed run left (each verified by its SHA-256).
``get`` checks the length of every record and the SHA-256 of every record
this process did not write itself (~0.05 ms per 100 KB); a record that fails
(a truncated pack, a flipped bit, a power loss before the page cache reached
the disk) is dropped from the index and reported missing, so a later ``put``
stores it again.  Bytes put by two processes at the same moment may be
appended twice: the index keeps one, the other is dead space.

``ScrapeState`` is a small SQLite database per output folder: for each
normalised URL or path the validators of the last response (ETag,
Last-Modified) and the hashes of its bytes and text, for conditional GETs and
change detection; which doc_ids were written; content hashes and MinHash
signatures of written documents, so duplicates are found across runs.  SQLite
commits are atomic, so a run killed half-way leaves the previous state intact.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import os
import secrets
import sqlite3
import struct
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


def sha256_bytes(data: bytes) -> str:
    """SHA-256 hex digest of ``data``."""
    return hashlib.sha256(data).hexdigest()


class RawCacheError(OSError):
    """The raw cache's index cannot be used (not a cache, or a damaged index)."""


#: Record header in a pack: magic, data length, SHA-256 of the data (raw).
_HEADER = struct.Struct(">4sQ32s")
_MAGIC = b"TPK1"
#: Index rows buffered before a commit (a commit costs ~0.1 ms; a put ~0.02 ms).
_BATCH = 256
#: Pack files of other writers kept open for reading at once.
_MAX_READERS = 32

_INDEX_SCHEMA = """
CREATE TABLE IF NOT EXISTS packs (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS blobs (
  digest BLOB PRIMARY KEY, pack INTEGER NOT NULL, offset INTEGER NOT NULL,
  length INTEGER NOT NULL
) WITHOUT ROWID;
"""


def _key(digest: str | None) -> bytes | None:
    """The 32 raw bytes of a hex SHA-256, or None when it is not one."""
    if not digest or len(digest) != 64:
        return None
    try:
        key = bytes.fromhex(digest)
    except ValueError:
        return None
    return key if len(key) == 32 else None  # fromhex skips spaces


def _write_all(fd: int, parts: list[bytes]) -> None:
    """Write ``parts`` in order with as few system calls as the kernel allows."""
    views = [memoryview(p) for p in parts if p]
    while views:
        n = os.writev(fd, views)
        while n and views:
            if n >= len(views[0]):
                n -= len(views.pop(0))
            else:
                views[0] = views[0][n:]
                n = 0


def _pread_all(fd: int, length: int, offset: int) -> bytes:
    """``length`` bytes at ``offset``, fewer only at the end of the file."""
    chunks: list[bytes] = []
    got = 0
    while got < length:
        chunk = os.pread(fd, length - got, offset + got)
        if not chunk:
            break
        chunks.append(chunk)
        got += len(chunk)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


class _Store:
    """The state behind every ``RawCache`` of one root in one process.

    Shared so that bytes put through one ``RawCache`` (the fetch step) can be
    read through another (the extract step) before the index is committed,
    and so that a process appends to one pack at a time.  Callers hold
    ``lock`` around every method: the SQLite connection, the pack offset, the
    pending rows and the reader file descriptors are touched by the fetch
    threads and the extract thread alike.
    """

    def __init__(self, root: str) -> None:
        self.root = root
        self.pid = os.getpid()
        self.refs = 0
        self.lock = threading.Lock()
        self.db: sqlite3.Connection | None = None
        #: this process's pack: id in the index, descriptor, current size
        self.pack_id: int | None = None
        self.fd: int | None = None
        self.size = 0
        #: appended but not yet committed: digest -> (data offset, length)
        self.pending: dict[bytes, tuple[int, int]] = {}
        self.readers: dict[int, int] = {}
        self.names: dict[int, str] = {}

    # ---------------------------------------------------------------- index

    def _index(self, create: bool) -> sqlite3.Connection | None:
        """The index connection; None when reading a cache that has none yet."""
        if self.db is not None:
            return self.db
        path = os.path.join(self.root, "index.sqlite")
        if not create and not os.path.exists(path):
            return None
        os.makedirs(self.root, exist_ok=True)
        try:
            db = sqlite3.connect(path, timeout=60, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            # a commit survives the process being killed; after a power loss
            # the last ones may be gone, never half there (and get() verifies)
            db.execute("PRAGMA synchronous=NORMAL")
            db.executescript(_INDEX_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise RawCacheError(f"{path}: unusable raw-cache index ({exc})") from exc
        self.db = db
        return db

    def commit(self) -> None:
        """Make the pending records visible to other processes (one transaction)."""
        if not self.pending or self.db is None:
            return
        rows = [(k, self.pack_id, off, n) for k, (off, n) in self.pending.items()]
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self.db.executemany("INSERT OR REPLACE INTO blobs VALUES (?, ?, ?, ?)", rows)
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.pending.clear()

    def locate(self, key: bytes) -> tuple[int, int, int] | None:
        """(pack id, data offset, length) of ``key``, pending or committed."""
        hit = self.pending.get(key)
        if hit is not None:
            return (int(self.pack_id or 0), hit[0], hit[1])
        db = self._index(create=False)
        if db is None:
            return None
        row = db.execute(
            "SELECT pack, offset, length FROM blobs WHERE digest = ?", (key,)
        ).fetchone()
        return (int(row[0]), int(row[1]), int(row[2])) if row else None

    def complete(self, loc: tuple[int, int, int]) -> bool:
        """True when the pack holding ``loc`` is long enough to hold all of it."""
        pack, offset, length = loc
        if pack == self.pack_id:
            return True  # our own appends completed before they were indexed
        try:
            return os.stat(self._pack_path(pack)).st_size >= offset + length
        except OSError:
            return False

    def drop(self, key: bytes, loc: tuple[int, int, int]) -> None:
        """Forget a record found damaged (only that one: a newer copy stays)."""
        pack, offset, _ = loc
        if pack == self.pack_id and key in self.pending:
            del self.pending[key]
            return
        if self.db is not None:
            self.db.execute(
                "DELETE FROM blobs WHERE digest = ? AND pack = ? AND offset = ?",
                (key, pack, offset),
            )

    # ---------------------------------------------------------------- packs

    def _pack_path(self, pack: int) -> str:
        name = self.names.get(pack)
        if name is None:
            db = self._index(create=False)
            row = (
                db.execute("SELECT name FROM packs WHERE id = ?", (pack,)).fetchone()
                if db
                else None
            )
            if row is None:
                raise FileNotFoundError(f"raw-cache pack #{pack} is not in the index")
            name = self.names[pack] = str(row[0])
        return os.path.join(self.root, "packs", name)

    def _open_pack(self) -> int:
        """Create this process's pack (one file per writer: appends never interleave)."""
        db = self._index(create=True)
        assert db is not None
        folder = os.path.join(self.root, "packs")
        os.makedirs(folder, exist_ok=True)
        flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_APPEND | getattr(os, "O_CLOEXEC", 0)
        while True:
            name = f"{self.pid}-{secrets.token_hex(4)}.pack"
            try:
                fd = os.open(os.path.join(folder, name), flags, 0o666)
                break
            except FileExistsError:
                continue
        try:
            cur = db.execute("INSERT INTO packs (name) VALUES (?)", (name,))
        except BaseException:
            os.close(fd)
            raise
        self.pack_id, self.fd, self.size = int(cur.lastrowid or 0), fd, 0
        self.names[self.pack_id] = name
        return fd

    def append(self, key: bytes, data: bytes) -> None:
        """Append one record to this process's pack; indexed at the next commit."""
        fd = self.fd if self.fd is not None else self._open_pack()
        start = self.size
        try:
            _write_all(fd, [_HEADER.pack(_MAGIC, len(data), key), data])
        except BaseException:
            # a failed write (disk full) must not leave a torn record for the
            # next one to follow: cut the pack back to its last whole record
            with contextlib.suppress(OSError):
                os.ftruncate(fd, start)
            self.size = os.fstat(fd).st_size
            raise
        self.size = start + _HEADER.size + len(data)
        self.pending[key] = (start + _HEADER.size, len(data))
        if len(self.pending) >= _BATCH:
            self.commit()

    def read(self, loc: tuple[int, int, int]) -> bytes:
        """The bytes at ``loc`` (possibly short, when the pack was cut)."""
        pack, offset, length = loc
        if pack == self.pack_id and self.fd is not None:
            return _pread_all(self.fd, length, offset)
        fd = self.readers.pop(pack, None)
        if fd is None:
            fd = os.open(self._pack_path(pack), os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
            while len(self.readers) >= _MAX_READERS:
                os.close(self.readers.pop(next(iter(self.readers))))
        self.readers[pack] = fd  # most recently used last
        return _pread_all(fd, length, offset)

    def close(self) -> None:
        """Commit, then let go of every file (the next use opens a new pack)."""
        try:
            self.commit()
        finally:
            for fd in [*self.readers.values(), *([self.fd] if self.fd is not None else [])]:
                with contextlib.suppress(OSError):
                    os.close(fd)
            self.readers.clear()
            self.fd, self.pack_id, self.size = None, None, 0
            if self.db is not None:
                self.db.close()
                self.db = None


_STORES: dict[tuple[int, str], _Store] = {}
_STORES_LOCK = threading.Lock()
#: a forked child's copies of its parent's stores, never used nor closed there
_INHERITED: list[_Store] = []


def _reset_after_fork() -> None:
    """A forked child starts with no stores: its parent's belong to the parent.

    They are kept alive, not closed: closing a copied SQLite connection or
    descriptor in the child could disturb the parent's.
    """
    global _STORES_LOCK
    _STORES_LOCK = threading.Lock()
    _INHERITED.extend(_STORES.values())
    _STORES.clear()


def _commit_at_exit() -> None:
    """Commit what a caller forgot to close (a normal exit loses nothing)."""
    for (pid, _), store in list(_STORES.items()):
        if pid == os.getpid():
            with contextlib.suppress(Exception), store.lock:
                store.commit()


os.register_at_fork(after_in_child=_reset_after_fork)
atexit.register(_commit_at_exit)


class RawCache:
    """Content-addressed store of raw bytes: append-only packs and an index.

    ``put`` appends a record (header with length and SHA-256, then the
    bytes) to this process's pack and adds an index row at the next commit:
    every 256 puts, ``flush`` and ``close``.  Until then the record is
    readable in this process, through any ``RawCache`` of the same root;
    other processes see it after the commit.  ``get`` reads one record with
    one ``pread`` and checks its length, and its SHA-256 unless this process
    wrote it; a record that fails is dropped from the index and reported
    missing, so a later ``put`` stores it again.  Caches of the old layout
    (``ab/<digest>`` files) are read as before.  Safe across threads and
    processes sharing the root; close it (or use it as a context manager) so
    the index is committed.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._where = os.path.abspath(self.root)
        self._store: _Store | None = None

    def _s(self) -> _Store:
        store = self._store
        if store is not None and store.pid == os.getpid():
            return store
        with _STORES_LOCK:
            store = self._store  # another thread may have got here first
            if store is not None and store.pid == os.getpid():
                return store
            key = (os.getpid(), self._where)
            store = _STORES.get(key)
            if store is None:
                store = _STORES[key] = _Store(self._where)
            store.refs += 1
        self._store = store
        return store

    def __enter__(self) -> RawCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _legacy(self, digest: str) -> str:
        """Where the old layout kept ``digest``: one file per entry."""
        return os.path.join(self._where, digest[:2], digest)

    def put(self, data: bytes) -> str:
        """Store ``data`` (once) and return its SHA-256."""
        raw = hashlib.sha256(data).digest()
        digest = raw.hex()
        store = self._s()
        with store.lock:
            loc = store.locate(raw)
            if loc is not None and store.complete(loc):
                return digest
            if loc is None and os.path.isfile(self._legacy(digest)):
                return digest
            store.append(raw, data)
        return digest

    def has(self, digest: str | None) -> bool:
        """True when bytes with this digest are cached (and not cut short)."""
        key = _key(digest)
        if key is None:
            return False
        store = self._s()
        with store.lock:
            loc = store.locate(key)
            if loc is not None and store.complete(loc):
                return True
        return os.path.isfile(self._legacy(str(digest)))

    def get(self, digest: str) -> bytes:
        """The cached bytes; ``FileNotFoundError`` when absent or damaged."""
        key = _key(digest)
        if key is None:
            raise FileNotFoundError(f"{digest!r}: not a SHA-256 digest")
        store = self._s()
        with store.lock:
            loc = store.locate(key)
            data = b""
            own = False
            if loc is not None:
                own = loc[0] == store.pack_id
                try:
                    data = store.read(loc)
                except FileNotFoundError:
                    data = b""
        if loc is not None:
            if len(data) == loc[2] and (own or hashlib.sha256(data).digest() == key):
                return data
            with store.lock:
                store.drop(key, loc)
        try:
            with open(self._legacy(digest), "rb") as fh:
                data = fh.read()
        except FileNotFoundError:
            if loc is None:
                raise FileNotFoundError(f"{digest}: not in the raw cache {self.root}") from None
            raise FileNotFoundError(
                f"{digest}: damaged record in the raw cache {self.root} (dropped)"
            ) from None
        if hashlib.sha256(data).digest() != key:
            raise FileNotFoundError(f"{digest}: damaged file in the raw cache {self.root}")
        return data

    def flush(self) -> None:
        """Commit the index, so other processes see every byte string put so far."""
        store = self._s()
        with store.lock:
            store.commit()

    def close(self) -> None:
        """Commit and, once the last ``RawCache`` of this root lets go, close the files."""
        store, self._store = self._store, None
        if store is None or store.pid != os.getpid():
            return
        with store.lock:
            try:
                store.commit()
            finally:
                with _STORES_LOCK:
                    store.refs -= 1
                    if store.refs <= 0:
                        _STORES.pop((store.pid, store.root), None)
                        store.close()

    def recover(self) -> int:
        """Index the whole records of every pack that the index lacks.

        For a run killed between appending and committing, or an index that
        was deleted: each pack is read from its start, record by record, and
        stops at the first one that is cut short or fails its digest (a torn
        tail).  Returns the number of records added.  Reads every pack.
        """
        folder = os.path.join(self._where, "packs")
        names = (
            sorted(n for n in os.listdir(folder) if n.endswith(".pack"))
            if os.path.isdir(folder)
            else []
        )
        store = self._s()
        added = 0
        with store.lock:
            store.commit()
            db = store._index(create=True)
            assert db is not None
            for name in names:
                rows = [
                    (key, offset, length)
                    for key, offset, length in _scan_pack(os.path.join(folder, name))
                ]
                if not rows:
                    continue
                db.execute("BEGIN IMMEDIATE")
                try:
                    db.execute("INSERT OR IGNORE INTO packs (name) VALUES (?)", (name,))
                    pack = int(
                        db.execute("SELECT id FROM packs WHERE name = ?", (name,)).fetchone()[0]
                    )
                    before = db.total_changes
                    db.executemany(
                        "INSERT OR IGNORE INTO blobs VALUES (?, ?, ?, ?)",
                        [(k, pack, off, n) for k, off, n in rows],
                    )
                    added += db.total_changes - before
                    db.execute("COMMIT")
                except BaseException:
                    db.execute("ROLLBACK")
                    raise
        return added


def _scan_pack(path: str) -> Iterator[tuple[bytes, int, int]]:
    """(digest, data offset, length) of each whole, verified record of a pack.

    Stops at a header without the magic or a record cut short (a torn tail:
    nothing after it can be trusted to start a record).  A whole record whose
    bytes fail their digest is skipped: the next header says whether its
    length could be believed, and every record is verified on its own.
    """
    with open(path, "rb") as fh:
        offset = 0
        while True:
            header = fh.read(_HEADER.size)
            if len(header) < _HEADER.size:
                return
            magic, length, key = _HEADER.unpack(header)
            if magic != _MAGIC:
                return
            data = fh.read(length)
            if len(data) != length:
                return
            if hashlib.sha256(data).digest() == key:
                yield key, offset + _HEADER.size, length
            offset += _HEADER.size + length


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
