"""TF-IDF + logistic regression: the learned baseline the transformer must beat.

Word and character n-gram TF-IDF features of the sentence, one
``LogisticRegression`` per label (scikit-learn's ``OneVsRestClassifier``),
and per-label thresholds chosen on out-of-fold probabilities of the training
data (three folds; ``liblinear`` is the fastest solver for these sparse
binary problems) (``GroupKFold`` by document, so a threshold is never fitted on
sentences of a document the classifier saw).  It trains in seconds on the
same examples as the transformer, which makes it an honest yardstick.
"""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tipnlp.errors import ModelError
from tipnlp.io import atomic_path
from tipnlp.labels import LABELS, SCHEME_VERSION
from tipnlp.nlp.tfidf import PICKLE_FILE
from tipnlp.nlp.types import Prediction, SentenceInput
from tipnlp.training.calibration import best_thresholds
from tipnlp.training.data import Example, label_matrix

#: File name of a pickled baseline inside ``models/<name>/baselines/``.
TFIDF_FILE = PICKLE_FILE


def _pipeline(seed: int) -> Any:
    """The feature union + one-vs-rest logistic regression, unfitted."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.pipeline import FeatureUnion, make_pipeline

    features = FeatureUnion(
        [
            (
                "word",
                TfidfVectorizer(
                    ngram_range=(1, 2), min_df=2, sublinear_tf=True, max_features=50_000
                ),
            ),
            (
                "char",
                TfidfVectorizer(
                    analyzer="char_wb",
                    ngram_range=(2, 5),
                    min_df=2,
                    sublinear_tf=True,
                    max_features=100_000,
                ),
            ),
        ]
    )
    clf = OneVsRestClassifier(
        LogisticRegression(
            C=4.0, class_weight="balanced", solver="liblinear", max_iter=1000, random_state=seed
        )
    )
    return make_pipeline(features, clf)


def _proba(pipe: Any, texts: Sequence[str]) -> np.ndarray:
    """Positive-class probabilities ``(n, len(LABELS))``."""
    return np.asarray(pipe.predict_proba(list(texts)), dtype=np.float64)


class TfidfTagger:
    """TF-IDF + logistic regression tagger implementing the ``Tagger`` protocol."""

    def __init__(self, pipeline: Any, thresholds: dict[str, float], version: str) -> None:
        """Wrap a fitted pipeline with its per-label thresholds."""
        self.pipeline = pipeline
        self.thresholds = thresholds
        self.version = version

    @classmethod
    def fit(cls, examples: Sequence[Example], seed: int = 13, folds: int = 3) -> TfidfTagger:
        """Fit on ``examples``; thresholds from out-of-fold probabilities (grouped by doc).

        Labels without a positive example in the data keep threshold 0.5 and
        the classifier predicts a constant for them.
        """
        from sklearn.model_selection import GroupKFold

        if not examples:
            raise ModelError("TF-IDF baseline: no training examples")
        texts = [e.text for e in examples]
        y = label_matrix(examples).astype(int)
        groups = [e.doc_id for e in examples]
        n_groups = len(set(groups))
        oof = np.zeros(y.shape, dtype=np.float64)
        if n_groups >= 2 and y.sum() > 0:
            k = min(folds, n_groups)
            for fit_idx, ho_idx in GroupKFold(n_splits=k).split(texts, y, groups):
                pipe = _fit_pipeline([texts[i] for i in fit_idx], y[fit_idx], seed)
                oof[ho_idx] = _proba(pipe, [texts[i] for i in ho_idx])
            thresholds = best_thresholds(y, oof)
        else:
            thresholds = dict.fromkeys(LABELS, 0.5)
        pipe = _fit_pipeline(texts, y, seed)
        return cls(pipe, thresholds, version=f"tfidf-lr/scheme{SCHEME_VERSION}")

    def predict(self, items: Sequence[SentenceInput]) -> list[Prediction]:
        """One prediction per sentence (context is not used by this baseline)."""
        if not items:
            return []
        probs = _proba(self.pipeline, [" ".join(it.text.split()) for it in items])
        out: list[Prediction] = []
        for row in probs:
            scores = {name: float(row[j]) for j, name in enumerate(LABELS)}
            labels = [n for n in LABELS if scores[n] >= self.thresholds[n]]
            out.append(
                Prediction(
                    scores=scores,
                    labels=labels,
                    thresholds=dict(self.thresholds),
                    sources=dict.fromkeys(labels, "model"),
                    tagger="tfidf",
                )
            )
        return out

    def save(self, path: str | Path) -> Path:
        """Pickle the fitted tagger atomically (the file is git-ignored)."""
        target = Path(path)
        with atomic_path(target) as tmp, tmp.open("wb") as fh:
            pickle.dump(
                {
                    "pipeline": self.pipeline,
                    "thresholds": self.thresholds,
                    "version": self.version,
                    "label_scheme": SCHEME_VERSION,
                },
                fh,
            )
        return target

    @classmethod
    def load(cls, path: str | Path) -> TfidfTagger:
        """Load a tagger written by :meth:`save` (only load files you built yourself)."""
        p = Path(path)
        if not p.is_file():
            raise ModelError(f"{p}: no TF-IDF baseline (train a model first)")
        with p.open("rb") as fh:
            data = pickle.load(fh)
        if data.get("label_scheme") != SCHEME_VERSION:
            raise ModelError(f"{p}: label scheme {data.get('label_scheme')} != {SCHEME_VERSION}")
        return cls(data["pipeline"], data["thresholds"], data["version"])


def _fit_pipeline(texts: list[str], y: np.ndarray, seed: int) -> Any:
    """Fit a fresh pipeline; labels with a single class get a constant estimator."""
    pipe = _pipeline(seed)
    # OneVsRestClassifier copes with all-zero columns (constant predictor) and warns.
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipe.fit(texts, y)
    return pipe
