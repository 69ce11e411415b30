"""From candidate sentences to a Label Studio task file (the `annotate export` step).

Order of work: drop sentences already annotated and exact repeats (by
normalised text), score the rest with the current tagger, pick ``n`` by
uncertainty + diversity, then write the tasks JSON and the labelling config
atomically.  The tagger is passed in (anything implementing ``Tagger``), so
tests use a tiny fake and the CLI the trained model.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from tipnlp import io
from tipnlp.annotation.candidates import AnnotatedIndex, Candidate, text_hash
from tipnlp.annotation.labelstudio import labelling_config, make_task
from tipnlp.annotation.sampling import (
    DEFAULT_DIVERSITY,
    DEFAULT_POOL_FACTOR,
    select,
    uncertainties,
)
from tipnlp.errors import AnnotationError
from tipnlp.nlp.types import Prediction, Tagger

#: Progress callback: (sentences scored so far, total).
Progress = Callable[[int, int], None]


@dataclass
class ExportReport:
    """What an export did, for the CLI and the flow."""

    tasks_path: Path
    config_path: Path
    candidates: int
    already_annotated: int
    repeats: int
    selected: int
    model_version: str
    mean_uncertainty: float


def config_path_for(tasks_path: str | Path) -> Path:
    """Where the labelling config goes by default: beside the tasks, ``<stem>.config.xml``."""
    p = Path(tasks_path)
    return p.with_name(f"{p.stem}.config.xml")


def predict_all(
    tagger: Tagger,
    cands: Sequence[Candidate],
    batch_size: int = 64,
    progress: Progress | None = None,
) -> list[Prediction]:
    """Score every candidate with ``tagger`` in batches, reporting progress.

    A batch holds whole documents (consecutive candidates with the same
    ``doc_id``; a document longer than ``batch_size`` is a batch of its
    own), because the model reads each sentence with a view of its whole
    document: the scores must not depend on where a batch happens to end.
    """
    preds: list[Prediction] = []
    for chunk in _document_batches(cands, max(batch_size, 1)):
        out = tagger.predict([c.tagger_input() for c in chunk])
        if len(out) != len(chunk):
            raise AnnotationError(
                f"tagger {tagger.version} returned {len(out)} predictions for {len(chunk)} "
                "sentences"
            )
        preds.extend(out)
        if progress is not None:
            progress(len(preds), len(cands))
    return preds


def _document_batches(cands: Sequence[Candidate], size: int) -> Iterator[list[Candidate]]:
    """Consecutive runs of whole documents, each at most ``size`` long unless one document is."""
    batch: list[Candidate] = []
    for _, run in itertools.groupby(cands, key=lambda c: c.doc_id):
        doc = list(run)
        if batch and len(batch) + len(doc) > size:
            yield batch
            batch = []
        batch.extend(doc)
    if batch:
        yield batch


def export_tasks(
    candidates: Sequence[Candidate],
    tagger: Tagger,
    tasks_path: str | Path,
    n: int = 200,
    annotated: AnnotatedIndex | None = None,
    diversity: float = DEFAULT_DIVERSITY,
    pool_factor: int = DEFAULT_POOL_FACTOR,
    config_path: str | Path | None = None,
    batch_size: int = 64,
    progress: Progress | None = None,
) -> ExportReport:
    """Pick ``n`` sentences for annotation and write Label Studio tasks + config.

    Tasks are written most-informative first (MMR order).  Raises
    ``AnnotationError`` when nothing is left to annotate, so an empty task file
    is never mistaken for a finished batch.
    """
    if n <= 0:
        raise AnnotationError(f"--n must be positive, got {n}")
    if not 0 <= diversity <= 1:
        raise AnnotationError(f"diversity must be within [0, 1], got {diversity}")
    index = annotated or AnnotatedIndex()
    fresh: list[Candidate] = []
    seen: set[str] = set()
    n_annotated = n_repeats = 0
    for cand in candidates:
        if cand in index:
            n_annotated += 1
            continue
        key = text_hash(cand.text)
        if key in seen:
            n_repeats += 1
            continue
        seen.add(key)
        fresh.append(cand)
    if not fresh:
        raise AnnotationError(
            f"no sentence left to annotate: {len(candidates)} candidate(s), "
            f"{n_annotated} already annotated, {n_repeats} repeats"
        )
    preds = predict_all(tagger, fresh, batch_size, progress)
    picked = select([c.text for c in fresh], preds, n, diversity, pool_factor)
    doubt = uncertainties([preds[i] for i in picked])
    tasks = [
        make_task(fresh[i], preds[i], tagger.version, float(u))
        for i, u in zip(picked, doubt, strict=True)
    ]
    out = Path(tasks_path)
    cfg = Path(config_path) if config_path is not None else config_path_for(out)
    io.write_text_atomic(cfg, labelling_config())
    io.write_json_atomic(out, tasks)
    return ExportReport(
        tasks_path=out,
        config_path=cfg,
        candidates=len(candidates),
        already_annotated=n_annotated,
        repeats=n_repeats,
        selected=len(tasks),
        model_version=tagger.version,
        mean_uncertainty=float(doubt.mean()) if len(doubt) else 0.0,
    )
