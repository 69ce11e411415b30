"""The tagging stage: documents in, sentence tables out, batch by batch.

Work is split into *parts*: a part is one Parquet file of documents (up to
``settings.tag.batch_documents`` rows) in a staging folder.  Tagging a part
writes one file per output table with the same part name, ``documents`` last,
so the existence of ``OUT/documents/part-<name>.parquet`` means the part is
done.  A run killed half-way therefore resumes where it stopped, never writes
a row twice, and parallel workers never share a file.

Input JSONL is first split into staging parts (``split_jsonl``), so ``tipnlp
tag`` and ``tipnlp run`` (which stages what it scraped) share one path.
"""

from __future__ import annotations

import hashlib
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from filelock import FileLock, Timeout

from tipnlp import io
from tipnlp.documents import OK, Document, make_doc_id
from tipnlp.errors import InputError, OutputLockedError
from tipnlp.labels import LABELS, label_group
from tipnlp.nlp.types import Prediction, Segment, SentenceInput, Tagger
from tipnlp.settings import Settings

STAGING = "_staging"
LOCK_NAME = ".tipnlp.lock"

#: Strings the NLP state may hold before ``release_nlp_state`` drops it: the
#: entries of the spaCy vocabulary the rules and the gazetteer share plus the
#: rules' per-word memo (``nlp_state_size``).  They grow only with new words
#: (~0.5 KiB each, so this bounds them at ~40 MiB); the 501 gold documents end at ~32,000,
#: so a run on real text of that size never pays a rebuild, while text full of
#: new words releases about once per 2 M characters.
NLP_RELEASE_ABOVE = 80_000
#: A backstop in characters of text between two releases, for state the count
#: above does not see (tokenizer caches grow with the same new words).
NLP_RELEASE_EVERY_CHARS = 25_000_000


@dataclass
class TagSummary:
    """What a tagging run did; the CLI prints it."""

    parts_total: int = 0
    parts_done_before: int = 0
    #: Parts tagged before by another model version and tagged again (``retag``).
    parts_retagged: int = 0
    documents: int = 0
    sentences: int = 0
    label_counts: Counter[str] = field(default_factory=Counter)
    status_counts: Counter[str] = field(default_factory=Counter)
    failures: list[tuple[str, str, str]] = field(default_factory=list)
    model_version: str = ""

    def add(self, other: TagSummary) -> None:
        """Merge another part's summary into this one."""
        self.parts_total += other.parts_total
        self.parts_done_before += other.parts_done_before
        self.parts_retagged += other.parts_retagged
        self.documents += other.documents
        self.sentences += other.sentences
        self.label_counts.update(other.label_counts)
        self.status_counts.update(other.status_counts)
        self.failures.extend(other.failures)
        self.model_version = self.model_version or other.model_version


# --------------------------------------------------------------------------- locking


