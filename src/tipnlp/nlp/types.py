"""Typed records passed between segmentation, taggers and the tagging stage."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True)
class Segment:
    """A sentence (or statute-unit fragment) of a document.

    ``start``/``end`` are character offsets into the document text (end
    exclusive) and ``text == doc_text[start:end]``.  ``unit`` is the statute
    unit it belongs to ("Art. 3(a)", "s. 2(1)", "§ 1591(a)") or None.
    """

    start: int
    end: int
    text: str
    unit: str | None = None


@dataclass(frozen=True)
class SentenceInput:
    """What a tagger sees for one sentence: the sentence and a little context.

    ``doc`` names the document the sentence belongs to.  Sentences passed in
    one ``predict`` call with the same ``doc`` are pooled into a document
    view (what the whole text is about), so a caller should pass whole
    documents together; ``None`` makes the sentence a document of its own.
    """

    text: str
    title: str | None = None
    prev: str | None = None
    language: str | None = None
    kind: str | None = None
    doc: str | None = None


@dataclass
class Prediction:
    """A tagger's output for one sentence.

    ``scores`` holds a probability for every label in scheme order;
    ``labels`` those that passed ``thresholds``; ``sources`` says per chosen
    label whether the model or a rule decided; ``tagger`` names the tagger
    that decided the sentence as a whole (``model``, ``rules``, ``model+rules``).
    """

    scores: dict[str, float]
    labels: list[str]
    thresholds: dict[str, float]
    sources: dict[str, str] = field(default_factory=dict)
    tagger: str = "rules"


@runtime_checkable
class Tagger(Protocol):
    """Anything that labels sentences: the rule tagger, TF-IDF baseline, transformer."""

    #: Name and version, stored in every output row (``model_version``).
    version: str

    def predict(self, items: Sequence[SentenceInput]) -> list[Prediction]:
        """Return one prediction per input, in order."""
        ...


@runtime_checkable
class EncoderBackend(Protocol):
    """A runtime for a fine-tuned sequence classifier (PyTorch or ONNX Runtime).

    It tokenizes ``texts`` (the sentence) with optional ``pairs`` (its context)
    and returns raw logits of shape ``(len(texts), len(LABELS))``.  The
    transformer tagger turns logits into calibrated probabilities.  For a
    hybrid model folder (``tipnlp.nlp.hybrid``) the graph is a pooled
    encoder and the rows are sentence embeddings instead.
    """

    name: str

    def logits(self, texts: Sequence[str], pairs: Sequence[str | None] | None = None) -> Any:
        """Return a numpy array of logits, one row per text."""
        ...
