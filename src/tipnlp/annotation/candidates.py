"""Sentences that could be sent to annotators, and the ones that already were.

A ``Candidate`` is one sentence with the context a human (and the tagger)
needs: the document title, the previous sentence, where it sits in its
document.  Candidates come from an output folder (``sentences`` and
``documents`` tables) or from a documents JSONL file run through our
segmenter.  Sentences already annotated are recognised two ways, because
either alone misses cases: by the hash of their normalised text (the same
sentence re-scraped under a new doc id) and by ``doc_id`` + offsets (the same
slot after a small edit of the text).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tipnlp import io
from tipnlp.documents import Document
from tipnlp.nlp.types import Segment, SentenceInput

#: Signature of a segmenter: ``segment(text, language) -> [Segment]``.
Segmenter = Callable[[str, "str | None"], Sequence[Segment]]

_SPACE = re.compile(r"\s+")
_PUNCT_EDGE = re.compile(r"^[\W_]+|[\W_]+$")


@dataclass(frozen=True)
class Candidate:
    """One sentence that may become a Label Studio task."""

    doc_id: str
    sent_id: int
    start: int
    end: int
    text: str
    title: str | None = None
    prev: str | None = None
    url: str | None = None
    language: str | None = None
    kind: str | None = None
    #: Penalty figures already extracted for the sentence (pre-annotations).
    penalty: dict[str, object] = field(default_factory=dict, compare=False, hash=False)

    @property
    def context(self) -> str:
        """Title and previous sentence, one per line: what the annotator sees above it."""
        return "\n".join(p for p in (self.title, self.prev) if p)

    def tagger_input(self) -> SentenceInput:
        """What the tagger sees: the sentence with the same context the annotator gets."""
        return SentenceInput(
            text=self.text,
            title=self.title,
            prev=self.prev,
            language=self.language,
            kind=self.kind,
            doc=self.doc_id,
        )


def normalize_text(text: str) -> str:
    """Case-, space- and edge-punctuation-insensitive form used to spot repeats.

    NFKC folds look-alike characters (non-breaking spaces, ligatures) so the same
    sentence scraped from two pages hashes the same.
    """
    folded = unicodedata.normalize("NFKC", text).casefold()
    return _PUNCT_EDGE.sub("", _SPACE.sub(" ", folded).strip())


def text_hash(text: str) -> str:
    """Short SHA-256 of the normalised text: the key for 'already annotated'."""
    return hashlib.sha256(normalize_text(text).encode("utf-8")).hexdigest()[:20]


@dataclass
class AnnotatedIndex:
    """What has been annotated already: text hashes and (doc_id, start, end) spans."""

    hashes: set[str] = field(default_factory=set)
    spans: set[tuple[str, int, int]] = field(default_factory=set)

    def add(self, text: str, doc_id: str | None, start: int | None, end: int | None) -> None:
        """Record one annotated sentence."""
        self.hashes.add(text_hash(text))
        if doc_id is not None and start is not None and end is not None:
            self.spans.add((str(doc_id), int(start), int(end)))

    def __contains__(self, cand: object) -> bool:
        if not isinstance(cand, Candidate):
            return False
        return (
            text_hash(cand.text) in self.hashes or (cand.doc_id, cand.start, cand.end) in self.spans
        )

    def __len__(self) -> int:
        return len(self.hashes)


def annotated_index(rows: Iterable[dict[str, object]]) -> AnnotatedIndex:
    """Build the index from annotation rows (``annotations`` table dicts)."""
    index = AnnotatedIndex()
    for row in rows:
        text = row.get("text")
        if not isinstance(text, str):
            continue
        start, end, doc_id = row.get("start"), row.get("end"), row.get("doc_id")
        index.add(
            text,
            doc_id if isinstance(doc_id, str) else None,
            start if isinstance(start, int) else None,
            end if isinstance(end, int) else None,
        )
    return index


_PENALTY_COLUMNS = (
    "prison_min_years",
    "prison_max_years",
    "prison_life",
    "death_penalty",
    "fine_text",
)


def candidates_from_tables(out_dir: str | Path) -> list[Candidate]:
    """Candidates from an output folder's ``sentences`` and ``documents`` tables.

    The previous sentence is the row with the next-lower ``sent_id`` of the same
    document, which is what the tagger was given as context when it tagged it.
    """
    sent_cols = ["doc_id", "sent_id", "start", "end", "text", "language", *_PENALTY_COLUMNS]
    sents = io.read_table(out_dir, "sentences", columns=sent_cols).to_pylist()
    docs = io.read_table(
        out_dir, "documents", columns=["doc_id", "title", "url", "kind", "language"]
    ).to_pylist()
    meta = {d["doc_id"]: d for d in docs}
    sents.sort(key=lambda r: (r["doc_id"], r["sent_id"]))
    out: list[Candidate] = []
    prev_doc: str | None = None
    prev_text: str | None = None
    for row in sents:
        if row["doc_id"] != prev_doc:
            prev_doc, prev_text = row["doc_id"], None
        text = row["text"] or ""
        doc = meta.get(row["doc_id"], {})
        if text.strip():
            out.append(
                Candidate(
                    doc_id=row["doc_id"],
                    sent_id=int(row["sent_id"]),
                    start=int(row["start"]),
                    end=int(row["end"]),
                    text=text,
                    title=doc.get("title"),
                    prev=prev_text,
                    url=doc.get("url"),
                    language=row.get("language") or doc.get("language"),
                    kind=doc.get("kind"),
                    penalty={k: row[k] for k in _PENALTY_COLUMNS if row.get(k) is not None},
                )
            )
        prev_text = text
    return out


def candidates_from_documents(docs: Iterable[Document], segment: Segmenter) -> list[Candidate]:
    """Candidates from documents (e.g. a ``--docs`` JSONL file) split by ``segment``.

    Documents without usable text are skipped: they have no sentences to label.
    """
    out: list[Candidate] = []
    for doc in docs:
        if not doc.ok:
            continue
        prev: str | None = None
        for i, seg in enumerate(segment(doc.text, doc.language)):
            if seg.text.strip():
                out.append(
                    Candidate(
                        doc_id=doc.doc_id,
                        sent_id=i,
                        start=seg.start,
                        end=seg.end,
                        text=seg.text,
                        title=doc.title,
                        prev=prev,
                        url=doc.url,
                        language=doc.language,
                        kind=doc.kind,
                    )
                )
            prev = seg.text
    return out


def read_documents_jsonl(path: str | Path) -> list[Document]:
    """Documents from a ``tipnlp tag``-style JSONL file; errors name file and line."""
    return [
        Document.from_json(obj, where=f"{path}:{i}") for i, obj in enumerate(io.read_jsonl(path), 1)
    ]