def lock_output(out_dir: Path) -> FileLock:
    """Take the exclusive lock on ``out_dir`` or raise ``OutputLockedError``.

    Two runs writing one folder would race on the same parts; the second one
    refuses at once with a message instead of waiting.  The lock is released
    when the holder exits, even on SIGKILL (it is an ``flock``).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(out_dir / LOCK_NAME), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise OutputLockedError(
            f"{out_dir}: another tipnlp run is writing to this folder "
            f"(lock {out_dir / LOCK_NAME}); wait for it or use another --out"
        ) from None
    return lock


# --------------------------------------------------------------------------- staging


def _part_name(doc_keys: Sequence[str]) -> str:
    digest = hashlib.sha256("\n".join(doc_keys).encode("utf-8")).hexdigest()
    return digest[:20]


def documents_from_jsonl(path: Path) -> Iterator[Document]:
    """Yield documents from a ``tipnlp tag`` JSONL file; bad lines become failure rows.

    ``fetched_at`` is the file's modification time, so re-running over the
    same file gives identical rows.  A repeated ``doc_id`` is kept as a
    ``duplicate`` row pointing at the first one.
    """
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    fetched = datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)
    seen: set[str] = set()
    for lineno, obj, error in io.iter_jsonl_lenient(path):
        where = f"{path}:{lineno}"
        if obj is None:
            yield Document.failed(
                f"{path.name}:line-{lineno}",
                "bad_input",
                error or "bad line",
                source=where,
                fetched_at=fetched,
            )
            continue
        try:
            doc = Document.from_json(obj, where=where)
        except InputError as exc:
            yield Document.failed(
                str(obj.get("doc_id") or f"{path.name}:line-{lineno}"),
                "bad_input",
                str(exc),
                source=where,
                fetched_at=fetched,
            )
            continue
        doc.fetched_at = fetched
        if doc.source is None:
            doc.source = where
        if doc.doc_id in seen:
            doc.status, doc.duplicate_of = "duplicate", doc.doc_id
            doc.error = f"doc_id {doc.doc_id} appears again at {where}"
            doc.doc_id = f"{doc.doc_id}#dup-{make_doc_id(where)[:8]}"
        seen.add(doc.doc_id)
        yield doc


def stage_documents(docs: Iterable[Document], out_dir: Path, batch_size: int) -> list[Path]:
    """Write ``docs`` as staging parts under ``out_dir/_staging``; return the part paths.

    Part names hash the doc ids and content hashes they hold, so staging the
    same input twice yields the same parts (and a finished part is skipped).
    """
    staging = out_dir / STAGING
    parts: list[Path] = []
    batch: list[Document] = []

    def flush() -> None:
        keys = [f"{d.doc_id}\t{d.content_sha256}\t{d.status}" for d in batch]
        name = _part_name(keys)
        path = io.part_path(staging, "documents", name)
        if not path.exists():
            io.write_part(staging, "documents", name, [d.to_row() for d in batch])
        parts.append(path)
        batch.clear()

    for doc in docs:
        batch.append(doc)
        if len(batch) >= batch_size:
            flush()
    if batch:
        flush()
    return parts


def split_jsonl(path: Path, out_dir: Path, batch_size: int) -> list[Path]:
    """Stage a JSONL file of documents as parts; see ``stage_documents``."""
    return stage_documents(documents_from_jsonl(path), out_dir, batch_size)


def pending_parts(out_dir: Path) -> list[Path]:
    """Staging parts under ``out_dir`` whose output is not written yet."""
    return [p for p in staged_parts(out_dir) if not part_done(out_dir, p)]


def staged_parts(out_dir: Path) -> list[Path]:
    """All staging parts under ``out_dir``, sorted by name."""
    return io.dataset_files(out_dir / STAGING, "documents")


def part_done(out_dir: Path, part: Path) -> bool:
    """True when the part's ``documents`` output (written last) exists."""
    return io.part_path(out_dir, "documents", _stem(part)).exists()


def _stem(part: Path) -> str:
    return part.stem.removeprefix("part-")


# --------------------------------------------------------------------------- tagging


Segmenter = Callable[[str, str | None], list[Segment]]


@dataclass
class Components:
    """The pieces the tagging stage needs; injectable for tests and workers."""

    tagger: Tagger
    segment: Segmenter
    extract_penalty: Callable[[str], Any]
    find_entities: Callable[[str], list[Any]] | None = None
    document_countries: Callable[..., list[str]] | None = None
    entity_rows: Callable[..., list[dict[str, Any]]] | None = None
    countries_by_sentence: Callable[..., list[list[str]]] | None = None
    normalize_jurisdiction: Callable[[str | None], str | None] | None = None
    #: Called when ``state_size()`` exceeds ``release_above`` or after
    #: ``release_every_chars`` characters of text, to drop state that grows with
    #: the input (``release_nlp_state`` in production; None: never).
    release_state: Callable[[], None] | None = None
    release_every_chars: int = NLP_RELEASE_EVERY_CHARS
    state_size: Callable[[], int] | None = None
    release_above: int = NLP_RELEASE_ABOVE
    chars_since_release: int = field(default=0, init=False, repr=False)

    def part_tagged(self, chars: int) -> None:
        """Count a tagged part's text; call ``release_state`` when a budget is used up."""
        if self.release_state is None:
            return
        self.chars_since_release += chars
        too_big = self.state_size is not None and self.state_size() > self.release_above
        if too_big or self.chars_since_release >= self.release_every_chars:
            self.chars_since_release = 0
            self.release_state()


