"""The fine-tuned transformer tagger behind the ``Tagger`` interface.

A model folder written by ``tipnlp train`` holds a Hugging Face sequence
classifier (``model.safetensors``, ``config.json`` with the label maps,
tokenizer files) plus ``thresholds.json``, ``calibration.json`` and
``training_data.json`` (which languages the model saw).  This module turns
it into a :class:`TransformerTagger`:

* an :class:`~tipnlp.nlp.types.EncoderBackend` produces logits for
  (sentence, context) pairs: :class:`TorchBackend` here, or the ONNX
  backends of ``tipnlp.nlp.runtime`` (chosen by ``runtime.json``);
* logits become calibrated probabilities (per-label Platt scaling) and
  labels (per-label thresholds chosen on held-out training folds);
* sentences in languages the model was not trained on go to the rule
  tagger, and the prediction says so (``tagger="rules"``).
"""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

import numpy as np

from tipnlp.errors import ModelError
from tipnlp.labels import LABELS, SCHEME_VERSION
from tipnlp.nlp.types import EncoderBackend, Prediction, SentenceInput, Tagger
from tipnlp.settings import Settings

log = logging.getLogger(__name__)

#: Words of the title kept as context (headlines are short; long ones are noise).
TITLE_WORDS = 12
#: Trailing words of the previous sentence kept as context.
PREV_WORDS = 24
#: A language needs this many training sentences for the model to tag it.
MIN_LANGUAGE_SENTENCES = 50


def _words(text: str | None, n: int, tail: bool = False) -> str:
    """The first (or last) ``n`` whitespace-separated words of ``text``."""
    if not text:
        return ""
    w = text.split()
    return " ".join(w[-n:] if tail else w[:n])


def format_context(title: str | None, prev: str | None) -> str | None:
    """The second segment fed to the model: short title and end of the previous sentence.

    Why short: the context only has to say what the story is about (a
    trafficking raid or a burglary) and whether the sentence continues a
    penalty or definition clause; every extra token costs CPU time in
    training and tagging.  Returns None when there is no context at all.
    """
    parts = [p for p in (_words(title, TITLE_WORDS), _words(prev, PREV_WORDS, tail=True)) if p]
    return " | ".join(parts) if parts else None


def context_of(item: SentenceInput) -> str | None:
    """:func:`format_context` of a tagger input."""
    return format_context(item.title, item.prev)


def trim_context(context: str | None) -> str | None:
    """A free-text context (annotation rows) cut to the same size budget."""
    if not context:
        return None
    return _words(context, TITLE_WORDS + PREV_WORDS, tail=True) or None


def encode_pairs(
    tokenizer: Any, texts: Sequence[str], pairs: Sequence[str | None] | None, max_length: int
) -> list[dict[str, list[int]]]:
    """Tokenize each (sentence, context) without padding; truncation ``longest_first``.

    One call per item because the ``transformers`` tokenizer cannot mix
    single sentences and pairs in one batch.  Training and
    :class:`TorchBackend` share this function, so the model sees exactly
    the same token ids at both times.
    """
    out: list[dict[str, list[int]]] = []
    for i, text in enumerate(texts):
        pair = pairs[i] if pairs is not None else None
        enc = tokenizer(text, pair, truncation=True, max_length=max_length)
        out.append({k: list(v) for k, v in enc.items()})
    return out


#: What one more batch costs, in padded tokens (a session run's fixed overhead
#: is ~1 ms, about what 15 tokens take on two cores, plus smaller batches'
#: lower matrix efficiency); chosen on the gold sentences, docs/speed.md.
BATCH_COST_TOKENS: Final[int] = 128


