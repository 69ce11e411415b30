"""Extraction quality and speed of the ingest stage on the article-extraction benchmark.

Serves the benchmark's gzipped HTML pages from a local HTTP server (a separate
process, so it does not compete for our GIL), runs ``tipnlp.scrape.ingest``
over their URLs (robots.txt check, fetch, raw cache, extraction with metadata,
language, dedup, Parquet parts), and scores the ``text`` column against
``ground-truth.json`` the way the benchmark's ``evaluate.py`` does: word
4-shingle multisets, per-page TP/FP/FN normalised to sum to one, precision
and recall averaged over pages, F1 their harmonic mean.  As a reference it
times a plain ``trafilatura.extract(html, include_comments=False)`` loop over
the same files.  Both extract on one CPU thread; ingest fetches with
``--fetch-threads`` I/O threads (4 by default; their CPU time counts).  Each
is timed ``--repeat`` times, interleaved, and the best wall time and the best
CPU time (all threads of this process; the page server is another process)
are kept: on a shared machine CPU time is the steadier of the two.  The CPU
overhead of each round (one plain run and one ingest run back to back, so
under the same machine load) is printed too, with its median: the spread
shows how much of a difference is noise.  Each round's extra CPU is also
split between the extracting thread (``time.thread_time()``) and the fetching
threads (the rest of the process), medians printed.

    python benchmarks/bench_extract.py --data ../shared/data/article-extraction-benchmark
"""

from __future__ import annotations

import argparse
import gzip
import http.server
import json
import re
import socketserver
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from statistics import mean, median
from typing import Any

_TOKEN = re.compile(r"\w+", re.UNICODE)


def shingle_counts(text: str, n: int = 4) -> Counter[tuple[str, ...]]:
    """Multiset of word n-grams (a text shorter than n words is one short shingle)."""
    tokens = _TOKEN.findall(text or "")
    grams = [tuple(tokens[i : i + n]) for i in range(max(1, len(tokens) - n + 1))]
    return Counter(g for g in grams if g)


def tp_fp_fn(truth: str, pred: str) -> tuple[float, float, float]:
    """Shingle overlap of one page, normalised so every page weighs the same."""
    t, p = shingle_counts(truth), shingle_counts(pred)
    tp = float(sum((t & p).values()))
    fp = float(sum((p - t).values()))
    fn = float(sum((t - p).values()))
    total = tp + fp + fn
    return (tp / total, fp / total, fn / total) if total else (0.0, 0.0, 0.0)


def scores(rows: list[tuple[float, float, float]]) -> dict[str, float]:
    """Precision and recall averaged over pages (as the benchmark does), and F1."""

    def prec(tp: float, fp: float, fn: float) -> float:
        if fp == 0 and fn == 0:
            return 1.0
        return tp / (tp + fp) if tp + fp else 0.0

    def rec(tp: float, fp: float, fn: float) -> float:
        if fp == 0 and fn == 0:
            return 1.0
        return tp / (tp + fn) if tp + fn else 0.0

    p = mean(prec(*r) for r in rows if r[0] + r[1] > 0)
    r = mean(rec(*x) for x in rows if x[0] + x[2] > 0)
    return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0}


# ------------------------------------------------------------------ local server


