"""The raw cache: packs and index, old-layout files, crashes, concurrent writers."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import signal
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from tipnlp.scrape.cache import _HEADER, RawCache, _scan_pack

HEADER = _HEADER.size
FORK = multiprocessing.get_context("fork")


def _blob(i: int, size: int = 3000) -> bytes:
    """Distinct, deterministic bytes of about ``size`` (not all alike, as pages are not)."""
    seed = hashlib.sha256(str(i).encode()).digest()
    return (seed * (size // 32 + 1))[:size] + str(i).encode()


def _packs(root: Path) -> list[Path]:
    return sorted((root / "packs").glob("*.pack"))


def _records(root: Path) -> list[str]:
    """Digests of every whole record in every pack (duplicates included)."""
    return [key.hex() for p in _packs(root) for key, _, _ in _scan_pack(str(p))]


def _index_rows(root: Path) -> int:
    with sqlite3.connect(root / "index.sqlite") as db:
        return int(db.execute("SELECT count(*) FROM blobs").fetchone()[0])


def test_round_trip_dedup_and_reopen(tmp_path: Path) -> None:
    root = tmp_path / "raw"
    data = [_blob(i) for i in range(20)] + [b"", b"x"]
    with RawCache(root) as cache:
        digests = [cache.put(d) for d in data]
        assert digests == [hashlib.sha256(d).hexdigest() for d in data]
        assert cache.put(data[3]) == digests[3]  # the same bytes again: stored once
        assert all(cache.get(h) == d for h, d in zip(digests, data, strict=True))
        assert all(cache.has(h) for h in digests)
        absent = hashlib.sha256(b"never put").hexdigest()
        assert not cache.has(absent) and not cache.has(None) and not cache.has("zz")
        with pytest.raises(FileNotFoundError):
            cache.get(absent)
        with pytest.raises(FileNotFoundError):
            cache.get("not a digest")
    # one pack, every record once, the index names each; no per-entry files
    assert len(_packs(root)) == 1
    assert sorted(_records(root)) == sorted(set(digests))
    assert _index_rows(root) == len(set(digests))
    assert [p.name for p in root.iterdir() if len(p.name) == 2] == []
    umask = os.umask(0)
    os.umask(umask)
    assert _packs(root)[0].stat().st_mode & 0o777 == 0o666 & ~umask
    # reopened (a later run): everything is there, verified, and new puts go to a new pack
    with RawCache(root) as again:
        assert all(again.get(h) == d for h, d in zip(digests, data, strict=True))
        assert again.put(data[0]) == digests[0]
        assert len(_packs(root)) == 1  # a put of known bytes appends nothing
        new = again.put(b"a new page")
        assert again.get(new) == b"a new page"
    assert len(_packs(root)) == 2 and _index_rows(root) == len(set(digests)) + 1


def test_uncommitted_bytes_are_shared_in_process_and_committed_on_flush(tmp_path: Path) -> None:
    root = tmp_path / "raw"
    fetch, extract = RawCache(root), RawCache(root)
    digest = fetch.put(b"fetched, not yet committed")
    # the extract step reads what the fetch step put, before any commit
    assert extract.get(digest) == b"fetched, not yet committed"
    queue = FORK.Queue()
    proc = FORK.Process(target=_child_has, args=(root, digest, queue))
    proc.start()
    proc.join(30)
    assert queue.get(timeout=5) is False  # another process sees committed rows only
    fetch.flush()
    proc = FORK.Process(target=_child_has, args=(root, digest, queue))
    proc.start()
    proc.join(30)
    assert queue.get(timeout=5) is True
    fetch.close()
    assert extract.get(digest) == b"fetched, not yet committed"  # still open
    extract.close()
    extract.close()  # closing twice is harmless
    assert RawCache(root).get(digest) == b"fetched, not yet committed"


def _child_has(root: Path, digest: str, queue: multiprocessing.Queue[bool]) -> None:
    with RawCache(root) as cache:
        queue.put(cache.has(digest))


def test_threads_share_one_pack_and_store_each_page_once(tmp_path: Path) -> None:
    root = tmp_path / "raw"
    cache = RawCache(root)
    results: list[list[str]] = [[] for _ in range(8)]

    def work(n: int) -> None:
        # every thread puts the same 300 pages (a batch commit falls in the middle)
        order = range(300) if n % 2 else range(299, -1, -1)
        results[n] = [cache.put(_blob(i, 500)) for i in order]

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    expected = {hashlib.sha256(_blob(i, 500)).hexdigest() for i in range(300)}
    assert all(set(r) == expected for r in results)
    cache.close()
    assert len(_packs(root)) == 1
    assert sorted(_records(root)) == sorted(expected)
    with RawCache(root) as again:
        assert all(
            again.get(hashlib.sha256(_blob(i, 500)).hexdigest()) == _blob(i, 500)
            for i in range(300)
        )


def _child_puts(root: Path, start: int, stop: int) -> None:
    with RawCache(root) as cache:
        for i in range(start, stop):
            assert cache.get(cache.put(_blob(i))) == _blob(i)


def test_two_processes_write_one_cache(tmp_path: Path) -> None:
    root = tmp_path / "raw"
    parent = RawCache(root)
    parent.put(_blob(-1))  # the parent holds an open pack and pending rows across the fork
    procs = [FORK.Process(target=_child_puts, args=(root, a, b)) for a, b in ((0, 400), (200, 600))]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0]
    parent.close()
    assert len(_packs(root)) == 3  # one per writer: appends never interleave
    with RawCache(root) as cache:
        assert all(
            cache.get(hashlib.sha256(_blob(i)).hexdigest()) == _blob(i) for i in range(-1, 600)
        )
    # pages both children put may sit in both packs; the index names each once
    assert _index_rows(root) == 601
    assert set(_records(root)) == {hashlib.sha256(_blob(i)).hexdigest() for i in range(-1, 600)}


def test_torn_tail_is_ignored_and_new_puts_work(tmp_path: Path) -> None:
    root = tmp_path / "raw"
    with RawCache(root) as cache:
        a, b, c = (cache.put(_blob(i)) for i in range(3))
    pack = _packs(root)[0]
    size = pack.stat().st_size
    with pack.open("r+b") as fh:
        fh.truncate(size - 100)  # the last record cut inside its bytes
    with RawCache(root) as cache:
        assert cache.get(a) == _blob(0) and cache.get(b) == _blob(1)
        assert not cache.has(c)
        with pytest.raises(FileNotFoundError):
            cache.get(c)
        assert cache.put(_blob(2)) == c  # stored again, in this run's pack
        assert cache.get(c) == _blob(2)
        d = cache.put(b"after the tear")
    with RawCache(root) as cache:
        assert [cache.get(h) for h in (a, b, c, d)] == [
            _blob(0),
            _blob(1),
            _blob(2),
            b"after the tear",
        ]
    # a header cut short at the end of a pack is as invisible
    with pack.open("ab") as fh:
        fh.write(b"TPK1\x00\x00")
    with RawCache(root) as cache:
        assert cache.get(a) == _blob(0) and cache.recover() == 0


def test_corrupted_record_is_never_returned(tmp_path: Path) -> None:
    root = tmp_path / "raw"
    with RawCache(root) as cache:
        a, b = cache.put(_blob(0)), cache.put(_blob(1))
    pack = _packs(root)[0]
    with pack.open("r+b") as fh:
        fh.seek(HEADER + len(_blob(0)) + HEADER + 10)  # inside b's bytes
        byte = fh.read(1)
        fh.seek(-1, os.SEEK_CUR)
        fh.write(bytes([byte[0] ^ 0xFF]))
    with RawCache(root) as cache:
        assert cache.get(a) == _blob(0)
        with pytest.raises(FileNotFoundError, match="damaged"):
            cache.get(b)
        assert not cache.has(b)  # dropped from the index: reported missing from now on
        assert cache.put(_blob(1)) == b
        assert cache.get(b) == _blob(1)
    with RawCache(root) as cache:
        assert cache.get(b) == _blob(1)


def test_recover_rebuilds_a_lost_index_without_damaged_records(tmp_path: Path) -> None:
    root = tmp_path / "raw"
    with RawCache(root) as cache:
        digests = [cache.put(_blob(i)) for i in range(5)]
    pack = _packs(root)[0]
    with pack.open("r+b") as fh:  # a flipped bit inside the third record's bytes
        fh.seek(3 * HEADER + 2 * len(_blob(0)) + 7)
        byte = fh.read(1)
        fh.seek(-1, os.SEEK_CUR)
        fh.write(bytes([byte[0] ^ 0x01]))
    for name in ("index.sqlite", "index.sqlite-wal", "index.sqlite-shm"):
        (root / name).unlink(missing_ok=True)
    with RawCache(root) as cache:
        assert not any(cache.has(h) for h in digests)
        assert cache.recover() == 4
        assert cache.recover() == 0  # idempotent
        assert [cache.has(h) for h in digests] == [True, True, False, True, True]
        assert all(cache.get(digests[i]) == _blob(i) for i in (0, 1, 3, 4))


def _child_killed(root: Path, flushed: int, unflushed: int) -> None:
    cache = RawCache(root)
    for i in range(flushed):
        cache.put(_blob(i))
    cache.flush()
    for i in range(flushed, flushed + unflushed):
        cache.put(_blob(i))
    # a write that the kill cuts short: the header and half the bytes
    data = _blob(10_000)
    with open(_packs(root)[0], "ab") as fh:
        fh.write(_HEADER.pack(b"TPK1", len(data), hashlib.sha256(data).digest()))
        fh.write(data[: len(data) // 2])
    os.kill(os.getpid(), signal.SIGKILL)


def test_sigkill_leaves_committed_records_and_recover_finds_the_rest(tmp_path: Path) -> None:
    root = tmp_path / "raw"
    proc = FORK.Process(target=_child_killed, args=(root, 10, 5))
    proc.start()
    proc.join(30)
    assert proc.exitcode == -signal.SIGKILL
    cache = RawCache(root)
    committed = [hashlib.sha256(_blob(i)).hexdigest() for i in range(10)]
    lost = [hashlib.sha256(_blob(i)).hexdigest() for i in range(10, 15)]
    torn = hashlib.sha256(_blob(10_000)).hexdigest()
    assert all(cache.get(h) == _blob(i) for i, h in enumerate(committed))
    assert not any(cache.has(h) for h in [*lost, torn])
    assert cache.recover() == 5  # the whole records the run did not commit; not the torn one
    assert all(cache.get(h) == _blob(i) for i, h in enumerate([*committed, *lost]))
    assert not cache.has(torn)
    assert cache.get(cache.put(_blob(10_000))) == _blob(10_000)
    cache.close()


def _child_writes_forever(root: Path) -> None:
    with RawCache(root) as cache:
        i = 0
        while True:
            cache.put(_blob(i, 20_000 + i % 5000))
            if i % 50 == 0:
                cache.flush()
            i += 1


def test_sigkill_at_a_random_moment_never_yields_wrong_bytes(tmp_path: Path) -> None:
    root = tmp_path / "raw"
    proc = FORK.Process(target=_child_writes_forever, args=(root,))
    proc.start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and sum(p.stat().st_size for p in _packs(root)) < 3_000_000:
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.join(30)
    with RawCache(root) as cache:
        cache.recover()
        present = [
            i
            for i in range(100_000)
            if cache.has(hashlib.sha256(_blob(i, 20_000 + i % 5000)).hexdigest())
        ]
        assert len(present) >= 100
        for i in present:
            data = _blob(i, 20_000 + i % 5000)
            assert cache.get(hashlib.sha256(data).hexdigest()) == data
        assert cache.get(cache.put(b"the next run")) == b"the next run"


def test_old_layout_files_are_still_read(tmp_path: Path) -> None:
    root = tmp_path / "raw"
    old = b"written by the one-file-per-page cache"
    digest = hashlib.sha256(old).hexdigest()
    (root / digest[:2]).mkdir(parents=True)
    (root / digest[:2] / digest).write_bytes(old)
    bad = b"an old file damaged on disk"
    bad_digest = hashlib.sha256(bad).hexdigest()
    (root / bad_digest[:2]).mkdir(exist_ok=True)
    (root / bad_digest[:2] / bad_digest).write_bytes(b"something else")
    with RawCache(root) as cache:  # no index yet: reading creates nothing
        assert cache.has(digest) and cache.get(digest) == old
        assert not (root / "index.sqlite").exists()
        with pytest.raises(FileNotFoundError, match="damaged"):
            cache.get(bad_digest)
        assert cache.put(old) == digest  # known already: nothing appended
        new = cache.put(b"a page of the new layout")
    assert _records(root) == [new]
    with RawCache(root) as cache:
        assert cache.get(digest) == old and cache.get(new) == b"a page of the new layout"