def nlp_state_size() -> int:
    """Entries of the state ``release_nlp_state`` drops (vocabularies and word memo).

    Counts only what is already built; builds nothing.
    """
    size = 0
    vocab = sys.modules.get("tipnlp.nlp.vocab")
    if vocab is not None and vocab.shared_vocab.cache_info().currsize:
        # One vocabulary serves the rules and the gazetteer (tipnlp.nlp.vocab).
        size += len(vocab.shared_vocab())
    rules = sys.modules.get("tipnlp.nlp.rules")
    if rules is not None and rules._compiled.cache_info().currsize:
        size += len(rules._compiled().by_word)
    return size


def release_nlp_state() -> None:
    """Drop the spaCy state that grows with new words.

    That is the gazetteer, ``get_nlp``'s pipelines, the tokenizer and
    vocabulary the rules and the gazetteer share (``tipnlp.nlp.vocab``) and
    the rules' word memo.  A blank spaCy pipeline interns every new token
    string in its vocabulary and tokenizer cache and never forgets it: over
    a long run of distinct documents that grows without bound (~0.5 KiB per
    new token type; docs/speed.md, "Memory").  They are rebuilt on next use
    (well under a CPU-second), and the output is the same: tokenization and
    matching do not depend on what a vocabulary has seen.  (``segment()``
    itself keeps no spaCy state; ``get_nlp``'s pipelines are released for
    callers who use them.)  Only modules already imported are touched.  Call
    it between parts, never while another thread of this process is tagging
    (the runners tag one part at a time per process).
    """
    segment = sys.modules.get("tipnlp.nlp.segment")
    if segment is not None:
        segment.get_nlp.cache_clear()
    rules = sys.modules.get("tipnlp.nlp.rules")
    if rules is not None and rules._compiled.cache_info().currsize:
        # The compiled phrases are plain regular expressions (no vocabulary):
        # keep them, forget only their per-word memo.
        rules._compiled().by_word.clear()
    entities = sys.modules.get("tipnlp.nlp.entities")
    if entities is not None:
        entities._gazetteer.cache_clear()
    vocab = sys.modules.get("tipnlp.nlp.vocab")
    if vocab is not None:
        # Last: the gazetteer above holds them; the next users get fresh ones.
        vocab.shared_nlp.cache_clear()
        vocab.shared_vocab.cache_clear()


def default_components(settings: Settings, tagger_kind: str = "auto") -> Components:
    """Build the production components: our segmenter, tagger, penalties, entities."""
    from tipnlp.nlp import entities
    from tipnlp.nlp.penalties import extract_penalty
    from tipnlp.nlp.segment import segment

    return Components(
        tagger=build_tagger(settings, tagger_kind),
        segment=segment,
        extract_penalty=extract_penalty,
        find_entities=entities.find_entities,
        document_countries=entities.document_countries,
        entity_rows=entities.entity_rows,
        countries_by_sentence=entities.countries_by_sentence,
        normalize_jurisdiction=entities.normalize_jurisdiction,
        release_state=release_nlp_state,
        state_size=nlp_state_size,
    )


def build_tagger(settings: Settings, kind: str = "auto") -> Tagger:
    """Return the tagger: ``rules``, ``model`` (must exist) or ``auto`` (model if built)."""
    from tipnlp.errors import ModelError
    from tipnlp.nlp.rules import RuleTagger

    if kind == "rules":
        return RuleTagger()
    if kind not in {"auto", "model"}:
        raise ModelError(f"unknown tagger {kind!r}; use auto, model or rules")
    model_dir = settings.model_path()
    if not (model_dir / "model.safetensors").exists():
        if kind == "model":
            raise ModelError(f"{model_dir}: no trained model (run `make model`)")
        return RuleTagger()
    from tipnlp.nlp.tagger import load_tagger

    return load_tagger(settings)


