"""Which sentences to annotate next: uncertainty sampling with a diversity term.

Uncertainty: for each label, how close the model's score is to that label's
threshold, scaled so 0 means "as far as it can be" and 1 means "on the
threshold"; a sentence's uncertainty is the maximum over labels (the label the
model is least sure about decides).  Thresholds differ per label, so the
closeness is measured against each label's own threshold, not against 0.5.

Diversity: greedy maximal marginal relevance (MMR, Carbonell & Goldstein
1998) over TF-IDF vectors.  Each step picks the candidate with the best
``(1 - diversity) * uncertainty - diversity * max_similarity_to_picked``, so
a batch does not fill up with near-copies of the same uncertain boilerplate.
MMR is run on a pool of the most uncertain candidates (``pool_factor`` x n)
to keep it fast on large outputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from tipnlp.labels import LABELS
from tipnlp.nlp.types import Prediction

if TYPE_CHECKING:  # SciPy is imported on use: every CLI command imports this module
    from scipy import sparse

#: Default weight of the diversity term (0 = pure uncertainty, 1 = pure spread).
DEFAULT_DIVERSITY = 0.3
#: The MMR pool holds this many candidates per wanted task.
DEFAULT_POOL_FACTOR = 10


def label_closeness(score: float, threshold: float) -> float:
    """1 on the threshold, falling linearly to 0 at 0 (below) or 1 (above)."""
    t = min(max(threshold, 1e-6), 1 - 1e-6)
    s = min(max(score, 0.0), 1.0)
    dist = (s - t) / (1 - t) if s >= t else (t - s) / t
    return 1.0 - dist


def uncertainty(pred: Prediction) -> float:
    """The model's doubt about a sentence: max over labels of score-to-threshold closeness."""
    return max(
        label_closeness(float(pred.scores.get(name, 0.0)), float(pred.thresholds.get(name, 0.5)))
        for name in LABELS
    )


def uncertainties(preds: Sequence[Prediction]) -> NDArray[np.float64]:
    """``uncertainty`` for a batch, as an array."""
    return np.array([uncertainty(p) for p in preds], dtype=np.float64)


def tfidf_vectors(texts: Sequence[str]) -> sparse.csr_matrix:
    """L2-normalised word + short-n-gram TF-IDF vectors: cosine is a dot product."""
    from scipy import sparse

    if not texts:
        return sparse.csr_matrix((0, 1))
    # Imported on use: every CLI command imports this module, few sample.
    from sklearn.feature_extraction.text import TfidfVectorizer

    vec = TfidfVectorizer(ngram_range=(1, 2), min_df=1, sublinear_tf=True, norm="l2")
    try:
        return sparse.csr_matrix(vec.fit_transform(texts))
    except ValueError:  # only stop words / empty vocabulary
        return sparse.csr_matrix((len(texts), 1))


def select_mmr(
    scores: NDArray[np.float64],
    vectors: sparse.spmatrix | NDArray[np.float64],
    n: int,
    diversity: float = DEFAULT_DIVERSITY,
) -> list[int]:
    """Indices of ``n`` items picked by greedy MMR over L2-normalised ``vectors``.

    Ties break towards the lower index, so the result is deterministic.  With
    ``diversity == 0`` this is plain top-n by score.
    """
    total = len(scores)
    n = min(n, total)
    if n <= 0:
        return []
    if diversity <= 0:
        return [int(i) for i in np.argsort(-scores, kind="stable")[:n]]
    from scipy import sparse

    max_sim = np.zeros(total, dtype=np.float64)
    taken = np.zeros(total, dtype=bool)
    picked: list[int] = []
    for _ in range(n):
        gain = (1 - diversity) * scores - diversity * max_sim
        gain[taken] = -np.inf
        j = int(np.argmax(gain))
        taken[j] = True
        picked.append(j)
        sims = vectors @ vectors[j].T
        sims = np.asarray(sims.todense() if sparse.issparse(sims) else sims).ravel()
        np.maximum(max_sim, sims, out=max_sim)
    return picked


def uncertainty_pool(scores: NDArray[np.float64], n: int, pool_factor: int) -> list[int]:
    """The ``pool_factor * n`` most uncertain indices (all when fewer), best first."""
    size = min(len(scores), max(n, n * max(pool_factor, 1)))
    return [int(i) for i in np.argsort(-scores, kind="stable")[:size]]


def select(
    texts: Sequence[str],
    preds: Sequence[Prediction],
    n: int,
    diversity: float = DEFAULT_DIVERSITY,
    pool_factor: int = DEFAULT_POOL_FACTOR,
) -> list[int]:
    """Pick ``n`` sentences to annotate: uncertain ones, spread over topics."""
    if len(texts) != len(preds):
        raise ValueError(f"{len(texts)} texts but {len(preds)} predictions")
    scores = uncertainties(preds)
    pool = uncertainty_pool(scores, n, pool_factor)
    vectors = tfidf_vectors([texts[i] for i in pool])
    return [pool[j] for j in select_mmr(scores[pool], vectors, n, diversity)]


def select_random(total: int, n: int, seed: int) -> list[int]:
    """The baseline the benchmark compares against: ``n`` indices at random."""
    rng = np.random.default_rng(seed)
    return [int(i) for i in rng.choice(total, size=min(n, total), replace=False)]
