"""The hybrid tagger: transformer sentence embeddings, TF-IDF and rules, stacked.

Why a hybrid (the measurements are in ``docs/model.md``): with ~3,300
hand-labelled training sentences and a 15-minute two-core CPU budget,
fine-tuning MiniLM end to end scored *below* both baselines on dev, while
three cheap, differently-biased views of a sentence each score about the
same (rules 0.46, TF-IDF 0.46, a linear probe on MiniLM embeddings 0.42
macro-F1 with gold boundaries) and make different mistakes.  A per-label
logistic-regression *stacker* over the three views, fitted on out-of-fold
predictions of the training data, beats each of them by about 0.08.

The model folder of a hybrid (``hybrid.json`` present) holds:

* the encoder (``model.safetensors``, ``config.json``, tokenizer files):
  the base sentence-transformer's weights, unchanged, mean-pooled and
  L2-normalised like sentence-transformers does; the ONNX runtimes of
  :mod:`tipnlp.nlp.runtime` export that pooled graph;
* ``hybrid.npz``: per-label linear heads over ``[sentence, previous
  sentence, title, document]`` embeddings (the document view is the mean
  of the document's sentence embeddings; feature version 1 folders have
  the first three only) (``head_w``, ``head_b``) and the stacker
  weights (``stack_w``, ``stack_b``) over ``[head logit, TF-IDF logit,
  rule hit]``;
* ``hybrid.json``: feature layout, versions, how everything was fitted;
* ``baselines/tfidf.npz``: the TF-IDF model as arrays, a stacker input
  (:mod:`tipnlp.nlp.tfidf`; ``baselines/tfidf.pkl`` is its scikit-learn
  original, read only by folders that lack the arrays);
* ``calibration.json`` / ``thresholds.json`` as for every model.

Every backend (``torch``, ``onnx``, ``onnx-int8``) returns embeddings for
this folder through the same ``EncoderBackend.logits`` call (the "logits"
of an embedding graph are the pooled vectors).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from tipnlp.errors import ModelError
from tipnlp.labels import LABELS
from tipnlp.nlp.tagger import TransformerTagger
from tipnlp.nlp.types import EncoderBackend, SentenceInput, Tagger
from tipnlp.settings import Settings

#: Marker file of a hybrid model folder (feature layout and provenance).
HYBRID_FILE = "hybrid.json"
#: Numeric parameters of the heads and the stacker.
WEIGHTS_FILE = "hybrid.npz"
#: Version of the feature layout; bump when features change meaning.
#: 1: ``[sentence, previous sentence, title]``; 2: the same plus the document view.
FEATURE_VERSION = 2
#: Embedding views per feature version (older folders keep loading).
_VIEWS = {1: 3, 2: 4}
#: Logits are clipped here so a probability of exactly 0 or 1 stays finite.
_EPS = 1e-4


def is_hybrid(model_dir: str | Path) -> bool:
    """Whether ``model_dir`` holds a hybrid model (rather than a fine-tuned classifier)."""
    return (Path(model_dir) / HYBRID_FILE).is_file()


def normalize_text(text: str) -> str:
    """Whitespace-normalised text, exactly as training saw it."""
    return " ".join(text.split())


def logit(p: np.ndarray) -> np.ndarray:
    """Log-odds of probabilities, clipped away from 0 and 1."""
    q = np.clip(np.asarray(p, dtype=np.float64), _EPS, 1.0 - _EPS)
    return np.asarray(np.log(q / (1.0 - q)))


def embedding_features(
    backend: EncoderBackend,
    texts: Sequence[str],
    prevs: Sequence[str | None],
    titles: Sequence[str | None],
    docs: Sequence[str | None] | None = None,
) -> np.ndarray:
    """``[sentence, previous sentence, title(, document)]`` embeddings, ``(n, k * dim)``.

    Each distinct string is encoded once: a sentence is usually the next
    one's previous sentence and a title is shared by a whole document, so
    the encoder runs about once per sentence.  Missing context is a zero
    vector (the heads learn what "no title" means).  With ``docs`` (one
    document key per sentence) a fourth view is added: the mean of the
    sentence embeddings of every sentence with the same key, L2-normalised
    (:func:`document_view`).  It costs no encoder pass.
    """
    keys: dict[str, int] = {}
    for s in (*texts, *prevs, *titles):
        if s is not None and s not in keys:
            keys[s] = len(keys)
    if not keys:
        return np.zeros((len(texts), 0), dtype=np.float32)
    emb = np.asarray(backend.logits(list(keys), None), dtype=np.float32)
    dim = emb.shape[1]
    zero = np.zeros(dim, dtype=np.float32)

    def rows(strings: Sequence[str | None]) -> np.ndarray:
        if not strings:
            return np.zeros((0, dim), dtype=np.float32)
        return np.stack([emb[keys[s]] if s is not None else zero for s in strings])

    sentences = rows(texts)
    views = [sentences, rows(prevs), rows(titles)]
    if docs is not None:
        views.append(document_view(sentences, docs))
    return np.hstack(views)


def document_view(sentences: np.ndarray, docs: Sequence[str | None]) -> np.ndarray:
    """Per sentence, the L2-normalised mean embedding of all sentences of its document.

    Why: whether "Police arrested three men" is an arrest in our sense
    depends on what the whole story is about (trafficking in persons, or
    drugs, or a burglary); the title and the previous sentence often do not
    say.  Measured out of fold on the training data (docs/model.md), this
    view lifts the embedding heads and the stack.  A sentence whose key is
    ``None`` is a document of its own.
    """
    if len(sentences) == 0:
        return np.zeros_like(sentences)
    ids: dict[str, int] = {}
    group = np.empty(len(sentences), dtype=np.intp)
    n_groups = 0
    for i, d in enumerate(docs):
        if d is not None and d in ids:
            group[i] = ids[d]
            continue
        if d is not None:
            ids[d] = n_groups
        group[i] = n_groups
        n_groups += 1
    sums = np.zeros((n_groups, sentences.shape[1]), dtype=np.float64)
    np.add.at(sums, group, sentences.astype(np.float64))
    norms = np.linalg.norm(sums, axis=1, keepdims=True)
    means = np.divide(sums, norms, out=np.zeros_like(sums), where=norms > 0)
    return np.asarray(means[group], dtype=sentences.dtype)


def item_features(
    items: Sequence[SentenceInput],
) -> tuple[list[str], list[str | None], list[str | None], list[str | None]]:
    """Normalised sentence, previous sentence and title strings, and document keys."""
    texts = [normalize_text(it.text) for it in items]
    prevs = [normalize_text(it.prev) or None if it.prev else None for it in items]
    titles = [normalize_text(it.title) or None if it.title else None for it in items]
    return texts, prevs, titles, [it.doc for it in items]


def stack_inputs(head_logits: np.ndarray, tfidf_p: np.ndarray, rule_hits: np.ndarray) -> np.ndarray:
    """Stacker input ``(n, labels, 3)``: head logit, TF-IDF logit, rule hit (0/1)."""
    return np.stack([head_logits, logit(tfidf_p), np.asarray(rule_hits, dtype=np.float64)], axis=2)


def read_weights(model_dir: Path) -> dict[str, np.ndarray]:
    """The arrays of ``hybrid.npz`` (no pickles: ``allow_pickle=False``)."""
    path = Path(model_dir) / WEIGHTS_FILE
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: np.asarray(data[k]) for k in data.files}
    except (OSError, ValueError) as exc:
        raise ModelError(f"{path}: cannot read hybrid weights ({exc})") from exc
    for key in ("head_w", "head_b", "stack_w", "stack_b"):
        if key not in arrays:
            raise ModelError(f"{path}: missing array {key!r}")
    if arrays["head_w"].shape[0] != len(LABELS) or arrays["stack_w"].shape != (len(LABELS), 3):
        raise ModelError(f"{path}: weights do not match the {len(LABELS)} labels of the scheme")
    return arrays


class HybridTagger(TransformerTagger):
    """Stacked embeddings + TF-IDF + rules; rule fallback for uncovered languages.

    Thresholds, calibration, the language fallback and ``predict`` are the
    transformer tagger's; only where the probabilities come from differs.
    """

    def __init__(
        self,
        backend: EncoderBackend,
        model_dir: str | Path,
        settings: Settings | None = None,
        rules: Tagger | None = None,
    ) -> None:
        """Load heads, stacker, TF-IDF, thresholds and calibration from ``model_dir``."""
        from tipnlp.nlp.tagger import _read_json
        from tipnlp.nlp.tfidf import ARRAYS_FILE, PICKLE_FILE, TfidfArrays

        self.backend = backend
        self.model_dir = Path(model_dir)
        self.settings = settings or Settings()
        meta = _read_json(self.model_dir / HYBRID_FILE, {})
        version = int(meta.get("feature_version", -1))
        if version not in _VIEWS:
            raise ModelError(
                f"{self.model_dir}: hybrid feature version {meta.get('feature_version')} "
                f"is not one of {sorted(_VIEWS)}; retrain with `tipnlp train`"
            )
        #: Whether the heads read the document view (feature version 2 on).
        self.document_view = _VIEWS[version] == 4
        if list(meta.get("labels", LABELS)) != list(LABELS):
            raise ModelError(f"{self.model_dir}: label order does not match the scheme")
        w = read_weights(self.model_dir)
        self.head_w = w["head_w"].astype(np.float64)
        self.head_b = w["head_b"].astype(np.float64)
        self.stack_w = w["stack_w"].astype(np.float64)
        self.stack_b = w["stack_b"].astype(np.float64)
        # The TF-IDF view: its arrays (``tfidf.npz``, numpy only) when the
        # folder has them, else the scikit-learn pickle of older folders.
        arrays_path = self.model_dir / "baselines" / ARRAYS_FILE
        tfidf_path = self.model_dir / "baselines" / PICKLE_FILE
        if arrays_path.is_file():
            self._tfidf_proba: Callable[[list[str]], np.ndarray] = TfidfArrays.load(
                arrays_path
            ).proba
        elif tfidf_path.is_file():
            from tipnlp.training.baselines import TfidfTagger, _proba

            pipeline = TfidfTagger.load(tfidf_path).pipeline
            self._tfidf_proba = partial(_proba, pipeline)
        else:
            raise ModelError(f"{arrays_path}: missing (a stacker input of the hybrid model)")
        # The rule tagger is both a stacker input and the language fallback.
        self._read_decisions(rules)

    @property
    def rules(self) -> Tagger:
        """The rule tagger (the fallback, built lazily)."""
        return self.fallback

    def components(self, items: Sequence[SentenceInput]) -> dict[str, np.ndarray]:
        """Each view's output: head logits, TF-IDF probabilities, rule hits."""
        texts, prevs, titles, docs = item_features(items)
        x = embedding_features(
            self.backend, texts, prevs, titles, docs if self.document_view else None
        ).astype(np.float64)
        if x.shape[1] != self.head_w.shape[1]:
            raise ModelError(
                f"{self.model_dir}: heads expect {self.head_w.shape[1]} features, "
                f"the encoder gives {x.shape[1]}"
            )
        head = x @ self.head_w.T + self.head_b
        tfidf_p = self._tfidf_proba([it.text for it in items])
        preds = self.rules.predict(list(items))
        hits = np.array([[n in p.labels for n in LABELS] for p in preds], dtype=np.float64)
        hits = hits.reshape(len(items), len(LABELS))
        return {"head_logits": head, "tfidf": tfidf_p, "rules": hits}

    def stacked_logits(self, parts: dict[str, Any]) -> np.ndarray:
        """The stacker's logits ``(n, labels)`` from :meth:`components`."""
        z = stack_inputs(parts["head_logits"], parts["tfidf"], parts["rules"])
        return np.asarray(np.einsum("nlk,lk->nl", z, self.stack_w) + self.stack_b)

    def probabilities(self, items: Sequence[SentenceInput]) -> np.ndarray:
        """Calibrated probabilities ``(len(items), 14)`` (no language fallback)."""
        from tipnlp.training.calibration import apply_platt

        if not items:
            return np.zeros((0, len(LABELS)))
        return apply_platt(self.stacked_logits(self.components(items)), self.calibration)


def write_meta(path: Path, meta: dict[str, Any]) -> None:
    """``hybrid.json`` (atomic)."""
    from tipnlp.io import write_json_atomic

    write_json_atomic(path, {"feature_version": FEATURE_VERSION, "labels": list(LABELS), **meta})


def read_meta(model_dir: Path) -> dict[str, Any]:
    """``hybrid.json`` of a model folder."""
    p = Path(model_dir) / HYBRID_FILE
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"{p}: cannot read ({exc})") from exc
    return data if isinstance(data, dict) else {}
