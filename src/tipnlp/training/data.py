"""Training examples from the gold files and the project's annotation files.

Two sources feed every tagger the project trains:

* gold documents (``../shared/data/gold/train.jsonl``): whole documents with
  hand-labelled sentence spans, so each sentence gets its document's first
  line as a title and the previous gold sentence as context;
* annotation files (``annotations/*.jsonl``): rows of the ``annotations``
  table (one sentence each, with the context shown to the annotator).

Both become :class:`Example` records, which carry the document id so that
held-out folds can be grouped by document (sentences of one document are
never split between a model's training and threshold-selection data).
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tipnlp.errors import InputError
from tipnlp.io import read_jsonl
from tipnlp.labels import LABEL2ID, LABELS, SCHEME_VERSION

#: Longest first line taken as a document title (longer lines are body text).
MAX_TITLE_CHARS = 200


@dataclass(frozen=True)
class Example:
    """One labelled sentence with the context the model sees."""

    text: str
    labels: tuple[str, ...]
    doc_id: str
    source: str
    title: str | None = None
    prev: str | None = None
    context: str | None = None
    language: str | None = None
    kind: str | None = None
    penalty: dict[str, Any] = field(default_factory=dict)


@dataclass
class DataSummary:
    """What a model saw: files, sentence and label counts, languages.

    Written to ``training_data.json`` in the model folder so anyone can tell
    exactly which data a model was trained on.
    """

    files: dict[str, int]
    sentences: int
    documents: int
    label_counts: dict[str, int]
    languages: dict[str, int]
    none_sentences: int

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return {
            "files": self.files,
            "sentences": self.sentences,
            "documents": self.documents,
            "label_counts": self.label_counts,
            "languages": self.languages,
            "none_sentences": self.none_sentences,
            "label_scheme": SCHEME_VERSION,
        }


def doc_title(text: str) -> str | None:
    """A title for a document that has none: its first non-empty line, if short.

    Gold documents carry no title field, but news excerpts start with a
    headline and statutes with an article heading, which is what a title
    contributes as context.  A first line longer than
    :data:`MAX_TITLE_CHARS` is body text, not a title, and gives None.
    """
    for line in text.splitlines():
        stripped = " ".join(line.split())
        if stripped:
            return stripped if len(stripped) <= MAX_TITLE_CHARS else None
    return None


def _clean(text: str) -> str:
    """Collapse runs of whitespace (wrapped statute lines) into single spaces."""
    return " ".join(text.split())


def _labels_of(raw: Any, where: str) -> tuple[str, ...]:
    """Validated labels in scheme order; ``InputError`` naming ``where`` otherwise."""
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(x, str) for x in raw):
        raise InputError(f"{where}: 'labels' must be a list of label names")
    unknown = sorted(set(raw) - set(LABELS))
    if unknown:
        raise InputError(f"{where}: unknown label(s) {unknown}")
    wanted = set(raw)
    return tuple(name for name in LABELS if name in wanted)


_PENALTY_FIELDS = (
    "prison_min_years",
    "prison_max_years",
    "prison_life",
    "death_penalty",
    "fine_text",
)


def load_gold(path: str | Path, *, include_unusable: bool = True) -> list[Example]:
    """Examples from a gold JSONL file (one document per line).

    Each sentence's context is the document title (see :func:`doc_title`) and
    the previous gold sentence.  ``unusable`` documents (tables of contents,
    junk) are kept as all-none examples unless ``include_unusable`` is false:
    they are exactly the boilerplate a tagger must learn to leave alone.
    """
    p = Path(path)
    out: list[Example] = []
    for n, doc in enumerate(read_jsonl(p), 1):
        where = f"{p}: document {doc.get('doc_id', n)}"
        text = doc.get("text")
        sents = doc.get("sentences")
        if not isinstance(text, str) or not isinstance(sents, list):
            raise InputError(f"{where}: needs 'text' (string) and 'sentences' (list)")
        if doc.get("unusable") and not include_unusable:
            continue
        doc_id = str(doc.get("doc_id", f"{p.name}:{n}"))
        title = doc_title(text)
        prev: str | None = None
        for i, s in enumerate(sents):
            try:
                start, end = int(s["start"]), int(s["end"])
            except (KeyError, TypeError, ValueError):
                raise InputError(f"{where}: sentence {i} needs integer start/end") from None
            if not 0 <= start < end <= len(text):
                raise InputError(f"{where}: sentence {i} offsets {start}:{end} out of range")
            sent = _clean(text[start:end])
            if not sent:
                continue
            out.append(
                Example(
                    text=sent,
                    labels=_labels_of(s.get("labels"), f"{where} sentence {i}"),
                    doc_id=doc_id,
                    source=str(p),
                    title=title,
                    prev=prev,
                    language=doc.get("language"),
                    kind=doc.get("kind"),
                    penalty={k: s[k] for k in _PENALTY_FIELDS if k in s},
                )
            )
            prev = sent
    return out


def load_annotation_file(path: str | Path) -> list[Example]:
    """Examples from one annotation JSONL file (rows of the ``annotations`` table).

    Rows from another label-scheme version are refused: mixing schemes would
    silently teach the model two meanings of a label.
    """
    p = Path(path)
    out: list[Example] = []
    for n, row in enumerate(read_jsonl(p), 1):
        where = f"{p}:{n}"
        text = row.get("text")
        if not isinstance(text, str) or not text.strip():
            raise InputError(f"{where}: annotation row without 'text'")
        scheme = row.get("label_scheme")
        if scheme is not None and int(scheme) != SCHEME_VERSION:
            raise InputError(
                f"{where}: label_scheme {scheme} but this code uses scheme {SCHEME_VERSION}"
            )
        ctx = row.get("context")
        out.append(
            Example(
                text=_clean(text),
                labels=_labels_of(row.get("labels"), where),
                doc_id=str(row.get("doc_id") or row.get("task_id") or f"{p.name}:{n}"),
                source=str(p),
                context=_clean(ctx) if isinstance(ctx, str) and ctx.strip() else None,
                language=row.get("language"),
                penalty={k: row[k] for k in _PENALTY_FIELDS if k in row},
            )
        )
    return out


def annotation_files(annotations_dir: str | Path) -> list[Path]:
    """The annotation files a model trains on: ``annotations/*.jsonl``, sorted."""
    d = Path(annotations_dir)
    if not d.is_dir():
        return []
    return sorted(p for p in d.glob("*.jsonl") if not p.name.startswith((".", "_")))


def load_training_examples(
    gold_train: str | Path | None, annotations_dir: str | Path | None
) -> list[Example]:
    """Every training example: gold train (if present) plus all annotation files.

    A sentence annotated in Label Studio that also appears in the gold file
    (same document and text) keeps the annotation's labels: the annotation
    loop exists to correct the model's data.
    """
    examples: list[Example] = []
    if gold_train is not None and Path(gold_train).is_file():
        examples.extend(load_gold(gold_train))
    annotated: list[Example] = []
    if annotations_dir is not None:
        for f in annotation_files(annotations_dir):
            annotated.extend(load_annotation_file(f))
    if annotated:
        keys = {(e.doc_id, e.text) for e in annotated}
        examples = [e for e in examples if (e.doc_id, e.text) not in keys]
        examples.extend(annotated)
    return examples


def limit_examples(examples: Sequence[Example], limit: int | None, seed: int) -> list[Example]:
    """A seeded sample of ``limit`` examples (all if ``limit`` is None or larger)."""
    if limit is None or limit >= len(examples):
        return list(examples)
    idx = sorted(random.Random(seed).sample(range(len(examples)), limit))
    return [examples[i] for i in idx]


def document_sample(doc_ids: Iterable[str], fraction: float, seed: int) -> list[str]:
    """A seeded share of the distinct document ids, for learning curves.

    Sampling whole documents (not sentences) keeps each document's context
    intact and matches how annotation grows a corpus.  One seeded shuffle
    serves every fraction, so with the same seed a smaller sample is always a
    subset of a larger one: the points of a curve differ only by the added
    documents, not by a fresh draw.  At least one document is kept.
    """
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], not {fraction}")
    ids = sorted(set(doc_ids))
    random.Random(seed).shuffle(ids)
    return ids[: max(1, round(fraction * len(ids)))]


def label_matrix(examples: Sequence[Example]) -> np.ndarray:
    """0/1 matrix ``(len(examples), len(LABELS))`` in scheme order."""
    y = np.zeros((len(examples), len(LABELS)), dtype=np.float32)
    for i, e in enumerate(examples):
        for name in e.labels:
            y[i, LABEL2ID[name]] = 1.0
    return y


def label_pos_weight(y: np.ndarray) -> np.ndarray:
    """Per-label weight of positive examples in a BCE loss: ``sqrt(neg/pos)``, clipped to 1..10.

    Rare labels (a few dozen positives) would otherwise barely move the
    loss; the square root and the cap keep them from swamping it.
    """
    labels = np.asarray(y)  # computed in y's precision (float32 labels: float32 weights)
    pos = labels.sum(axis=0)
    return np.asarray(np.clip(np.sqrt((len(labels) - pos) / np.maximum(pos, 1.0)), 1.0, 10.0))


def group_split(
    examples: Sequence[Example], heldout_frac: float, seed: int
) -> tuple[list[int], list[int]]:
    """Indices of a (fit, held-out) split that keeps each document on one side.

    Documents are shuffled with ``seed`` and taken for the held-out side until
    it holds about ``heldout_frac`` of the sentences.  Returns two sorted index
    lists; the held-out list is empty when ``heldout_frac`` is 0 or there is
    only one document.
    """
    docs = sorted({e.doc_id for e in examples})
    if heldout_frac <= 0 or len(docs) < 2:
        return list(range(len(examples))), []
    random.Random(seed).shuffle(docs)
    size = Counter(e.doc_id for e in examples)
    target = heldout_frac * len(examples)
    held: set[str] = set()
    n = 0
    for d in docs:
        if n >= target or len(held) == len(docs) - 1:
            break
        held.add(d)
        n += size[d]
    fit = [i for i, e in enumerate(examples) if e.doc_id not in held]
    ho = [i for i, e in enumerate(examples) if e.doc_id in held]
    return fit, ho


def summarize(examples: Iterable[Example]) -> DataSummary:
    """Counts per file, label and language, for the model folder and the card."""
    files: Counter[str] = Counter()
    labels: Counter[str] = Counter()
    langs: Counter[str] = Counter()
    docs: set[str] = set()
    n = none = 0
    for e in examples:
        n += 1
        files[e.source] += 1
        docs.add(e.doc_id)
        langs[e.language or "unknown"] += 1
        labels.update(e.labels)
        if not e.labels:
            none += 1
    return DataSummary(
        files=dict(sorted(files.items())),
        sentences=n,
        documents=len(docs),
        label_counts={name: labels.get(name, 0) for name in LABELS},
        languages=dict(langs.most_common()),
        none_sentences=none,
    )


def to_dataset(examples: Sequence[Example]) -> Any:
    """A Hugging Face ``datasets.Dataset`` of the examples (text, context, label vector).

    For tools that expect ``datasets`` (the Trainer, active-learning
    experiments, exporting the training set); columns: ``text``, ``title``,
    ``prev``, ``context``, ``doc_id``, ``language``, ``labels`` (float 0/1
    per label in scheme order), ``source``.
    """
    import datasets

    y = label_matrix(examples)
    return datasets.Dataset.from_dict(
        {
            "text": [e.text for e in examples],
            "title": [e.title for e in examples],
            "prev": [e.prev for e in examples],
            "context": [e.context for e in examples],
            "doc_id": [e.doc_id for e in examples],
            "language": [e.language for e in examples],
            "labels": y.tolist(),
            "source": [e.source for e in examples],
        }
    )
