"""Speed of the batch run on the local runner vs a local Dask cluster.

Usage: python benchmarks/bench_dask.py [--docs 400] [--workers 2] [--tagger auto]

Writes ``--docs`` synthetic text files, runs ``run_batch`` once with each
runner (each with its own fresh output folder) and prints documents/s.
Prefect/Dask start-up is included, as a user would see it, and also shown
without it (tagging time measured inside the flow is not exposed, so the
"steady" column subtracts a run over a single document).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipelines.run import run_batch  # noqa: E402

PHRASES = [
    "Police arrested {n} men suspected of trafficking workers for forced labour.",
    "The prosecutor charged the recruiters with trafficking in persons.",
    "Whoever recruits a person by deception for exploitation shall be punished by "
    "imprisonment of not less than {n} years.",
    "Victims were referred to a shelter and received legal aid and counselling.",
    "The ministry said the anti-trafficking unit lacked funding and staff.",
    "A labour inspection found {n} workers whose passports had been confiscated.",
]


def make_docs(folder: Path, n: int) -> None:
    """Synthetic documents in our own words, varied so dedup keeps them."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        lines = [f"Report {i} from district {i * 7 % 101}"]
        for j in range(12):
            lines.append(
                PHRASES[(i + j) % len(PHRASES)].format(n=(i * 13 + j) % 40 + 2)
                + f" Reference {i}-{j}."
            )
        (folder / f"doc-{i:05d}.txt").write_text("\n\n".join(lines), encoding="utf-8")


def timed(items: list[str], out: Path, runner: str, workers: int, tagger: str) -> float:
    t0 = time.perf_counter()
    run_batch(items, out, runner=runner, workers=workers, tagger=tagger)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--docs", type=int, default=400)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--tagger", default="auto")
    args = ap.parse_args()
    os.environ.setdefault("TIPNLP_SCRAPE__PART_SIZE", "25")
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        make_docs(base / "docs", args.docs)
        make_docs(base / "one", 1)
        rows = []
        for runner in ("local", "dask"):
            os.environ["PREFECT_HOME"] = str(base / f"prefect-{runner}")
            startup = timed(
                [str(base / "one")], base / f"one-{runner}", runner, args.workers, args.tagger
            )
            total = timed(
                [str(base / "docs")], base / f"out-{runner}", runner, args.workers, args.tagger
            )
            rows.append((runner, total, startup))
    print(
        f"\ncores: {os.cpu_count()}  documents: {args.docs}  tagger: {args.tagger}  "
        f"workers: {args.workers}"
    )
    print(f"{'runner':8} {'wall s':>8} {'docs/s':>8} {'1-doc run s':>12} {'steady docs/s':>14}")
    for runner, total, startup in rows:
        steady = args.docs / max(total - startup, 1e-9)
        print(f"{runner:8} {total:8.1f} {args.docs / total:8.1f} {startup:12.1f} {steady:14.1f}")
    (l_total, l_start), (d_total, d_start) = rows[0][1:], rows[1][1:]
    print(f"speed-up (steady): {(l_total - l_start) / max(d_total - d_start, 1e-9):.2f}x")


if __name__ == "__main__":
    main()
