"""Inference speed of the tagger's runtimes and of ``tipnlp tag``, with dev macro-F1.

On the same sentences (every gold sentence of ``train.jsonl`` and ``dev.jsonl``,
cut by the gold offsets and given the context the tagger gives) it measures
sentences per second, median of ``--runs`` timed passes after a warm-up, for

  (a) a transformers ``pipeline("text-classification", top_k=None)`` called
      one sentence at a time (``pipeline("feature-extraction")`` + mean
      pooling for a hybrid model, whose runtimes embed each sentence alone
      without the context pair) (on a fixed every-k-th subset, see
      ``--pipeline-sentences``: at a few sentences per second the full set
      would take longer than everything else together),
  (b) the tagger's batched PyTorch backend,
  (c) ONNX Runtime fp32 (fused graph),
  (d) ONNX Runtime int8 (dynamic quantization),
  (e) the whole ``tipnlp tag`` command on a JSONL of the gold documents
      (subprocess; sentences written / wall time, start-up included),

and beside each the dev macro-F1 of the transformer tagger on that runtime
(``tipnlp.training.evaluate.evaluate_tagger`` on ``dev.jsonl``; (e) runs the
model's default runtime, so its F1 is that one's).  Then peak resident memory
of ``tipnlp tag`` (process tree, polled with psutil) on the input and on
``--scale`` times the input (documents repeated under new ids).
``--memory-only`` runs just that memory check (no (a)-(d), no dev F1), and
``--tagger rules`` runs it without a model, which isolates the tagging stage's
own memory from the model runtime's; ``--distinct`` makes the copies
letter-shifted text (new vocabulary) instead of repeats.

Wall-clock rates suffer when other jobs share the CPU, so the table also
gives sentences per CPU-second, and the load average is printed.  For the
same reason the "(e) at least 60% of (d)" check compares each ``tipnlp tag``
run with a run of its runtime on the same sentences timed just before it
(median of those ratios); the ratio against the (d) row, timed minutes
earlier, is printed beside it.

    python benchmarks/bench_inference.py --model default --runs 3
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

for _k, _v in {
    "HF_HUB_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "ORT_DISABLE_TELEMETRY": "1",
    "TOKENIZERS_PARALLELISM": "false",
}.items():
    os.environ.setdefault(_k, _v)

import numpy as np  # noqa: E402

from tipnlp.io import read_jsonl, read_table, write_json_atomic, write_jsonl_atomic  # noqa: E402
from tipnlp.nlp import runtime as rt  # noqa: E402
from tipnlp.nlp.hybrid import is_hybrid  # noqa: E402
from tipnlp.settings import Settings, get_settings  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


class PipelineBackend:
    """``EncoderBackend`` over a transformers pipeline, one call per sentence.

    The pipeline returns sigmoid scores (multi-label model); the logit is
    recovered as log(p / (1 - p)) so the tagger's calibration applies as
    for the other runtimes and its F1 is comparable.
    """

    name = "pipeline"

    def __init__(self, model_dir: Path, max_length: int) -> None:
        """Build the pipeline on CPU (``feature-extraction`` for a hybrid's encoder)."""
        from transformers import pipeline

        from tipnlp.nlp.hybrid import is_hybrid

        self.pooled = is_hybrid(model_dir)
        task = "feature-extraction" if self.pooled else "text-classification"
        kwargs: dict[str, Any] = {} if self.pooled else {"top_k": None}
        self.pipe = pipeline(task, model=str(model_dir), device=-1, **kwargs)
        self.max_length = max_length
        id2label = self.pipe.model.config.id2label or {}
        self.index = {str(v): int(k) for k, v in id2label.items()}

    def logits(self, texts: Sequence[str], pairs: Sequence[str | None] | None = None) -> Any:
        """One pipeline call per sentence; rows in input order."""
        if self.pooled:
            return self._embeddings(texts)
        out = np.zeros((len(texts), len(self.index)), dtype=np.float32)
        for i, text in enumerate(texts):
            pair = pairs[i] if pairs is not None else None
            item: Any = {"text": text, "text_pair": pair} if pair else text
            res = self.pipe(item, truncation=True, max_length=self.max_length)
            rows = res[0] if res and isinstance(res[0], list) else res
            for r in rows:
                p = min(max(float(r["score"]), 1e-7), 1 - 1e-7)
                out[i, self.index[r["label"]]] = math.log(p / (1 - p))
        return out

    def _embeddings(self, texts: Sequence[str]) -> np.ndarray:
        """Mean-pooled, normalised token vectors, one pipeline call per sentence."""
        width = int(self.pipe.model.config.hidden_size)
        out = np.zeros((len(texts), width), dtype=np.float32)
        for i, text in enumerate(texts):
            res = self.pipe(text, truncation=True, max_length=self.max_length)
            vec = np.asarray(res[0], dtype=np.float32).mean(axis=0)
            out[i] = vec / max(float(np.linalg.norm(vec)), 1e-9)
        return out


def timed_runs(
    backends: dict[str, Any], texts: list[str], pairs: list[str | None], runs: int
) -> dict[str, tuple[float, float]]:
    """Per backend: median sentences/s (wall) and sentences per CPU-second of this process.

    Runs are interleaved (round robin) so a burst of load from another job
    slows every runtime alike; each backend gets a warm-up call first.
    """
    warm = min(len(texts), 32)
    for backend in backends.values():
        backend.logits(texts[:warm], pairs[:warm])
    walls: dict[str, list[float]] = {k: [] for k in backends}
    cpus: dict[str, list[float]] = {k: [] for k in backends}
    for _ in range(runs):
        for key, backend in backends.items():
            c0, t0 = time.process_time(), time.perf_counter()
            backend.logits(texts, pairs)
            walls[key].append(len(texts) / (time.perf_counter() - t0))
            cpus[key].append(len(texts) / max(time.process_time() - c0, 1e-9))
    return {k: (statistics.median(walls[k]), statistics.median(cpus[k])) for k in backends}


def dev_f1(backend: Any, model_dir: Path, settings: Settings, dev: Path) -> float:
    """Dev macro-F1 of the model folder's tagger (fine-tuned or hybrid) on ``backend``."""
    from tipnlp.nlp.tagger import tagger_for
    from tipnlp.training.evaluate import evaluate_tagger

    tagger = tagger_for(backend, model_dir, settings)
    return float(evaluate_tagger(tagger, dev, use_context=settings.tag.use_context).macro_f1)


def shift_letters(text: str, k: int) -> str:
    """``text`` with its ASCII letters rotated by ``k`` (a Caesar cipher).

    Case, digits, punctuation, spacing and word lengths stay, so a copy
    segments much like the original, but nearly every word is a new token
    string: the worst case for state that grows with the vocabulary.
    """
    if k % 26 == 0:
        return text
    lower = "abcdefghijklmnopqrstuvwxyz"
    upper = lower.upper()
    table = str.maketrans(
        lower + upper, lower[k % 26 :] + lower[: k % 26] + upper[k % 26 :] + upper[: k % 26]
    )
    return text.translate(table)


def write_docs(gold_files: list[Path], path: Path, scale: int, distinct: bool = False) -> int:
    """The gold documents' text as ``tipnlp tag`` input, ``scale`` copies with new ids.

    With ``distinct`` copy k has its letters shifted by k (``shift_letters``),
    so the copies bring new vocabulary instead of repeating the first one's.
    """
    docs = [d for f in gold_files for d in read_jsonl(f)]
    rows = (
        {
            "doc_id": f"{d['doc_id']}-{k}",
            "url": d.get("url"),
            "language": d.get("language"),
            "kind": d.get("kind"),
            "text": shift_letters(d["text"], k) if distinct else d["text"],
        }
        for k in range(scale)
        for d in docs
    )
    return write_jsonl_atomic(path, rows)


def run_tag(
    docs: Path, out: Path, model_dir: Path | None, tagger: str = "model"
) -> dict[str, float]:
    """Run ``tipnlp tag`` as a subprocess; wall time, CPU time, peak RSS, sentences.

    Peak RSS is the whole process tree's, polled every 50 ms with psutil.
    """
    import psutil

    exe = Path(sys.executable).with_name("tipnlp")
    cmd = [str(exe), "tag", str(docs), "--out", str(out), "--tagger", tagger]
    if model_dir is not None:
        cmd += ["--model", str(model_dir)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    ps = psutil.Process(proc.pid)
    peak = 0
    while proc.poll() is None:
        try:
            tree = [ps, *ps.children(recursive=True)]
            peak = max(peak, sum(p.memory_info().rss for p in tree))
        except psutil.Error:
            pass
        time.sleep(0.05)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    _, err = proc.communicate()
    if proc.returncode != 0:
        raise SystemExit(f"tipnlp tag failed ({proc.returncode}): {err[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    n = read_table(out, "sentences", columns=["doc_id"]).num_rows
    return {"wall": wall, "cpu": cpu, "peak_mb": peak / 2**20, "sentences": float(n)}


def memory_check(
    gold_files: list[Path],
    model_dir: Path | None,
    tagger: str,
    scale: int,
    tmp: Path,
    distinct: bool = False,
) -> dict[str, float]:
    """Peak RSS of ``tipnlp tag`` on the gold documents and on ``scale`` times them."""
    figures: dict[str, float] = {}
    for k in (1, scale):
        docs = tmp / f"docs_{k}x.jsonl"
        write_docs(gold_files, docs, k, distinct=distinct)
        what = "distinct " if distinct and k > 1 else ""
        print(f"memory: tipnlp tag --tagger {tagger} on {k}x {what}input ...", file=sys.stderr)
        res = run_tag(docs, tmp / f"out_{k}x", model_dir, tagger)
        figures[f"peak_{k}x_mb"] = res["peak_mb"]
        figures[f"sentences_{k}x"] = res["sentences"]
        figures[f"cpu_{k}x_s"] = res["cpu"]
        figures[f"wall_{k}x_s"] = res["wall"]
    return figures


def memory_only(args: argparse.Namespace, gold_files: list[Path], model_dir: Path | None) -> int:
    """``--memory-only``: peak RSS 1x vs ``--scale`` x, nothing else."""
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        mem = memory_check(
            gold_files, model_dir, args.tagger, args.scale, Path(tmp), distinct=args.distinct
        )
    load_after = os.getloadavg()
    n = args.scale
    growth = mem[f"peak_{n}x_mb"] / mem["peak_1x_mb"] - 1
    for k in (1, n):
        sents = mem[f"sentences_{k}x"]
        print(
            f"{k:>3}x input: {int(sents):6d} sentences, peak RSS {mem[f'peak_{k}x_mb']:6.0f} MiB, "
            f"wall {mem[f'wall_{k}x_s']:6.1f} s, {sents / max(mem[f'cpu_{k}x_s'], 1e-9):6.1f} "
            "sentences/CPU-s"
        )
    ok = growth < 0.2
    print(f"{'PASS' if ok else 'MISS'}  memory growth {n}x < 20% [{growth:+.1%}]")
    copies = "letter-shifted copies (--distinct)" if args.distinct else "repeated copies"
    print(f"\n{n}x input: {copies}; tagger: {args.tagger}; model: {model_dir or '-'}")
    print(
        "load average before: {:.2f} {:.2f} {:.2f}; after: {:.2f} {:.2f} {:.2f}".format(
            *load_before, *load_after
        )
    )
    if args.json:
        write_json_atomic(
            args.json,
            {"memory": mem, "growth": growth, "tagger": args.tagger, "distinct": args.distinct},
        )
    return 0 if ok else 1


def main(argv: Sequence[str] | None = None) -> int:
    """Measure, print the table; exit 1 if a target is missed, 2 if inputs are missing."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--model", default="default", help="model name under models/ or a path")
    ap.add_argument("--runs", type=int, default=3, help="timed runs per runtime (median)")
    ap.add_argument("--gold", type=Path, default=ROOT.parent / "shared" / "data" / "gold")
    ap.add_argument(
        "--pipeline-sentences",
        type=int,
        default=400,
        help="(a) is timed on this fixed every-k-th subset (0: all)",
    )
    ap.add_argument("--scale", type=int, default=10, help="input multiple for the memory check")
    ap.add_argument("--skip-tag", action="store_true", help="skip (e) and the memory check")
    ap.add_argument("--skip-f1", action="store_true", help="skip dev macro-F1")
    ap.add_argument(
        "--f1-from-runtime",
        action="store_true",
        help="take (b)-(d) dev macro-F1 from the model's runtime.json (measured by the same "
        "evaluate_tagger when it was built) and give (a) the F1 of (b), same weights; "
        "saves ~8 minutes on 2 cores",
    )
    ap.add_argument(
        "--memory-only",
        action="store_true",
        help="only the peak-RSS check of tipnlp tag, 1x vs --scale x (no (a)-(e), no F1)",
    )
    ap.add_argument(
        "--tagger",
        choices=("model", "rules"),
        default="model",
        help="tagger of tipnlp tag in the memory check (rules: no model needed; "
        "only with --memory-only)",
    )
    ap.add_argument(
        "--distinct",
        action="store_true",
        help="with --memory-only: copy k of the input has its letters shifted by k, so the "
        "copies bring new vocabulary (default: the same text repeated under new ids)",
    )
    ap.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = ap.parse_args(argv)
    if args.tagger == "rules" and not args.memory_only:
        ap.error("--tagger rules only makes sense with --memory-only")
    if args.distinct and not args.memory_only:
        ap.error("--distinct only makes sense with --memory-only")
    if args.scale < 2 and args.memory_only:
        ap.error("--memory-only needs --scale >= 2")

    settings = get_settings(model=args.model, gold_dir=args.gold)
    model_dir = settings.model_path().resolve()
    gold_files = [args.gold / "train.jsonl", args.gold / "dev.jsonl"]
    if not all(f.is_file() for f in gold_files):
        print(f"gold files missing under {args.gold}", file=sys.stderr)
        return 2
    if args.memory_only and args.tagger == "rules":
        return memory_only(args, gold_files, None)
    if not (model_dir / "config.json").is_file():
        print(f"no model at {model_dir}: run `make model` first", file=sys.stderr)
        return 2
    if args.memory_only:
        return memory_only(args, gold_files, model_dir)
    dev = args.gold / "dev.jsonl"
    for variant in ("fp32", "int8"):
        if not rt.onnx_path(model_dir, variant).is_file():
            print(f"exporting {variant} ONNX ...", file=sys.stderr)
            fp32 = rt.export_onnx(model_dir) if variant == "fp32" else None
            if variant == "int8":
                rt.quantize_int8(fp32 or rt.onnx_path(model_dir, "fp32"))

    texts, pair_list = rt.gold_sentences(gold_files, settings.tag.use_context)
    # A hybrid's encoder embeds each sentence alone (its context is separate features).
    pairs: list[str | None] = [None] * len(texts) if is_hybrid(model_dir) else pair_list
    load_before = os.getloadavg()
    rows: dict[str, dict[str, Any]] = {}

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    # (a) pipeline, one sentence at a time, on a fixed subset
    step = max(1, len(texts) // args.pipeline_sentences) if args.pipeline_sentences else 1
    sub_t, sub_p = texts[::step], pairs[::step]
    if args.pipeline_sentences:
        sub_t, sub_p = sub_t[: args.pipeline_sentences], sub_p[: args.pipeline_sentences]
    log(f"(a) pipeline on {len(sub_t)} sentences ...")
    pipe = PipelineBackend(model_dir, settings.tag.max_length)
    wall, cpu = timed_runs({"a": pipe}, sub_t, sub_p, args.runs)["a"]
    rows["a"] = {
        "what": "transformers pipeline, 1 at a time",
        "n": len(sub_t),
        "sps": wall,
        "cpu_sps": cpu,
    }
    saved = (rt.read_runtime(model_dir) or {}).get("backends", {})
    if args.f1_from_runtime:
        rows["a"]["f1"] = saved.get("torch", {}).get("dev_macro_f1")
        rows["a"]["what"] += " *"
    elif not args.skip_f1:
        rows["a"]["f1"] = dev_f1(pipe, model_dir, settings, dev)
    del pipe

    runtimes = {"b": "torch", "c": "onnx", "d": "onnx-int8"}
    whats = {"b": "PyTorch, batched", "c": "ONNX Runtime fp32", "d": "ONNX Runtime int8"}
    backends = {key: rt.make_backend(model_dir, name, settings) for key, name in runtimes.items()}
    log(f"(b)-(d) on {len(texts)} sentences, {args.runs} interleaved runs ...")
    for key, (wall, cpu) in timed_runs(backends, texts, pairs, args.runs).items():
        rows[key] = {"what": whats[key], "n": len(texts), "sps": wall, "cpu_sps": cpu}
        if args.f1_from_runtime:
            rows[key]["f1"] = saved.get(runtimes[key], {}).get("dev_macro_f1")
            rows[key]["what"] += " *"
        elif not args.skip_f1:
            log(f"({key}) dev macro-F1 ...")
            rows[key]["f1"] = dev_f1(backends[key], model_dir, settings, dev)
    del backends

    default = rt.resolve_backend_name(model_dir, settings.tag.backend)
    mem: dict[str, float] = {}
    pairing: dict[str, Any] = {}  # (e) and (d) timed back to back
    if not args.skip_tag:
        with tempfile.TemporaryDirectory(prefix="bench-inference-") as tmp:
            docs1 = Path(tmp) / "docs.jsonl"
            write_docs(gold_files, docs1, 1)
            runs = []
            # (e) against (d) under the same machine load: each tag run follows
            # a run of the default runtime on the 5,123 sentences, and the check
            # uses the median of these back-to-back ratios (the (d) row above
            # was timed minutes earlier, under whatever load there was then).
            paired = rt.make_backend(model_dir, default, settings)
            paired.logits(texts[:32], pairs[:32])
            for r in range(args.runs):
                log(f"(e) tipnlp tag, run {r + 1}/{args.runs}, after ({default}) ...")
                t0 = time.perf_counter()
                paired.logits(texts, pairs)
                beside = len(texts) / (time.perf_counter() - t0)
                res = run_tag(docs1, Path(tmp) / f"out{r}", model_dir)
                res["beside_sps"] = beside
                res["ratio"] = res["sentences"] / res["wall"] / beside
                runs.append(res)
            del paired
            med = sorted(runs, key=lambda x: x["wall"])[len(runs) // 2]
            pairing["ratios"] = [x["ratio"] for x in runs]
            pairing["ratio"] = statistics.median(pairing["ratios"])
            pairing["d_sps"] = statistics.median(x["beside_sps"] for x in runs)
            rows["e"] = {
                "what": f"tipnlp tag end to end ({default})",
                "n": int(med["sentences"]),
                "sps": med["sentences"] / med["wall"],
                "cpu_sps": med["sentences"] / max(med["cpu"], 1e-9),
                "f1": rows.get({"torch": "b", "onnx": "c", "onnx-int8": "d"}[default], {}).get(
                    "f1"
                ),
            }
            mem["peak_1x_mb"] = max(x["peak_mb"] for x in runs)
            if args.scale > 1:
                docsn = Path(tmp) / "docs_n.jsonl"
                write_docs(gold_files, docsn, args.scale)
                log(f"memory: tipnlp tag on {args.scale}x the input ...")
                big = run_tag(docsn, Path(tmp) / "out_n", model_dir)
                mem["peak_nx_mb"] = big["peak_mb"]
                mem["sentences_nx"] = big["sentences"]
                mem["sps_nx"] = big["sentences"] / big["wall"]
    load_after = os.getloadavg()

    # ------------------------------------------------------------------ table
    base_a, base_b = rows["a"]["sps"], rows["b"]["sps"]
    header = f"{'':4}{'runtime':40}{'sentences':>10}{'sent/s':>9}{'sent/CPU-s':>12}"
    header += f"{'x (a)':>8}{'x (b)':>8}{'dev F1':>8}"
    print(header)
    print("-" * len(header))
    for key, row in rows.items():
        f1 = row.get("f1")
        print(
            f"({key}) {row['what']:40}{row['n']:>10}{row['sps']:>9.1f}{row['cpu_sps']:>12.1f}"
            f"{row['sps'] / base_a:>8.1f}{row['sps'] / base_b:>8.2f}"
            f"{(f'{f1:.3f}' if f1 is not None else '-'):>8}"
        )
    if args.f1_from_runtime:
        print("* dev macro-F1 from runtime.json (evaluate_tagger at build time); (a) = (b)")
    print()
    checks = [
        ("(d) >= 5x (a)", rows["d"]["sps"] >= 5 * base_a),
        ("(d) >= 1.7x (b)", rows["d"]["sps"] >= 1.7 * base_b),
    ]
    if "e" in rows:
        ratio = rows["e"]["sps"] / rows["d"]["sps"]
        paired_ratio = float(pairing["ratio"])
        print(
            f"(e) vs (d) timed back to back before each tag run: (d) {pairing['d_sps']:.1f} "
            "sent/s (median), ratios "
            + ", ".join(f"{x:.0%}" for x in pairing["ratios"])
            + f"; against the (d) row: {ratio:.0%}"
        )
        checks.append(
            (f"(e) >= 60% of (d), back-to-back median [{paired_ratio:.0%}]", paired_ratio >= 0.6)
        )
    if "peak_nx_mb" in mem:
        growth = mem["peak_nx_mb"] / mem["peak_1x_mb"] - 1
        print(
            f"peak RSS of tipnlp tag: 1x input {mem['peak_1x_mb']:.0f} MiB, "
            f"{args.scale}x input ({int(mem['sentences_nx'])} sentences) "
            f"{mem['peak_nx_mb']:.0f} MiB, growth {growth:+.1%}"
        )
        checks.append((f"memory growth {args.scale}x < 20% [{growth:+.1%}]", growth < 0.2))
    for name, ok in checks:
        print(f"{'PASS' if ok else 'MISS'}  {name}")
    threads = settings.tag.threads or rt.cpu_threads()
    print(
        f"\ncores: {os.cpu_count()} (usable {rt.cpu_threads()}), inference threads {threads}, "
        f"batch {settings.tag.batch_sentences}, max_length {settings.tag.max_length}, "
        f"runs {args.runs} (median); default runtime: {default}"
    )
    print(
        "load average before: {:.2f} {:.2f} {:.2f}; after: {:.2f} {:.2f} {:.2f}".format(
            *load_before, *load_after
        )
    )
    print(f"model: {model_dir}")
    if args.json:
        write_json_atomic(
            args.json, {"rows": rows, "memory": mem, "paired": pairing, "checks": checks}
        )
    return 0 if all(ok for _, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