class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves ``/<id>.html`` from ``<root>/<id>.html.gz`` with gzip transfer encoding.

    HTTP/1.1 with keep-alive, as real web servers answer (Nagle off, so a
    response is not held back waiting for the client's delayed ACK).
    """

    root = Path(".")
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        name = self.path.lstrip("/")
        path = self.root / f"{name}.gz"
        if not name.endswith(".html") or "/" in name or not path.is_file():
            self.send_error(404)
            return
        body = path.read_bytes()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return None


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


def serve(root: Path) -> None:
    """Run the page server; print its port on stdout (subprocess mode)."""
    _Handler.root = root
    with _Server(("127.0.0.1", 0), _Handler) as httpd:
        print(httpd.server_address[1], flush=True)
        httpd.serve_forever()


# ------------------------------------------------------------------------- runs


def run_plain(files: list[Path]) -> tuple[dict[str, str], float, float]:
    """The reference: ``trafilatura.extract`` over the gzipped files, one thread.

    Returns the texts, wall seconds and CPU seconds (all threads of this process).
    """
    import trafilatura

    out: dict[str, str] = {}
    start, cpu = time.perf_counter(), time.process_time()
    for f in files:
        with gzip.open(f, "rt", encoding="utf8") as fh:
            html = fh.read()
        out[f.name.split(".")[0]] = trafilatura.extract(html, include_comments=False) or ""
    return out, time.perf_counter() - start, time.process_time() - cpu


def run_ingest(
    ids: list[str], port: int, fetch_threads: int
) -> tuple[dict[str, str], float, float, float, Any]:
    """The ingest stage over the served pages, in fresh output and cache folders.

    Returns the texts, wall seconds, CPU seconds (all threads), CPU seconds of
    this (the extracting) thread alone, and the summary; the difference of the
    two CPU figures is what the fetching threads spent.
    """
    from tipnlp.io import read_table
    from tipnlp.scrape import ingest
    from tipnlp.scrape.sources import Source
    from tipnlp.settings import FetchSettings, Settings

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            cache_dir=Path(tmp) / "cache",
            fetch=FetchSettings(
                allow_private_addresses=True,  # the benchmark server is on 127.0.0.1
                rate_limit_per_host=0,
                concurrency=fetch_threads,
                concurrency_per_host=fetch_threads,
                timeout_s=30,
            ),
        )
        urls = [f"http://127.0.0.1:{port}/{i}.html" for i in ids]
        source = Source(name="bench", type="urls", locations=tuple(urls))
        start, cpu, own = time.perf_counter(), time.process_time(), time.thread_time()
        summary = ingest([source], Path(tmp) / "out", settings)
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
        own = time.thread_time() - own
        table = read_table(Path(tmp) / "out", "documents", columns=["url", "text", "status"])
    texts: dict[str, str] = {}
    for url, text in zip(
        table.column("url").to_pylist(), table.column("text").to_pylist(), strict=True
    ):
        texts[url.rsplit("/", 1)[1].split(".")[0]] = text or ""
    return texts, elapsed, cpu, own, summary


def main() -> int:
    """Run both, print the table."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument(
        "--data", type=Path, default=Path("../shared/data/article-extraction-benchmark")
    )
    ap.add_argument("--fetch-threads", type=int, default=4)
    ap.add_argument("--limit", type=int, default=0, help="only the first N pages (0 = all)")
    ap.add_argument(
        "--repeat", type=int, default=5, help="timed runs of each, interleaved; best is kept"
    )
    ap.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        serve(args.serve)
        return 0
    truth_path = args.data / "ground-truth.json"
    if not truth_path.is_file():
        print(f"benchmark data not found at {args.data}", file=sys.stderr)
        return 2
    truth = {k: v.get("articleBody", "") for k, v in json.loads(truth_path.read_text()).items()}
    files = sorted((args.data / "html").glob("*.html.gz"))
    if args.limit:
        files = files[: args.limit]
    ids = [f.name.split(".")[0] for f in files]

    import trafilatura

    from tipnlp.scrape.dedup import lsh_params
    from tipnlp.scrape.extract import warm_up
    from tipnlp.settings import ScrapeSettings

    # One-time costs are paid before timing, for both runs alike: imports and
    # trafilatura's first call; for ingest also py3langid's model, the LSH
    # parameters and Arrow's first table (printed below), so the table
    # compares per-page throughput.
    trafilatura.extract("<html><body><p>warm up the imports and caches</p></body></html>")
    t0 = time.perf_counter()
    warm_up()
    t_langid = time.perf_counter() - t0
    scrape = ScrapeSettings()
    t0 = time.perf_counter()
    lsh_params(scrape.near_duplicate_threshold, scrape.minhash_permutations)
    t_lsh = time.perf_counter() - t0
    from tipnlp.documents import Document
    from tipnlp.io import to_table

    t0 = time.perf_counter()
    to_table("documents", [Document(doc_id="warm-up", text="x").to_row()])
    t_arrow = time.perf_counter() - t0

    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(args.data / "html")],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        t_plain = t_ing = c_plain = c_ing = float("inf")
        rounds: list[float] = []
        split: list[tuple[float, float]] = []  # per round: extracting thread, fetch threads
        for _ in range(max(1, args.repeat)):
            plain, secs, cpu_plain = run_plain(files)
            t_plain, c_plain = min(t_plain, secs), min(c_plain, cpu_plain)
            ing, secs, cpu, own, summary = run_ingest(ids, port, args.fetch_threads)
            t_ing, c_ing = min(t_ing, secs), min(c_ing, cpu)
            rounds.append(cpu / cpu_plain - 1)
            split.append(((own - cpu_plain) / cpu_plain, (cpu - own) / cpu_plain))
    finally:
        server.terminate()
        server.wait()

    rows = []
    for name, pred, secs, cpu in (
        ("trafilatura.extract loop", plain, t_plain, c_plain),
        ("tipnlp ingest (HTTP)", ing, t_ing, c_ing),
    ):
        m = scores([tp_fp_fn(truth[i], pred.get(i, "")) for i in ids])
        rows.append((name, m, secs, cpu))
    print(
        f"pages: {len(ids)}   ingest statuses: {dict(summary.by_status)}   "
        f"HTTP requests: {summary.requests}   best of {args.repeat} runs each"
    )
    print(
        f"threads: plain loop 1; ingest 1 extracting + {args.fetch_threads} fetching "
        "(CPU time counts every thread of the process)"
    )
    print(
        f"{'run':<26} {'F1':>6} {'prec':>6} {'recall':>6} {'wall s':>7} {'pages/s':>8} {'CPU s':>6}"
    )
    for name, m, secs, cpu in rows:
        print(
            f"{name:<26} {m['f1']:6.3f} {m['precision']:6.3f} {m['recall']:6.3f} "
            f"{secs:7.2f} {len(ids) / secs:8.1f} {cpu:6.2f}"
        )
    print(
        f"ingest overhead over the plain loop: wall {t_ing / t_plain - 1:+.1%}, "
        f"CPU {c_ing / c_plain - 1:+.1%} (target < +25%)"
    )
    print(
        "CPU overhead per round: "
        + ", ".join(f"{r:+.1%}" for r in rounds)
        + f"; median {median(rounds):+.1%}"
    )
    print(
        "of which (median per round, relative to the plain loop's CPU): extracting thread "
        f"{median(x for x, _ in split):+.1%}, fetching threads {median(y for _, y in split):+.1%}"
    )
    print(
        f"one-time costs per process, paid before timing: py3langid model {t_langid:.2f} s, "
        f"LSH parameters {t_lsh:.2f} s, first Arrow table {t_arrow:.2f} s"
    )
    same = sum(plain.get(i, "") == ing.get(i, "") for i in ids)
    print(f"identical text on {same}/{len(ids)} pages")
    return 0


if __name__ == "__main__":
    sys.exit(main())
