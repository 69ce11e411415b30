"""Per-label thresholds, Platt calibration and expected calibration error.

Everything here is fitted on held-out folds of the *training* data, never on
dev: dev stays an honest report.  Labels with few held-out positives are
where a fitted threshold is least reliable, so thresholds are shrunk towards
0.5 in proportion to how little evidence backs them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from tipnlp.labels import LABELS

#: Candidate thresholds searched per label.
GRID = np.round(np.arange(0.05, 0.951, 0.025), 3)
#: Held-out positives at which a fitted threshold gets full weight vs 0.5.
FULL_WEIGHT_POSITIVES = 20


def _f1(y: np.ndarray, pred: np.ndarray) -> float:
    """F1 of binary vectors (0 when there are no positives and no predictions)."""
    tp = float(np.sum((y == 1) & pred))
    fp = float(np.sum((y == 0) & pred))
    fn = float(np.sum((y == 1) & ~pred))
    return 0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn)


def best_thresholds(y: np.ndarray, probs: np.ndarray) -> dict[str, float]:
    """Per-label threshold maximising held-out F1, shrunk towards 0.5 when evidence is thin.

    Among thresholds within 0.005 F1 of the best, the one closest to 0.5 is
    taken (flat F1 curves otherwise pick an extreme by noise).  The result is
    ``w * t_best + (1 - w) * 0.5`` with ``w = min(1, positives / 20)``.
    """
    y = np.asarray(y)
    probs = np.asarray(probs)
    out: dict[str, float] = {}
    for j, name in enumerate(LABELS):
        pos = int(y[:, j].sum())
        if pos == 0:
            out[name] = 0.5
            continue
        scores = np.array([_f1(y[:, j], probs[:, j] >= t) for t in GRID])
        near = GRID[scores >= scores.max() - 0.005]
        t_best = float(near[np.argmin(np.abs(near - 0.5))])
        w = min(1.0, pos / FULL_WEIGHT_POSITIVES)
        out[name] = round(w * t_best + (1 - w) * 0.5, 3)
    return out


def _sigmoid(x: np.ndarray) -> np.ndarray:
    """Numerically stable logistic function."""
    return np.asarray(0.5 * (1.0 + np.tanh(0.5 * np.asarray(x, dtype=np.float64))))


def fit_platt(y: np.ndarray, logits: np.ndarray) -> dict[str, dict[str, float]]:
    """Per-label Platt scaling ``p = sigmoid(a * logit + b)``, fitted by L-BFGS.

    Targets are smoothed the way Platt (1999) suggests, which keeps the fit
    finite when a label is perfectly separated on the held-out fold.  Labels
    without positives (or a fit that does not converge to ``a > 0``) keep the
    identity ``a=1, b=0``.
    """
    from scipy.optimize import minimize

    y = np.asarray(y, dtype=np.float64)
    z_all = np.asarray(logits, dtype=np.float64)
    out: dict[str, dict[str, float]] = {}
    for j, name in enumerate(LABELS):
        t = y[:, j]
        n_pos = float(t.sum())
        n_neg = float(len(t) - n_pos)
        if n_pos == 0 or n_neg == 0:
            out[name] = {"a": 1.0, "b": 0.0}
            continue
        target = np.where(t == 1, (n_pos + 1) / (n_pos + 2), 1 / (n_neg + 2))
        z = z_all[:, j]

        def loss(
            w: np.ndarray, z: np.ndarray = z, target: np.ndarray = target
        ) -> tuple[float, np.ndarray]:
            s = w[0] * z + w[1]
            # log(1 + e^s) - target * s, computed stably
            val = float(np.sum(np.logaddexp(0.0, s) - target * s))
            g = _sigmoid(s) - target
            return val, np.array([float(np.sum(g * z)), float(np.sum(g))])

        res = minimize(loss, np.array([1.0, 0.0]), jac=True, method="L-BFGS-B")
        a, b = float(res.x[0]), float(res.x[1])
        if not (np.isfinite(a) and np.isfinite(b)) or a <= 0:
            a, b = 1.0, 0.0
        out[name] = {"a": a, "b": b}
    return out


def apply_platt(logits: np.ndarray, params: Mapping[str, Mapping[str, float]] | None) -> np.ndarray:
    """Calibrated probabilities from raw logits (plain sigmoid when ``params`` is None)."""
    z = np.asarray(logits, dtype=np.float64)
    if not params:
        return _sigmoid(z)
    a = np.array([params.get(n, {}).get("a", 1.0) for n in LABELS])
    b = np.array([params.get(n, {}).get("b", 0.0) for n in LABELS])
    return _sigmoid(z * a + b)


def expected_calibration_error(y: np.ndarray, probs: np.ndarray, bins: int = 10) -> float:
    """ECE over all (sentence, label) probabilities, equal-width bins.

    The weighted mean of ``|mean predicted probability - observed frequency|``
    per bin: 0 means a score of 0.8 is right 80% of the time.
    """
    y = np.asarray(y, dtype=np.float64).ravel()
    p = np.asarray(probs, dtype=np.float64).ravel()
    if p.size == 0:
        return 0.0
    edges = np.linspace(0.0, 1.0, bins + 1)
    idx = np.clip(np.digitize(p, edges[1:-1], right=False), 0, bins - 1)
    ece = 0.0
    for b in range(bins):
        mask = idx == b
        if mask.any():
            ece += mask.mean() * abs(p[mask].mean() - y[mask].mean())
    return float(ece)


def calibration_record(
    params: Mapping[str, Mapping[str, float]], fitted_on: int, ece_before: float, ece_after: float
) -> dict[str, Any]:
    """The ``calibration.json`` payload."""
    return {
        "method": "platt",
        "formula": "p = sigmoid(a * logit + b), per label",
        "params": {n: dict(params[n]) for n in LABELS},
        "fitted_on_sentences": fitted_on,
        "heldout_ece_before": round(ece_before, 4),
        "heldout_ece_after": round(ece_after, 4),
    }