def sorted_batches(
    lengths: Sequence[int], batch_size: int, batch_cost: int | None = BATCH_COST_TOKENS
) -> list[np.ndarray]:
    """Input indices sorted by length (stable), cut into batches of at most ``batch_size``.

    Each batch is padded to its longest member, so sorting alone cuts wasted
    compute several-fold on real text, where most sentences are short and a
    few very long.  Where the cuts fall matters too: fixed-size runs of a few
    hundred sorted sentences (one part of a tagging run) still padded 20%
    more tokens than the sentences hold.  The cuts here minimise the padded
    tokens plus ``batch_cost`` per batch (exact dynamic programming over the
    sorted lengths, O(n x batch_size) in numpy), so a long tail gets smaller
    batches and short sentences still fill whole ones.  ``batch_cost=None``
    cuts every ``batch_size`` sorted inputs instead (training batches, whose
    size is part of the optimisation, not a speed choice).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, not {batch_size}")
    order = np.argsort(np.asarray(lengths, dtype=np.int64), kind="stable")
    if batch_cost is None:
        return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    n = len(order)
    if n == 0:
        return []
    size = np.asarray(lengths, dtype=np.float64)[order]
    best = np.zeros(n + 1)
    cut = np.zeros(n + 1, dtype=np.int64)
    for i in range(1, n + 1):
        starts = np.arange(max(0, i - batch_size), i)
        cost = best[starts] + (i - starts) * size[i - 1] + batch_cost
        k = int(np.argmin(cost))
        best[i], cut[i] = cost[k], starts[k]
    bounds = [n]
    while bounds[-1] > 0:
        bounds.append(int(cut[bounds[-1]]))
    bounds.reverse()
    return [order[a:b] for a, b in itertools.pairwise(bounds)]


class TorchBackend:
    """``EncoderBackend`` running the PyTorch model (the reference runtime).

    Inputs are tokenized with the model's own tokenizer, sorted by length
    into batches with dynamic padding, run under ``torch.inference_mode``,
    and the logits restored to input order.
    """

    name = "torch"

    def __init__(
        self, model_dir: str | Path, threads: int = 0, batch_size: int = 64, max_length: int = 128
    ) -> None:
        """Load tokenizer and classifier from ``model_dir`` in eval mode on CPU."""
        import torch
        from transformers import AutoModel, AutoModelForSequenceClassification, AutoTokenizer

        from tipnlp.nlp.hybrid import is_hybrid

        self.model_dir = Path(model_dir)
        if threads > 0:
            torch.set_num_threads(threads)
        #: A hybrid folder holds a plain encoder: outputs are pooled embeddings.
        self.pooled = is_hybrid(self.model_dir)
        loader = AutoModel if self.pooled else AutoModelForSequenceClassification
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(str(self.model_dir))
            self.model = loader.from_pretrained(str(self.model_dir)).eval()
        except (OSError, ValueError) as exc:
            raise ModelError(f"{self.model_dir}: cannot load model ({exc})") from exc
        self.batch_size = batch_size
        self.max_length = max_length

    def logits(self, texts: Sequence[str], pairs: Sequence[str | None] | None = None) -> Any:
        """Logits ``(len(texts), num_labels)`` as float32 numpy, rows in input order."""
        import torch

        width = (
            int(self.model.config.hidden_size) if self.pooled else int(self.model.config.num_labels)
        )
        out = np.zeros((len(texts), width), dtype=np.float32)
        if not texts:
            return out
        enc = encode_pairs(self.tokenizer, texts, pairs, self.max_length)
        for idx in sorted_batches([len(e["input_ids"]) for e in enc], self.batch_size):
            batch = self.tokenizer.pad([enc[i] for i in idx], return_tensors="pt")
            with torch.inference_mode():
                if self.pooled:
                    logits = mean_pool(
                        self.model(**batch).last_hidden_state, batch["attention_mask"]
                    )
                else:
                    logits = self.model(**batch).logits
            out[idx] = logits.float().numpy()
        return out


def mean_pool(hidden: Any, mask: Any) -> Any:
    """Mean of the token states under ``mask``, L2-normalised (sentence-transformers' pooling).

    Why mean pooling: the bundled MiniLM was trained as a sentence encoder
    with exactly this pooling, so its pooled vectors are good features
    without fine-tuning; its [CLS]/pooler output is not.
    """
    import torch

    m = mask.unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)
    return torch.nn.functional.normalize(pooled, p=2.0, dim=-1)


def _read_json(path: Path, default: Any) -> Any:
    """JSON content of ``path``, ``default`` if absent; ``ModelError`` if malformed."""
    if not path.is_file():
        return default
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ModelError(f"{path}: not valid JSON ({exc})") from exc


def covered_languages(model_dir: Path) -> set[str] | None:
    """Languages the model tags, from ``training_data.json`` (None: all).

    ``model_languages`` when training recorded it (languages where the model
    beat the rules on held-out training data, ``language_routing``), else
    every language with at least ``MIN_LANGUAGE_SENTENCES`` training sentences.
    """
    data = _read_json(model_dir / "training_data.json", None)
    if isinstance(data, dict) and isinstance(data.get("model_languages"), list):
        return {str(lang) for lang in data["model_languages"]}
    if not isinstance(data, dict) or not isinstance(data.get("languages"), dict):
        return None
    return {
        lang
        for lang, n in data["languages"].items()
        if lang != "unknown" and int(n) >= MIN_LANGUAGE_SENTENCES
    }


def model_version(model_dir: Path) -> str:
    """``<folder name>@<version>`` from ``training_args.json`` (``unversioned`` if none)."""
    args = _read_json(model_dir / "training_args.json", {})
    version = args.get("version", "unversioned") if isinstance(args, dict) else "unversioned"
    return f"{model_dir.name}@{version}"


class TransformerTagger:
    """Calibrated, thresholded transformer predictions with a rule fallback by language."""

    def __init__(
        self,
        backend: EncoderBackend,
        model_dir: str | Path,
        settings: Settings | None = None,
        fallback: Tagger | None = None,
    ) -> None:
        """Read thresholds, calibration and covered languages from ``model_dir``.

        ``fallback`` tags sentences in languages the model did not see; it
        defaults to the rule tagger, created on first need.
        """
        self.backend = backend
        self.model_dir = Path(model_dir)
        self.settings = settings or Settings()
        config = _read_json(self.model_dir / "config.json", {})
        id2label = config.get("id2label", {}) if isinstance(config, dict) else {}
        if id2label and [id2label[str(i)] for i in range(len(id2label))] != list(LABELS):
            raise ModelError(
                f"{self.model_dir}: label map does not match scheme "
                f"v{SCHEME_VERSION} ({list(id2label.values())})"
            )
        scheme = _read_json(self.model_dir / "label_scheme.json", {}).get("label_scheme")
        if scheme is not None and int(scheme) != SCHEME_VERSION:
            raise ModelError(
                f"{self.model_dir}: trained on label scheme {scheme}, code uses {SCHEME_VERSION}"
            )
        self._read_decisions(fallback)

    def _read_decisions(self, fallback: Tagger | None) -> None:
        """Thresholds, calibration, covered languages and version of ``self.model_dir``."""
        th = _read_json(self.model_dir / "thresholds.json", {})
        th = th.get("thresholds", th) if isinstance(th, dict) else {}
        self.thresholds = {n: float(th.get(n, 0.5)) for n in LABELS}
        cal = _read_json(self.model_dir / "calibration.json", {})
        self.calibration: dict[str, dict[str, float]] | None = (
            cal.get("params") if isinstance(cal, dict) else None
        )
        self.languages = covered_languages(self.model_dir)
        self.version = model_version(self.model_dir)
        self._fallback = fallback

    @property
    def fallback(self) -> Tagger:
        """The rule tagger (built lazily: spaCy matchers take a moment to compile)."""
        if self._fallback is None:
            from tipnlp.nlp.rules import RuleTagger

            self._fallback = RuleTagger()
        return self._fallback

    def covers(self, language: str | None) -> bool:
        """Whether the model tags ``language`` (unknown languages are assumed covered)."""
        if language is None or self.languages is None:
            return True
        return language.split("-")[0].lower() in self.languages

    def probabilities(self, items: Sequence[SentenceInput]) -> np.ndarray:
        """Calibrated probabilities ``(len(items), 14)`` from the model (no fallback)."""
        from tipnlp.training.calibration import apply_platt

        if not items:
            return np.zeros((0, len(LABELS)))
        use_ctx = self.settings.tag.use_context
        texts = [" ".join(it.text.split()) for it in items]
        pairs = [context_of(it) if use_ctx else None for it in items]
        logits = np.asarray(self.backend.logits(texts, pairs), dtype=np.float64)
        return apply_platt(logits, self.calibration)

    def predict(self, items: Sequence[SentenceInput]) -> list[Prediction]:
        """One prediction per item; uncovered languages are decided by the rules."""
        out: list[Prediction | None] = [None] * len(items)
        mine = [i for i, it in enumerate(items) if self.covers(it.language)]
        other = [i for i, it in enumerate(items) if not self.covers(it.language)]
        probs = self.probabilities([items[i] for i in mine])
        for row, i in zip(probs, mine, strict=True):
            scores = {n: float(row[j]) for j, n in enumerate(LABELS)}
            labels = [n for n in LABELS if scores[n] >= self.thresholds[n]]
            out[i] = Prediction(
                scores=scores,
                labels=labels,
                thresholds=dict(self.thresholds),
                sources=dict.fromkeys(labels, "model"),
                tagger="model",
            )
        if other:
            for i, pred in zip(
                other, self.fallback.predict([items[i] for i in other]), strict=True
            ):
                pred.tagger = "rules"
                pred.sources = dict.fromkeys(pred.labels, "rule")
                out[i] = pred
        return [p for p in out if p is not None]


def _backend_for(model_dir: Path, settings: Settings) -> EncoderBackend:
    """The runtime ``settings.tag.backend`` asks for (``auto``: ``runtime.json``, else torch)."""
    tag = settings.tag
    name = "torch" if tag.backend == "auto" else tag.backend
    try:
        from tipnlp.nlp import runtime
    except ImportError:
        runtime = None  # type: ignore[assignment]
    if runtime is not None:
        try:
            name = runtime.resolve_backend_name(model_dir, tag.backend)
        except ValueError as exc:
            raise ModelError(str(exc)) from exc
        if name != "torch":
            try:
                backend: EncoderBackend = runtime.make_backend(model_dir, name, settings)
                return backend
            except (ModelError, ImportError, OSError) as exc:
                if tag.backend != "auto":
                    raise ModelError(f"{model_dir}: backend {name} unavailable ({exc})") from exc
                log.warning("backend %s unavailable for %s (%s); using torch", name, model_dir, exc)
    elif name != "torch":
        raise ModelError(f"backend {name!r} needs tipnlp.nlp.runtime, which is not installed")
    return TorchBackend(
        model_dir, threads=tag.threads, batch_size=tag.batch_sentences, max_length=tag.max_length
    )


def tagger_for(
    backend: EncoderBackend, model_dir: str | Path, settings: Settings | None = None
) -> Tagger:
    """The tagger a model folder asks for on ``backend``: hybrid or fine-tuned classifier."""
    from tipnlp.nlp.hybrid import HybridTagger, is_hybrid

    if is_hybrid(model_dir):
        return HybridTagger(backend, model_dir, settings)
    return TransformerTagger(backend, model_dir, settings)


def load_tagger(settings: Settings | None = None, model_dir: str | Path | None = None) -> Tagger:
    """The configured model (``settings.model``, or ``model_dir``) as a ``TransformerTagger``.

    Raises ``ModelError`` naming the folder when no trained model is there.
    """
    settings = settings or Settings()
    path = Path(model_dir) if model_dir is not None else settings.model_path()
    if not (path / "config.json").is_file() or not (path / "model.safetensors").is_file():
        raise ModelError(f"{path}: no trained model (run `make model` or `tipnlp train`)")
    return tagger_for(_backend_for(path, settings), path, settings)
