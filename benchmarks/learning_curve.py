"""Learning curve of the default recipe: dev scores against the amount of training data.

Would more hand-labelled sentences help, and by how much?  This trains the
default recipe (``tipnlp.training.train``, same seed and options as
``make model``) on nested, seeded samples of the training *documents*
(``tipnlp.training.data.document_sample``: 25% is inside 50%, inside 75%),
evaluates each on the whole dev set the way ``make eval`` does, and prints one
row per sample: documents, sentences, the held-out (cross-fitted) macro-F1,
dev macro-F1 of rules, TF-IDF + LR and the model, dev any-label F1 and the
training minutes.  It then fits ``macro-F1 = a + b * log2(sentences)`` to the
model's dev points and prints the gain per doubling.  A point where language
routing sent (nearly) every sentence to the rules, because with that little
data the model did not beat them out of fold, measures the rules and is left
out of the fit (the ``by model`` column shows the share).

Only ``train.jsonl`` is used (not ``annotations/``), so the points are
comparable; the runtime is PyTorch (no ONNX export, to save time), which
differs from int8 by about 0.001.  Each point is one training run: expect
the ±0.015 seed-to-seed spread of a build on top of the trend.  About 25
minutes on 2 cores for the default fractions.

    python benchmarks/learning_curve.py --gold ../shared/data/gold
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np


def main() -> int:
    """Train one model per fraction, print the table."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--gold", type=Path, default=Path("../shared/data/gold"))
    ap.add_argument(
        "--fractions", default="0.25,0.5,0.75,1.0", help="shares of the training documents"
    )
    ap.add_argument("--seed", type=int, default=None, help="sampling and training seed")
    ap.add_argument("--json", type=Path, default=None, help="also write the rows as JSON")
    args = ap.parse_args()
    train_path, dev_path = args.gold / "train.jsonl", args.gold / "dev.jsonl"
    if not (train_path.is_file() and dev_path.is_file()):
        print(f"gold train/dev files not found under {args.gold}", file=sys.stderr)
        return 2
    try:
        fractions = sorted({float(f) for f in args.fractions.split(",") if f.strip()})
    except ValueError:
        print(f"--fractions: not a list of numbers: {args.fractions!r}", file=sys.stderr)
        return 2

    from tipnlp.io import read_jsonl
    from tipnlp.settings import Settings
    from tipnlp.training.data import document_sample
    from tipnlp.training.train import TrainOptions, train

    base = Settings()
    seed = base.seed if args.seed is None else args.seed
    docs = list(read_jsonl(train_path))
    ids = [str(d.get("doc_id", n)) for n, d in enumerate(docs)]
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="tipnlp-curve-") as tmp:
        root = Path(tmp)
        (root / "annotations").mkdir()
        for frac in fractions:
            try:
                keep = set(document_sample(ids, frac, seed))
            except ValueError as exc:
                print(f"--fractions: {exc}", file=sys.stderr)
                return 2
            gold = root / f"gold-{frac:g}"
            gold.mkdir()
            with (gold / "train.jsonl").open("w", encoding="utf-8") as fh:
                for doc_id, doc in zip(ids, docs, strict=True):
                    if doc_id in keep:
                        fh.write(json.dumps(doc, ensure_ascii=False) + "\n")
            (gold / "dev.jsonl").symlink_to(dev_path.resolve())
            settings = base.model_copy(
                update={
                    "gold_dir": gold,
                    "annotations_dir": root / "annotations",
                    "models_dir": root / "models",
                }
            )
            t0 = time.perf_counter()
            result = train(
                settings,
                TrainOptions(name=f"curve-{frac:g}", seed=seed, build_runtime=False),
            )
            dev = result.dev
            rows.append(
                {
                    "fraction": frac,
                    "documents": len(keep),
                    "sentences": result.sentences,
                    "heldout_macro_f1": result.heldout.get("macro_f1"),
                    "dev_rules": dev["rules"]["macro_f1"] if "rules" in dev else None,
                    "dev_tfidf": dev["tfidf"]["macro_f1"] if "tfidf" in dev else None,
                    "dev_model": dev["model"]["macro_f1"],
                    "dev_any_label": dev["model"]["any_label"]["f1"],
                    # sentences the model decided (the rest went to the rules:
                    # languages where it did not beat them out of fold)
                    "model_share": _model_share(dev["model"]),
                    "minutes": (time.perf_counter() - t0) / 60,
                }
            )
            print(f"trained on {frac:g} of the documents", file=sys.stderr)

    def fmt(v: Any) -> str:
        return "   -  " if v is None else f"{v:6.3f}"

    print(f"learning curve on {dev_path} (seed {seed}; dev with our segmentation, PyTorch)")
    print(
        f"{'share':>5} {'docs':>5} {'sents':>6} {'CV':>6} {'rules':>6} {'tfidf':>6} "
        f"{'model':>6} {'any':>6} {'by model':>8} {'min':>5}"
    )
    for r in rows:
        print(
            f"{r['fraction']:5.2f} {r['documents']:5d} {r['sentences']:6d} "
            f"{fmt(r['heldout_macro_f1'])} {fmt(r['dev_rules'])} {fmt(r['dev_tfidf'])} "
            f"{fmt(r['dev_model'])} {fmt(r['dev_any_label'])} {r['model_share']:8.0%} "
            f"{r['minutes']:5.1f}"
        )
    # a point where the rules decided everything measures the rules, not the model
    fit = [r for r in rows if r["model_share"] > 0.5]
    if len(fit) >= 2:
        x = np.log2([r["sentences"] for r in fit])
        y = np.array([r["dev_model"] for r in fit])
        b, a = np.polyfit(x, y, 1)
        print(
            f"model dev macro-F1 ~ {a:.3f} + {b:.3f} * log2(sentences) over the {len(fit)} "
            f"points the model mostly decided: {b:+.3f} per doubling"
        )
        for target in (0.65, 0.70):
            if b > 0:
                need = 2 ** ((target - a) / b)
                print(f"  {target:.2f} would need about {math.ceil(need / 100) * 100:,} sentences")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    return 0


def _model_share(report: dict[str, Any]) -> float:
    """Share of dev sentences the model (not the rules fallback) decided."""
    used = report.get("taggers_used") or {}
    total = sum(used.values())
    return float(used.get("model", 0)) / total if total else 0.0


if __name__ == "__main__":
    sys.exit(main())
