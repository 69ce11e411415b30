"""CPU cost of the raw cache per page: one file per entry (before) vs packs (now).

Puts the 181 pages of the article-extraction benchmark (decompressed, as the
fetcher hands them over) into a fresh cache, ``--repeat`` times, the two
layouts interleaved so that both see the same machine load, and prints CPU
milliseconds per page (``time.process_time``; one thread) with the median and
the range over the rounds.  A round counts everything a run pays: opening
the cache, every ``put``, and closing it (the pack cache creates its pack and
index and commits there).  Reads are timed too: ``get`` of every page in the
writing process (length checked) and in a new ``RawCache`` after a close
(length and SHA-256 checked), against reading the old layout's files.

    python benchmarks/bench_raw_cache.py --data ../shared/data/article-extraction-benchmark
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import hashlib
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from statistics import median

from tipnlp.scrape.cache import RawCache


class FileCache:
    """The layout before packs (up to 2026-12): one file per entry, temp + rename."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._dirs: set[str] = set()

    def put(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        folder = os.path.join(self.root, digest[:2])
        target = os.path.join(folder, digest)
        if not os.path.exists(target):
            if folder not in self._dirs:
                os.makedirs(folder, exist_ok=True)
                self._dirs.add(folder)
            tmp = os.path.join(folder, f".{digest}.{os.getpid()}.{threading.get_ident()}.tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o666)
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                os.replace(tmp, target)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
        return digest

    def get(self, digest: str) -> bytes:
        return (self.root / digest[:2] / digest).read_bytes()

    def close(self) -> None:
        return None


def cpu_ms_per_page(fn: Callable[[], object], n: int) -> float:
    """CPU milliseconds per page of one call of ``fn``."""
    start = time.process_time()
    fn()
    return (time.process_time() - start) * 1000 / n


def one_round(pages: list[bytes], kind: str) -> dict[str, float]:
    """Write then read every page in a fresh cache of ``kind``."""
    n = len(pages)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "raw"
        out: dict[str, float] = {}
        digests: list[str] = []
        holder: list[RawCache | FileCache] = []

        def write() -> None:
            cache: RawCache | FileCache = RawCache(root) if kind == "packs" else FileCache(root)
            digests.extend(cache.put(p) for p in pages)
            holder.append(cache)

        out["put"] = cpu_ms_per_page(write, n)
        cache = holder[0]
        out["get (same process)"] = cpu_ms_per_page(lambda: [cache.get(d) for d in digests], n)
        out["close"] = cpu_ms_per_page(cache.close, n)
        out["put + close"] = out["put"] + out["close"]
        again: RawCache | FileCache = RawCache(root) if kind == "packs" else FileCache(root)
        out["get (new reader)"] = cpu_ms_per_page(lambda: [again.get(d) for d in digests], n)
        again.close()
    return out


def main() -> int:
    """Run both layouts, print the table."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument(
        "--data", type=Path, default=Path("../shared/data/article-extraction-benchmark")
    )
    ap.add_argument("--repeat", type=int, default=9)
    args = ap.parse_args()
    files = sorted((args.data / "html").glob("*.html.gz"))
    if not files:
        print(f"benchmark data not found at {args.data}", file=sys.stderr)
        return 2
    pages = [gzip.decompress(f.read_bytes()) for f in files]
    one_round(pages, "files")  # warm-up: imports, SQLite, the page cache
    one_round(pages, "packs")
    rounds: dict[str, list[dict[str, float]]] = {"files": [], "packs": []}
    for _ in range(max(1, args.repeat)):
        for kind in ("files", "packs"):
            rounds[kind].append(one_round(pages, kind))
    size = sum(map(len, pages)) / len(pages) / 1024
    print(f"pages: {len(pages)} (mean {size:.0f} KiB)   rounds: {args.repeat}   CPU ms per page")
    print(f"{'':22}{'one file per page':>26}{'packs + index':>26}")
    for item in ("put", "close", "put + close", "get (same process)", "get (new reader)"):
        cells = []
        for kind in ("files", "packs"):
            vals = [r[item] for r in rounds[kind]]
            cells.append(f"{median(vals):.3f} ({min(vals):.3f}-{max(vals):.3f})")
        print(f"{item:22}{cells[0]:>26}{cells[1]:>26}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