def _sentence_rows(
    doc: Document,
    segments: Sequence[Segment],
    preds: Sequence[Prediction],
    comps: Components,
    countries: Sequence[list[str]],
    version: str,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    sent_rows: list[dict[str, Any]] = []
    label_rows: list[dict[str, Any]] = []
    for i, (seg, pred) in enumerate(zip(segments, preds, strict=True)):
        figures: dict[str, Any] = {
            "prison_min_years": None,
            "prison_max_years": None,
            "prison_life": None,
            "death_penalty": None,
            "fine_text": None,
        }
        if "penalty" in pred.labels:
            pen = comps.extract_penalty(seg.text)
            figures = {
                "prison_min_years": pen.prison_min_years,
                "prison_max_years": pen.prison_max_years,
                "prison_life": bool(pen.prison_life),
                "death_penalty": bool(pen.death_penalty),
                "fine_text": pen.fine_text,
            }
        sent_rows.append(
            {
                "doc_id": doc.doc_id,
                "sent_id": i,
                "start": seg.start,
                "end": seg.end,
                "text": seg.text,
                "unit": seg.unit,
                "language": doc.language,
                "labels": list(pred.labels),
                "scores": {name: float(pred.scores.get(name, 0.0)) for name in LABELS},
                "tagger": pred.tagger,
                "countries": list(countries[i]) if countries else [],
                "model_version": version,
                **figures,
            }
        )
        for label in pred.labels:
            label_rows.append(
                {
                    "doc_id": doc.doc_id,
                    "sent_id": i,
                    "label": label,
                    "label_group": label_group(label),
                    "score": float(pred.scores.get(label, 0.0)),
                    "threshold": float(pred.thresholds.get(label, 0.5)),
                    "source": pred.sources.get(
                        label, "rule" if pred.tagger == "rules" else "model"
                    ),
                    "model_version": version,
                }
            )
    return sent_rows, label_rows


def _document_from_row(row: dict[str, Any]) -> Document:
    row.pop("schema_version", None)
    return Document(**row)


def part_versions(out_dir: Path, part: Path) -> set[str]:
    """Model versions in the ``sentences`` output of a tagged part (empty: no sentences)."""
    path = io.part_path(out_dir, "sentences", _stem(part))
    if not path.exists():
        return set()
    column = pq.read_table(path, columns=["model_version"]).column("model_version")
    return {v for v in column.to_pylist() if v}


def tag_part(part: Path, out_dir: Path, comps: Components, *, retag: bool = False) -> TagSummary:
    """Tag one staging part and write its four output parts (``documents`` last).

    A document that fails to segment or tag becomes a failure row with the
    reason; the rest of the part goes on.  Nothing of the part is kept after
    it is written (``comps.part_tagged`` releases what the NLP pipelines
    accumulate), so memory does not grow with the number of parts.

    A part already done is skipped, unless ``retag`` is set and its sentences
    came from another model version (after a retrain): then its ``documents``
    file, the done marker, is removed first and the part is tagged again, so
    a run killed half-way leaves it pending rather than half old, half new.
    """
    stem = _stem(part)
    summary = TagSummary(parts_total=1, model_version=comps.tagger.version)
    marker = io.part_path(out_dir, "documents", stem)
    if marker.exists():
        if not retag or part_versions(out_dir, part) <= {comps.tagger.version}:
            summary.parts_done_before = 1
            return summary
        marker.unlink()
        summary.parts_retagged = 1
    table = pq.read_table(part)
    docs = [_document_from_row(row) for row in table.to_pylist()]

    doc_segments: list[tuple[Document, list[Segment], list[Any]]] = []
    inputs: list[SentenceInput] = []
    nlp_chars = 0  # text that went through the NLP pipelines
    for doc in docs:
        if comps.normalize_jurisdiction is not None:
            doc.jurisdiction = comps.normalize_jurisdiction(doc.jurisdiction)
        if not doc.ok:
            if doc.status == OK:
                doc.status, doc.error = "empty", "document has no text"
            doc_segments.append((doc, [], []))
            continue
        nlp_chars += len(doc.text)
        try:
            segments = comps.segment(doc.text, doc.language)
            entities = comps.find_entities(doc.text) if comps.find_entities else []
            if comps.document_countries is not None:
                doc.countries = comps.document_countries(doc.text, doc.jurisdiction, entities)
        except Exception as exc:  # one bad document must not stop a batch
            doc.status, doc.error = "tag_error", f"segmentation failed: {exc!r}"[:500]
            doc_segments.append((doc, [], []))
            continue
        doc_segments.append((doc, segments, entities))
        prev: str | None = None
        for seg in segments:
            inputs.append(
                SentenceInput(
                    text=seg.text,
                    title=doc.title,
                    prev=prev,
                    language=doc.language,
                    kind=doc.kind,
                    doc=doc.doc_id,
                )
            )
            prev = seg.text

    preds = comps.tagger.predict(inputs) if inputs else []
    version = comps.tagger.version
    sent_rows: list[dict[str, Any]] = []
    label_rows: list[dict[str, Any]] = []
    entity_rows: list[dict[str, Any]] = []
    doc_rows: list[dict[str, Any]] = []
    cursor = 0
    for doc, segments, entities in doc_segments:
        doc_preds = preds[cursor : cursor + len(segments)]
        cursor += len(segments)
        spans = [(seg.start, seg.end) for seg in segments]
        countries = (
            comps.countries_by_sentence(entities, spans) if comps.countries_by_sentence else []
        )
        s_rows, l_rows = _sentence_rows(doc, segments, doc_preds, comps, countries, version)
        sent_rows.extend(s_rows)
        label_rows.extend(l_rows)
        if comps.entity_rows is not None and entities:
            entity_rows.extend(comps.entity_rows(doc.doc_id, entities, spans))
        if doc.status == OK:
            doc.n_sentences = len(segments)
        summary.documents += 1
        summary.sentences += len(segments)
        summary.status_counts[doc.status] += 1
        if doc.status not in (OK, "duplicate"):
            summary.failures.append((doc.doc_id, doc.status, doc.error or ""))
        for row in s_rows:
            summary.label_counts.update(row["labels"])
        doc_rows.append(doc.to_row())

    io.write_part(out_dir, "sentences", stem, sent_rows)
    io.write_part(out_dir, "sentence_labels", stem, label_rows)
    io.write_part(out_dir, "entities", stem, entity_rows)
    io.write_part(out_dir, "documents", stem, doc_rows)
    comps.part_tagged(nlp_chars)
    return summary


def tag_parts(
    parts: Sequence[Path],
    out_dir: Path,
    comps: Components,
    progress: Callable[[int, int], None] | None = None,
    *,
    retag: bool = False,
) -> TagSummary:
    """Tag staging parts in order (the single-process runner); see ``tag_part``."""
    total = TagSummary()
    for i, part in enumerate(parts, 1):
        total.add(tag_part(part, out_dir, comps, retag=retag))
        if progress is not None:
            progress(i, len(parts))
    return total


def tag_jsonl(
    docs_path: Path,
    out_dir: Path,
    settings: Settings,
    comps: Components | None = None,
    progress: Callable[[int, int], None] | None = None,
    tagger_kind: str = "auto",
    retag: bool = False,
) -> TagSummary:
    """``tipnlp tag``: stage a JSONL file and tag every pending part, under the lock.

    ``retag`` also tags again the parts another model version tagged.
    """
    lock = lock_output(out_dir)
    try:
        io.clean_temporaries(out_dir)
        parts = split_jsonl(docs_path, out_dir, settings.tag.batch_documents)
        comps = comps or default_components(settings, tagger_kind)
        return tag_parts(parts, out_dir, comps, progress, retag=retag)
    finally:
        lock.release()
