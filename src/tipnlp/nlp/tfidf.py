"""TF-IDF + logistic regression at tagging time: plain arrays, numpy, no pickle.

The TF-IDF view of the hybrid model is trained with scikit-learn
(:mod:`tipnlp.training.baselines`).  Tagging only needs its numbers: each
vectorizer's vocabulary and idf weights and each label's coefficients.
Saved as ``baselines/tfidf.npz`` and applied here, they

* load without unpickling (a pickle runs code: a model folder shared by
  someone else cannot run anything through this file), and
* spare ``tipnlp tag`` importing scikit-learn, SciPy and pandas (about 1.5 s
  of every start on two cores, a tenth of tagging the whole gold set).

:meth:`TfidfArrays.from_pipeline` reads a fitted pipeline of the shape
``baselines._pipeline`` builds (a ``FeatureUnion`` of word and ``char_wb``
``TfidfVectorizer``\\ s, then ``OneVsRestClassifier(LogisticRegression)``) and
refuses any setting this module does not reproduce.  The analyzers below
follow scikit-learn 1.x's (lower-casing, ``token_pattern`` word n-grams,
``char_wb`` n-grams padded with one space inside whitespace-separated words),
then sublinear tf, idf, l2 norm and the logistic function; a test checks the
probabilities equal scikit-learn's on the gold sentences.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np

from tipnlp.errors import ModelError
from tipnlp.labels import LABELS

#: File name of the scikit-learn pickle inside ``models/<name>/baselines/`` (training side).
PICKLE_FILE: Final[str] = "tfidf.pkl"
#: File name of the arrays inside ``models/<name>/baselines/``.
ARRAYS_FILE: Final[str] = "tfidf.npz"
#: Layout version of the file; bump when its arrays change meaning.
ARRAYS_VERSION: Final[int] = 1
#: Distinct words whose ``char_wb`` columns a vectorizer remembers: about 0.7 KB
#: each, so at most ~20 MB; the gold set has 16,748 distinct lower-cased words.
_WORD_MEMO: Final[int] = 30_000
_SEP: Final[str] = "\n"  # never inside a feature: both analyzers split on whitespace


@dataclass
class _Vectorizer:
    """One fitted ``TfidfVectorizer``'s numbers: analyzer, n-gram range, vocabulary, idf."""

    analyzer: str  # "word" or "char_wb"
    ngram_range: tuple[int, int]
    token_pattern: re.Pattern[str] | None
    vocabulary: dict[str, int]
    idf: np.ndarray
    sublinear_tf: bool
    _memo: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    def features(self, text: str) -> list[str]:
        """The analyzer's n-grams of ``text`` (lower-cased), repeats kept."""
        doc = text.lower()
        lo, hi = self.ngram_range
        if self.analyzer == "char_wb":
            # scikit-learn collapses runs of whitespace first; split() ignores them anyway.
            return [g for word in doc.split() for g in self._word_grams(word)]
        if self.token_pattern is None:
            raise ModelError("TF-IDF word analyzer without a token pattern")
        tokens = self.token_pattern.findall(doc)
        out = list(tokens) if lo == 1 else []
        for n in range(max(lo, 2), min(hi, len(tokens)) + 1):
            out.extend(" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1))
        return out

    def pairs(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """``(row, column)`` of every known feature occurrence in ``texts``, a row per text.

        A pair repeats as often as the feature occurs; callers count.
        ``char_wb`` n-grams never cross a word, so each distinct word's
        columns are worked out once and remembered: words repeat across
        sentences, and most of the work becomes a dictionary lookup per word.
        """
        col_parts: list[np.ndarray] = []
        sizes: list[int] = []
        memo = self._memo
        for text in texts:
            size = 0
            if self.analyzer == "char_wb":
                for word in text.lower().split():
                    hit = memo.get(word)
                    if hit is None:
                        hit = self._columns(self._word_grams(word))
                        if len(memo) >= _WORD_MEMO:
                            memo.clear()
                        memo[word] = hit
                    col_parts.append(hit)
                    size += len(hit)
            else:
                cols = self._columns(self.features(text))
                col_parts.append(cols)
                size = len(cols)
            sizes.append(size)
        if not col_parts:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty
        rows = np.repeat(np.arange(len(texts), dtype=np.int64), sizes)
        return rows, np.concatenate(col_parts)

    def _word_grams(self, word: str) -> list[str]:
        """``char_wb`` n-grams of one lower-cased word, padded with a space each side."""
        w = f" {word} "
        size = len(w)
        lo, hi = self.ngram_range
        grams: list[str] = []
        for n in range(lo, hi + 1):
            if size <= n:  # a short word counts once, whole
                grams.append(w)
                break
            grams.extend([w[i : i + n] for i in range(size - n + 1)])
        return grams

    def _columns(self, grams: list[str]) -> np.ndarray:
        """Vocabulary columns of ``grams``, repeats kept (unknown n-grams dropped)."""
        cols = [j for j in map(self.vocabulary.get, grams) if j is not None]
        return np.array(cols, dtype=np.int64)


class TfidfArrays:
    """A fitted TF-IDF + one-vs-rest logistic regression, as arrays.

    ``proba(texts)`` returns the positive-class probability of every label
    ``(len(texts), len(LABELS))``, as the scikit-learn pipeline's
    ``predict_proba`` does.
    """

    def __init__(
        self,
        vectorizers: Sequence[_Vectorizer],
        coef: np.ndarray,
        intercept: np.ndarray,
        constant: np.ndarray,
    ) -> None:
        """``coef`` is ``(labels, features)`` over the vectorizers' columns side by side.

        ``constant`` holds, per label, the probability of a label the
        training data never (or always) had, NaN for a fitted label.
        """
        self.vectorizers = list(vectorizers)
        self.offsets = np.cumsum([0, *(len(v.idf) for v in self.vectorizers)])
        self.coef_t = np.ascontiguousarray(np.asarray(coef, dtype=np.float64).T)
        self.intercept = np.asarray(intercept, dtype=np.float64)
        self.constant = np.asarray(constant, dtype=np.float64)
        if self.coef_t.shape != (int(self.offsets[-1]), len(LABELS)):
            raise ModelError(
                f"TF-IDF arrays: coefficients {coef.shape} do not match "
                f"{len(LABELS)} labels x {int(self.offsets[-1])} features"
            )

    def decision(self, texts: Sequence[str], chunk: int = 256) -> np.ndarray:
        """Logistic-regression scores ``(len(texts), labels)``, ``chunk`` texts at a time.

        Python only looks n-grams up; tf, idf, norms and the dot products are
        numpy over a chunk's non-zeros at once (a chunk bounds the
        ``(non-zeros, labels)`` temporary to a few MB).
        """
        out = np.tile(self.intercept, (len(texts), 1))
        for lo in range(0, len(texts), chunk):
            part = texts[lo : lo + chunk]
            for v, offset in zip(self.vectorizers, self.offsets, strict=False):
                rows, cols = v.pairs(part)
                if not len(cols):
                    continue
                # Count each (row, column) pair; keys sort by row, then column.
                width = len(v.idf)
                uniq, counts = np.unique(rows * width + cols, return_counts=True)
                tf: np.ndarray = counts.astype(np.float64)
                row, idx = np.divmod(uniq, width)
                if v.sublinear_tf:
                    tf = np.log(tf) + 1.0
                vals = tf * v.idf[idx]
                norms = np.sqrt(np.bincount(row, weights=vals * vals, minlength=len(part)))
                vals = vals / np.where(norms > 0, norms, 1.0)[row]
                contrib = self.coef_t[idx + offset] * vals[:, None]
                # Rows come in order: sum each row's run of non-zeros.
                first = np.flatnonzero(np.r_[True, row[1:] != row[:-1]])
                out[lo + row[first]] += np.add.reduceat(contrib, first, axis=0)
        return out

    def proba(self, texts: Sequence[str]) -> np.ndarray:
        """Positive-class probabilities ``(len(texts), len(LABELS))``."""
        p = 1.0 / (1.0 + np.exp(-self.decision(texts)))
        fixed = ~np.isnan(self.constant)
        p[:, fixed] = self.constant[fixed]
        return np.asarray(p)

    # ------------------------------------------------------------------ build
    @classmethod
    def from_pipeline(cls, pipe: Any) -> TfidfArrays:
        """Read a fitted ``baselines._pipeline``; ``ModelError`` for any other shape."""
        try:
            union, ovr = pipe.steps[0][1], pipe.steps[-1][1]
            transformers = [t for _, t in union.transformer_list]
            estimators = list(ovr.estimators_)
        except (AttributeError, IndexError, TypeError) as exc:
            raise ModelError(f"TF-IDF pipeline of an unexpected shape ({exc})") from exc
        if len(pipe.steps) != 2 or not getattr(ovr, "multilabel_", False):
            raise ModelError("TF-IDF pipeline: expected features then a multi-label classifier")
        vecs = [_vectorizer(t) for t in transformers]
        width = sum(len(v.idf) for v in vecs)
        if len(estimators) != len(LABELS):
            raise ModelError(f"TF-IDF pipeline has {len(estimators)} labels, not {len(LABELS)}")
        coef = np.zeros((len(LABELS), width))
        intercept = np.zeros(len(LABELS))
        constant = np.full(len(LABELS), np.nan)
        for j, est in enumerate(estimators):
            if hasattr(est, "coef_"):
                w = np.asarray(est.coef_, dtype=np.float64)
                if w.shape != (1, width) or len(getattr(est, "classes_", ())) != 2:
                    raise ModelError(f"TF-IDF label {LABELS[j]}: not a binary linear model")
                coef[j] = w[0]
                intercept[j] = float(np.asarray(est.intercept_).ravel()[0])
            elif hasattr(est, "y_"):  # scikit-learn's constant predictor
                constant[j] = float(np.asarray(est.y_).ravel()[0])
            else:
                raise ModelError(f"TF-IDF label {LABELS[j]}: unsupported estimator {est!r}")
        return cls(vecs, coef, intercept, constant)

    # ------------------------------------------------------------- save / load
    def save(self, path: str | Path) -> Path:
        """Write the arrays atomically (``np.savez``, no object arrays)."""
        from tipnlp.io import atomic_path

        arrays: dict[str, np.ndarray] = {
            "version": np.array(ARRAYS_VERSION),
            "coef": self.coef_t.T,
            "intercept": self.intercept,
            "constant": self.constant,
        }
        for k, v in enumerate(self.vectorizers):
            terms = sorted(v.vocabulary, key=v.vocabulary.__getitem__)
            if any(_SEP in t for t in terms):
                raise ModelError("TF-IDF vocabulary holds a line break; cannot store it")
            arrays[f"v{k}_vocab"] = np.frombuffer(_SEP.join(terms).encode("utf-8"), np.uint8)
            arrays[f"v{k}_idf"] = v.idf
            arrays[f"v{k}_meta"] = np.array(
                [
                    v.analyzer,
                    str(v.ngram_range[0]),
                    str(v.ngram_range[1]),
                    v.token_pattern.pattern if v.token_pattern is not None else "",
                    "1" if v.sublinear_tf else "0",
                ]
            )
        target = Path(path)
        with atomic_path(target) as tmp, tmp.open("wb") as fh:
            np.savez(fh, allow_pickle=False, **arrays)
        return target

    @classmethod
    def load(cls, path: str | Path) -> TfidfArrays:
        """Read a file written by :meth:`save`; ``ModelError`` naming it when unreadable."""
        p = Path(path)
        try:
            with np.load(p, allow_pickle=False) as data:
                arrays = {k: np.asarray(data[k]) for k in data.files}
        except (OSError, ValueError) as exc:
            raise ModelError(f"{p}: cannot read TF-IDF arrays ({exc})") from exc
        if int(arrays.get("version", -1)) != ARRAYS_VERSION:
            raise ModelError(f"{p}: TF-IDF arrays version is not {ARRAYS_VERSION}; retrain")
        vecs = []
        k = 0
        while f"v{k}_meta" in arrays:
            analyzer, lo, hi, pattern, sub = (str(x) for x in arrays[f"v{k}_meta"])
            terms = arrays[f"v{k}_vocab"].tobytes().decode("utf-8").split(_SEP)
            idf = arrays[f"v{k}_idf"].astype(np.float64)
            if len(terms) != len(idf):
                raise ModelError(f"{p}: vectorizer {k} has {len(terms)} terms, {len(idf)} idf")
            vecs.append(
                _Vectorizer(
                    analyzer=analyzer,
                    ngram_range=(int(lo), int(hi)),
                    token_pattern=re.compile(pattern) if pattern else None,
                    vocabulary={t: i for i, t in enumerate(terms)},
                    idf=idf,
                    sublinear_tf=sub == "1",
                )
            )
            k += 1
        try:
            return cls(vecs, arrays["coef"], arrays["intercept"], arrays["constant"])
        except KeyError as exc:
            raise ModelError(f"{p}: missing array {exc}") from exc


def _vectorizer(t: Any) -> _Vectorizer:
    """A fitted ``TfidfVectorizer`` whose settings this module reproduces, as numbers."""
    analyzer = getattr(t, "analyzer", None)
    supported = (
        analyzer in {"word", "char_wb"}
        and t.lowercase
        and t.preprocessor is None
        and t.tokenizer is None
        and t.stop_words is None
        and t.strip_accents is None
        and t.input == "content"
        and not t.binary
        and t.use_idf
        and t.norm == "l2"
        and (analyzer != "word" or re.compile(t.token_pattern).groups == 0)
    )
    if not supported:
        raise ModelError(f"TF-IDF vectorizer settings not supported at tagging time: {t!r}")
    lo, hi = (int(x) for x in t.ngram_range)
    return _Vectorizer(
        analyzer=str(analyzer),
        ngram_range=(lo, hi),
        token_pattern=re.compile(t.token_pattern) if analyzer == "word" else None,
        vocabulary={str(k): int(v) for k, v in t.vocabulary_.items()},
        idf=np.asarray(t.idf_, dtype=np.float64),
        sublinear_tf=bool(t.sublinear_tf),
    )
