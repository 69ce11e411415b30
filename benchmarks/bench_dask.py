"""Speed of the batch run on the local runner vs a local Dask cluster.

Usage: python benchmarks/bench_dask.py [--docs 400] [--workers 2] [--tagger rules]
                                       [--model PATH] [--repeats 1] [--json FILE]

Writes ``--docs`` synthetic text files and runs ``tipnlp run FOLDER --out OUT
--runner local|dask`` on them, each run in a fresh process with its own
output folder and its own ``PREFECT_HOME``, as a user would run it.  Runners
alternate (local first in odd repeats, dask first in even ones) so a burst of
load from other jobs hits both alike.

For each runner it prints wall time, documents/s, CPU seconds of the whole
process tree (the command, its Dask workers and the Prefect server it
starts), and a "steady" rate: the same command on a one-document folder
measures start-up (Python and Prefect imports, Prefect server, Dask cluster,
tagger loading), which is subtracted.  The speed-up is local / dask, from the
medians over ``--repeats``.  The load average before and after is printed;
on a machine shared with other jobs the figures are rough.

The dask runner parallelises the tag tasks (one per staging part); ingest
(reading and cleaning the files) is one task in both runners.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tipnlp.io import read_table, write_json_atomic

ROOT = Path(__file__).resolve().parents[1]

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


def run_cli(
    folder: Path,
    out: Path,
    runner: str,
    workers: int,
    tagger: str,
    model: str | None,
    prefect_home: Path,
    part_size: int,
) -> dict[str, float]:
    """One ``tipnlp run`` in a subprocess: wall seconds and CPU seconds of its process tree.

    CPU time is ``RUSAGE_CHILDREN``: every descendant that was waited for
    (Dask worker processes and the Prefect server are reaped by the command).
    """
    exe = Path(sys.executable).with_name("tipnlp")
    cmd = [str(exe), "run", str(folder), "--out", str(out), "--runner", runner]
    cmd += ["--tagger", tagger, "--workers", str(workers)]
    if model:
        cmd += ["--model", model]
    env = dict(os.environ)
    env.pop("PREFECT_API_URL", None)
    env["PREFECT_HOME"] = str(prefect_home)
    env["TIPNLP_SCRAPE__PART_SIZE"] = str(part_size)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(
            f"tipnlp run --runner {runner} failed ({proc.returncode}):\n{proc.stderr[-3000:]}"
        )
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall": wall, "cpu": cpu}


def count_rows(out: Path, table: str) -> int:
    """Rows of one output table (a sanity check that both runners did the same work)."""
    return int(read_table(out, table, columns=["doc_id"]).num_rows)


def main(argv: list[str] | None = None) -> int:
    """Measure both runners and print the table."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--docs", type=int, default=400, help="synthetic documents (13 sentences)")
    ap.add_argument("--workers", type=int, default=2, help="Dask worker processes")
    ap.add_argument("--tagger", default="rules", help="auto, model or rules (default rules)")
    ap.add_argument("--model", default=None, help="model name under models/ or a path")
    ap.add_argument(
        "--part-size", type=int, default=64, help="documents per staging part (scrape.part_size)"
    )
    ap.add_argument("--repeats", type=int, default=1, help="runs per runner (median)")
    ap.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = ap.parse_args(argv)

    load_before = os.getloadavg()
    runners = ("local", "dask")
    results: dict[str, dict[str, list[float]]] = {
        r: {"wall": [], "cpu": [], "startup": [], "startup_cpu": []} for r in runners
    }
    counts: dict[str, tuple[int, int]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-dask-") as tmp:
        base = Path(tmp)
        make_docs(base / "docs", args.docs)
        make_docs(base / "one", 1)
        for rep in range(args.repeats):
            order = runners if rep % 2 == 0 else runners[::-1]
            for runner in order:
                tag = f"{runner}-{rep}"
                print(f"repeat {rep + 1}/{args.repeats}: {runner} ...", file=sys.stderr, flush=True)
                common = (args.workers, args.tagger, args.model)
                one = run_cli(
                    base / "one",
                    base / f"one-{tag}",
                    runner,
                    *common,
                    base / f"prefect-one-{tag}",
                    args.part_size,
                )
                full = run_cli(
                    base / "docs",
                    base / f"out-{tag}",
                    runner,
                    *common,
                    base / f"prefect-{tag}",
                    args.part_size,
                )
                res = results[runner]
                res["wall"].append(full["wall"])
                res["cpu"].append(full["cpu"])
                res["startup"].append(one["wall"])
                res["startup_cpu"].append(one["cpu"])
                counts[runner] = (
                    count_rows(base / f"out-{tag}", "documents"),
                    count_rows(base / f"out-{tag}", "sentences"),
                )
    load_after = os.getloadavg()

    med = {r: {k: statistics.median(v) for k, v in results[r].items()} for r in runners}
    n = args.docs
    print(
        f"\ncores: {os.cpu_count()}  documents: {n}  part size: {args.part_size}  "
        f"tagger: {args.tagger}{f' ({args.model})' if args.model else ''}  "
        f"dask workers: {args.workers}  repeats: {args.repeats} (median)"
    )
    header = (
        f"{'runner':8}{'wall s':>9}{'docs/s':>9}{'CPU s':>9}{'docs/CPU-s':>12}"
        f"{'1-doc run s':>13}{'steady docs/s':>15}{'sentences':>11}"
    )
    print(header)
    print("-" * len(header))
    steady: dict[str, float] = {}
    for r in runners:
        m = med[r]
        steady[r] = n / max(m["wall"] - m["startup"], 1e-9)
        print(
            f"{r:8}{m['wall']:9.1f}{n / m['wall']:9.1f}{m['cpu']:9.1f}"
            f"{n / max(m['cpu'], 1e-9):12.1f}{m['startup']:13.1f}{steady[r]:15.1f}"
            f"{counts[r][1]:11d}"
        )
    total_speedup = med["local"]["wall"] / med["dask"]["wall"]
    steady_speedup = steady["dask"] / steady["local"]
    print(f"speed-up dask/local: {total_speedup:.2f}x wall, {steady_speedup:.2f}x steady")
    if counts["local"] != counts["dask"]:
        print(f"WARNING: runners wrote different row counts: {counts}")
    print(
        "load average before: {:.2f} {:.2f} {:.2f}; after: {:.2f} {:.2f} {:.2f}".format(
            *load_before, *load_after
        )
    )
    if args.json:
        data: dict[str, Any] = {
            "args": {k: str(v) for k, v in vars(args).items()},
            "runs": results,
            "median": med,
            "speedup_wall": total_speedup,
            "speedup_steady": steady_speedup,
            "load_before": load_before,
            "load_after": load_after,
        }
        write_json_atomic(args.json, data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
