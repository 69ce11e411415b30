"""Label Studio: the labelling config, tasks out, a JSON export back in.

The config and the import agree on control names through the constants below,
so a renamed control cannot silently drop a field.  Import is all-or-nothing:
every task of an export is validated before one atomic write, and an invalid
export raises ``AnnotationError`` naming the task(s) and leaves ``annotations/``
untouched.  Rows follow the ``annotations`` table schema and are stored as
JSONL ``annotations/<batch>-v<schema version>.jsonl``: text files diff well in
git, and the version in the name says which reader they need.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from tipnlp import io
from tipnlp.annotation.candidates import Candidate, text_hash
from tipnlp.errors import AnnotationError, InputError
from tipnlp.labels import DESCRIPTIONS, LABELS, SCHEME_VERSION
from tipnlp.nlp.types import Prediction
from tipnlp.schemas import VERSIONS

#: Control and object names shared by the config, the tasks and the import.
TEXT = "text"
CONTEXT = "context"
LABELS_CONTROL = "labels"
PRISON_MIN = "prison_min_years"
PRISON_MAX = "prison_max_years"
FLAGS_CONTROL = "penalty_flags"
FLAG_LIFE = "prison_life"
FLAG_DEATH = "death_penalty"
FINE = "fine_text"

#: The explicit "no label" choice: annotators must pick something, so an
#: empty annotation is never mistaken for a sentence with no labels.
NONE_CHOICE = "none"
NONE_HINT = "No label applies (most sentences of a news page). Not combinable with others."

CONTROLS: tuple[str, ...] = (LABELS_CONTROL, PRISON_MIN, PRISON_MAX, FLAGS_CONTROL, FINE)

#: Version of the annotations table, written into every file name.
ANNOTATIONS_VERSION: int = VERSIONS["annotations"]

_MAX_ERRORS_SHOWN = 20
_BATCH_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


# --------------------------------------------------------------------------- config


def labelling_config() -> str:
    """The Label Studio labelling config (XML) for scheme ``SCHEME_VERSION``.

    Generated from ``tipnlp.labels`` rather than kept as a file so that a label
    added there reaches annotators without a second edit.  Every label gets a
    hover hint and a line in the guideline panel with its short description.
    """
    root = ET.Element("View")
    ET.SubElement(
        root,
        "Header",
        value=f"tipnlp label scheme v{SCHEME_VERSION}: choose every label the sentence "
        "carries, or 'none'. Read it in its context.",
        size="4",
    )
    ctx = ET.SubElement(root, "View", style="color: #555; font-size: 90%; white-space: pre-wrap")
    ET.SubElement(ctx, "Header", value="Context (title, previous sentence)", size="6")
    ET.SubElement(ctx, "Text", name=CONTEXT, value=f"${CONTEXT}")
    ET.SubElement(root, "Header", value="Sentence", size="5")
    ET.SubElement(root, "Text", name=TEXT, value=f"${TEXT}")

    choices = ET.SubElement(
        root,
        "Choices",
        name=LABELS_CONTROL,
        toName=TEXT,
        choice="multiple",
        required="true",
        requiredMessage="Pick every label that applies, or 'none'.",
        showInline="false",
    )
    ET.SubElement(choices, "Choice", value=NONE_CHOICE, hint=NONE_HINT)
    for name in LABELS:
        ET.SubElement(choices, "Choice", value=name, hint=DESCRIPTIONS[name])

    pen = ET.SubElement(
        root,
        "View",
        visibleWhen="choice-selected",
        whenTagName=LABELS_CONTROL,
        whenChoiceValue="penalty",
    )
    ET.SubElement(
        pen,
        "Header",
        value="Penalty figures as the sentence states them (leave empty if not stated; "
        "months / 12)",
        size="5",
    )
    ET.SubElement(pen, "Header", value="Minimum prison term (years)", size="6")
    ET.SubElement(pen, "Number", name=PRISON_MIN, toName=TEXT, min="0", step="0.01")
    ET.SubElement(pen, "Header", value="Maximum prison term (years)", size="6")
    ET.SubElement(pen, "Number", name=PRISON_MAX, toName=TEXT, min="0", step="0.01")
    flags = ET.SubElement(pen, "Choices", name=FLAGS_CONTROL, toName=TEXT, choice="multiple")
    ET.SubElement(flags, "Choice", value=FLAG_LIFE, hint="Life imprisonment is stated.")
    ET.SubElement(flags, "Choice", value=FLAG_DEATH, hint="The death penalty is stated.")
    ET.SubElement(pen, "Header", value="Fine as written (amount and currency)", size="6")
    ET.SubElement(
        pen, "TextArea", name=FINE, toName=TEXT, maxSubmissions="1", editable="true", rows="1"
    )

    guide = ET.SubElement(root, "View", style="margin-top: 1em; font-size: 85%")
    ET.SubElement(guide, "Header", value="Guidelines (annotations/guidelines.md)", size="5")
    for name in LABELS:
        ET.SubElement(guide, "Header", value=f"{name}: {DESCRIPTIONS[name]}", size="6")
    ET.indent(root)
    return ET.tostring(root, encoding="unicode") + "\n"


# --------------------------------------------------------------------------- tasks


def _choices(values: Sequence[str]) -> dict[str, Any]:
    return {
        "from_name": LABELS_CONTROL,
        "to_name": TEXT,
        "type": "choices",
        "value": {"choices": list(values)},
    }


def penalty_results(figures: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Label Studio results for the penalty controls from a dict of figures."""
    out: list[dict[str, Any]] = []
    for name in (PRISON_MIN, PRISON_MAX):
        value = figures.get(name)
        if value is not None:
            out.append(
                {
                    "from_name": name,
                    "to_name": TEXT,
                    "type": "number",
                    "value": {"number": float(value)},
                }
            )
    flags = [f for f in (FLAG_LIFE, FLAG_DEATH) if figures.get(f)]
    if flags:
        out.append(
            {
                "from_name": FLAGS_CONTROL,
                "to_name": TEXT,
                "type": "choices",
                "value": {"choices": flags},
            }
        )
    if figures.get(FINE):
        out.append(
            {
                "from_name": FINE,
                "to_name": TEXT,
                "type": "textarea",
                "value": {"text": [str(figures[FINE])]},
            }
        )
    return out


def annotation_result(
    labels: Sequence[str], figures: Mapping[str, Any] | None = None
) -> list[dict[str, Any]]:
    """A full Label Studio ``result`` list for ``labels`` (+ penalty figures).

    Used for pre-annotations, and by the round-trip test to submit answers.
    """
    result = [_choices(list(labels) or [NONE_CHOICE])]
    if figures and "penalty" in labels:
        result.extend(penalty_results(figures))
    return result


def make_task(
    cand: Candidate,
    prediction: Prediction | None,
    model_version: str | None,
    uncertainty: float | None = None,
) -> dict[str, Any]:
    """One Label Studio task: the sentence, its context and provenance, plus the
    model's guess as a pre-annotation (``score`` = the model's confidence, so
    Label Studio can sort tasks by it)."""
    data: dict[str, Any] = {
        TEXT: cand.text,
        CONTEXT: cand.context,
        "title": cand.title,
        "prev": cand.prev,
        "doc_id": cand.doc_id,
        "sent_id": cand.sent_id,
        "start": cand.start,
        "end": cand.end,
        "url": cand.url,
        "language": cand.language,
        "label_scheme": SCHEME_VERSION,
        "text_hash": text_hash(cand.text),
    }
    task: dict[str, Any] = {"data": data}
    if prediction is not None:
        if uncertainty is not None:
            data["uncertainty"] = round(float(uncertainty), 4)
        pred: dict[str, Any] = {
            "model_version": model_version or "unknown",
            "result": annotation_result(prediction.labels, cand.penalty),
        }
        if uncertainty is not None:
            pred["score"] = round(1.0 - float(uncertainty), 4)
        task["predictions"] = [pred]
    return task


# --------------------------------------------------------------------------- import


@dataclass
class ImportReport:
    """What an import did: counts for the CLI, and the file written."""

    path: Path | None
    tasks: int = 0
    annotations: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped_elsewhere: int = 0
    cancelled: int = 0
    unannotated: int = 0
    warnings: list[str] = field(default_factory=list)


@dataclass
class ParsedExport:
    """Rows of the ``annotations`` table parsed from one export, plus counts."""

    rows: list[dict[str, Any]]
    tasks: int
    cancelled: int
    unannotated: int
    warnings: list[str]


def _load_json(path: Path) -> Any:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise AnnotationError(f"{path}: cannot read ({exc.strerror}); nothing imported") from None
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise AnnotationError(f"{path}: not UTF-8 (byte {exc.start}); nothing imported") from None
    except json.JSONDecodeError as exc:
        ends_early = exc.pos >= len(raw.rstrip()) - 1 or exc.msg.startswith("Unterminated")
        hint = " (truncated?)" if ends_early else ""
        raise AnnotationError(
            f"{path}: not valid JSON{hint} at line {exc.lineno} column {exc.colno}: "
            f"{exc.msg}; nothing imported"
        ) from None


def _annotator(ann: Mapping[str, Any]) -> str:
    """Who annotated: e-mail when the export has it, else ``user<id>``."""
    who = ann.get("completed_by")
    if isinstance(who, Mapping):
        for key in ("email", "username", "id"):
            if who.get(key) not in (None, ""):
                return str(who[key]) if key != "id" else f"user{who[key]}"
    if isinstance(who, int | str) and str(who) != "":
        return f"user{who}" if isinstance(who, int) or str(who).isdigit() else str(who)
    name = ann.get("created_username")
    if isinstance(name, str) and name.strip():
        return name.split(",")[0].strip()
    return "unknown"


def _timestamp(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise ValueError(f"timestamp {value!r} is not a string")
    stamp = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return stamp.astimezone(UTC)


def _opt_int(data: Mapping[str, Any], key: str) -> int | None:
    value = data.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"data.{key} must be an integer, got {value!r}")
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"data.{key} must be an integer, got {value!r}") from None


def _parse_result(result: Any, where: str, warnings: list[str]) -> tuple[list[str], dict[str, Any]]:
    """Labels and penalty figures from one annotation's ``result`` list."""
    if not isinstance(result, list):
        raise ValueError("'result' is not a list")
    labels: list[str] | None = None
    figures: dict[str, Any] = {}
    for item in result:
        if not isinstance(item, Mapping):
            raise ValueError("a result item is not an object")
        name = item.get("from_name")
        value = item.get("value")
        if not isinstance(value, Mapping):
            raise ValueError(f"result {name!r} has no 'value' object")
        if name == LABELS_CONTROL:
            chosen = value.get("choices")
            if not isinstance(chosen, list) or not all(isinstance(c, str) for c in chosen):
                raise ValueError("'labels' choices are not a list of strings")
            unknown = sorted(set(chosen) - set(LABELS) - {NONE_CHOICE})
            if unknown:
                raise ValueError(
                    f"unknown label(s) {unknown}; scheme v{SCHEME_VERSION} has "
                    f"{[NONE_CHOICE, *LABELS]}"
                )
            if NONE_CHOICE in chosen and len(set(chosen)) > 1:
                raise ValueError(f"'{NONE_CHOICE}' chosen together with {sorted(set(chosen))}")
            wanted = set(chosen) - {NONE_CHOICE}
            labels = [lab for lab in LABELS if lab in wanted]
        elif name in (PRISON_MIN, PRISON_MAX):
            number = value.get("number")
            if number is None:
                continue
            if isinstance(number, bool) or not isinstance(number, int | float) or number < 0:
                raise ValueError(f"{name} must be a non-negative number, got {number!r}")
            figures[name] = float(number)
        elif name == FLAGS_CONTROL:
            chosen = value.get("choices")
            if not isinstance(chosen, list):
                raise ValueError(f"'{FLAGS_CONTROL}' choices are not a list")
            unknown = sorted(set(map(str, chosen)) - {FLAG_LIFE, FLAG_DEATH})
            if unknown:
                raise ValueError(f"unknown penalty flag(s) {unknown}")
            figures[FLAG_LIFE] = FLAG_LIFE in chosen
            figures[FLAG_DEATH] = FLAG_DEATH in chosen
        elif name == FINE:
            text = value.get("text")
            parts = text if isinstance(text, list) else [text]
            joined = " ".join(str(p).strip() for p in parts if p is not None and str(p).strip())
            if joined:
                figures[FINE] = joined
        else:
            raise ValueError(
                f"unknown control {name!r} (the project's config is not tipnlp's; "
                f"expected {list(CONTROLS)})"
            )
    if labels is None:
        raise ValueError(f"no '{LABELS_CONTROL}' choice (pick '{NONE_CHOICE}' if no label fits)")
    if figures and "penalty" not in labels:
        warnings.append(f"{where}: penalty figures given without the 'penalty' label; dropped")
        figures = {}
    lo, hi = figures.get(PRISON_MIN), figures.get(PRISON_MAX)
    if lo is not None and hi is not None and lo > hi:
        raise ValueError(f"prison_min_years {lo} is above prison_max_years {hi}")
    return labels, figures


def parse_export(source: str | Path | Sequence[Any]) -> ParsedExport:
    """Validate a Label Studio JSON export and return its ``annotations`` rows.

    ``source`` is the export file or its already-loaded list of tasks.  Every
    task is checked; all problems are collected and raised together in one
    ``AnnotationError`` that names each task, so a fix-and-retry loop is short.
    Cancelled (skipped) annotations and tasks nobody annotated are counted, not
    imported.
    """
    label = str(source) if isinstance(source, str | Path) else "export"
    tasks = _load_json(Path(source)) if isinstance(source, str | Path) else source
    if not isinstance(tasks, list):
        raise AnnotationError(
            f"{label}: expected a JSON list of tasks (Label Studio 'JSON' export), got "
            f"{type(tasks).__name__}; nothing imported"
        )
    rows: list[dict[str, Any]] = []
    errors: list[str] = []
    warnings: list[str] = []
    cancelled = unannotated = 0
    for i, task in enumerate(tasks):
        if not isinstance(task, Mapping):
            errors.append(f"task #{i}: not a JSON object")
            continue
        task_id = task.get("id")
        where = f"task {task_id}" if task_id is not None else f"task #{i} (no id)"
        try:
            if task_id is None or isinstance(task_id, bool):
                raise ValueError("missing 'id'")
            data = task.get("data")
            if not isinstance(data, Mapping):
                raise ValueError("missing 'data' object")
            text = data.get(TEXT)
            if not isinstance(text, str) or not text.strip():
                raise ValueError(f"missing or empty data.{TEXT}")
            scheme = data.get("label_scheme")
            if scheme is None:
                raise ValueError(
                    "missing data.label_scheme (tasks must come from `tipnlp annotate export`)"
                )
            if str(scheme) != str(SCHEME_VERSION):
                raise ValueError(
                    f"label scheme v{scheme}, but this tipnlp uses v{SCHEME_VERSION}; "
                    "re-export the tasks or convert them"
                )
            anns = task.get("annotations")
            if not isinstance(anns, list):
                raise ValueError("missing 'annotations' list (use the JSON export format)")
            base = {
                "task_id": str(task_id),
                "doc_id": None if data.get("doc_id") is None else str(data["doc_id"]),
                "sent_id": _opt_int(data, "sent_id"),
                "start": _opt_int(data, "start"),
                "end": _opt_int(data, "end"),
                "text": text,
                "context": data.get(CONTEXT) if isinstance(data.get(CONTEXT), str) else None,
                "label_scheme": SCHEME_VERSION,
                "schema_version": ANNOTATIONS_VERSION,
            }
            if not all(isinstance(a, Mapping) for a in anns):
                raise ValueError("an annotation is not a JSON object")
            live = [a for a in anns if not a.get("was_cancelled")]
            cancelled += len(anns) - len(live)
            if not anns:
                unannotated += 1
            for ann in live:
                ann_where = f"{where}, annotation {ann.get('id', '?')}"
                try:
                    labels, figures = _parse_result(ann.get("result"), ann_where, warnings)
                    stamp = _timestamp(ann.get("updated_at") or ann.get("created_at"))
                except ValueError as exc:
                    raise ValueError(f"annotation {ann.get('id', '?')}: {exc}") from None
                rows.append(
                    {
                        **base,
                        "labels": labels,
                        PRISON_MIN: figures.get(PRISON_MIN),
                        PRISON_MAX: figures.get(PRISON_MAX),
                        FLAG_LIFE: figures.get(FLAG_LIFE, False) if "penalty" in labels else None,
                        FLAG_DEATH: figures.get(FLAG_DEATH, False) if "penalty" in labels else None,
                        FINE: figures.get(FINE),
                        "annotator": _annotator(ann),
                        "annotated_at": stamp,
                    }
                )
        except ValueError as exc:
            errors.append(f"{where}: {exc}")
    if errors:
        shown = "\n  ".join(errors[:_MAX_ERRORS_SHOWN])
        more = len(errors) - _MAX_ERRORS_SHOWN
        tail = f"\n  ... and {more} more" if more > 0 else ""
        raise AnnotationError(
            f"{label}: {len(errors)} invalid task(s); nothing imported:\n  {shown}{tail}"
        )
    return ParsedExport(rows, len(tasks), cancelled, unannotated, warnings)


def _row_key(row: Mapping[str, Any]) -> tuple[str, str]:
    return (str(row["task_id"]), str(row["annotator"]))


def _sort_key(row: Mapping[str, Any]) -> tuple[int, str, str]:
    tid = str(row["task_id"])
    return (int(tid) if tid.isdigit() else -1, tid, str(row["annotator"]))


def _to_json_row(row: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(row)
    stamp = out.get("annotated_at")
    if isinstance(stamp, datetime):
        out["annotated_at"] = stamp.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return out


def batch_path(annotations_dir: str | Path, batch: str) -> Path:
    """File that holds one imported batch: ``<dir>/<batch>-v<version>.jsonl``."""
    safe = _BATCH_SAFE.sub("-", batch).strip("-.") or "batch"
    return Path(annotations_dir) / f"{safe}-v{ANNOTATIONS_VERSION}.jsonl"


def annotation_files(annotations_dir: str | Path) -> list[Path]:
    """The committed annotation batches in ``annotations_dir`` (sorted)."""
    root = Path(annotations_dir)
    if not root.is_dir():
        return []
    return sorted(p for p in root.glob("*.jsonl") if not p.name.startswith((".", "_")))


def read_annotations(
    annotations_dir: str | Path, exclude: Iterable[Path] = ()
) -> list[dict[str, Any]]:
    """All annotation rows below ``annotations_dir`` (``annotated_at`` as ISO text).

    A malformed file raises ``InputError`` naming file and line.
    """
    skip = {Path(p).resolve() for p in exclude}
    rows: list[dict[str, Any]] = []
    for path in annotation_files(annotations_dir):
        if path.resolve() in skip:
            continue
        rows.extend(io.read_jsonl(path))
    return rows


def annotations_table(annotations_dir: str | Path) -> pa.Table:
    """All annotation batches as one ``annotations``-schema Arrow table (for DuckDB).

    Raises ``AnnotationError`` naming the file when a row does not fit the schema.
    """
    rows: list[dict[str, Any]] = []
    for path in annotation_files(annotations_dir):
        for i, row in enumerate(io.read_jsonl(path), 1):
            try:
                row = dict(row)
                row["annotated_at"] = _timestamp(row.get("annotated_at"))
                io.to_table("annotations", [row])
            except (ValueError, TypeError, pa.ArrowException) as exc:
                raise AnnotationError(f"{path}: row {i}: {exc}") from None
            rows.append(row)
    return io.to_table("annotations", rows)


def import_export(
    export: str | Path | Sequence[Any],
    annotations_dir: str | Path,
    batch: str | None = None,
) -> ImportReport:
    """Import a Label Studio JSON export into ``annotations_dir`` as one batch file.

    The batch name defaults to the export's file stem.  Re-importing the same
    export is idempotent: rows are keyed by (task id, annotator); a newer
    version of an annotation replaces the older one in the batch, and rows
    already present (same task, annotator and text) in *another* batch are not
    copied again.  Validation runs on everything before the single atomic write.
    """
    if batch is None:
        if not isinstance(export, str | Path):
            raise AnnotationError("a batch name is needed when importing an in-memory export")
        batch = Path(export).stem
    parsed = parse_export(export)
    target = batch_path(annotations_dir, batch)
    report = ImportReport(
        path=target,
        tasks=parsed.tasks,
        annotations=len(parsed.rows),
        cancelled=parsed.cancelled,
        unannotated=parsed.unannotated,
        warnings=list(parsed.warnings),
    )
    try:
        io.to_table("annotations", parsed.rows)  # the schema check, before any write
        elsewhere = {
            (str(r.get("task_id")), str(r.get("annotator")), text_hash(str(r.get("text", ""))))
            for r in read_annotations(annotations_dir, exclude=[target])
        }
        existing = list(io.read_jsonl(target)) if target.exists() else []
    except (ValueError, TypeError) as exc:
        raise AnnotationError(f"{export}: rows do not fit the annotations schema: {exc}") from None
    except InputError as exc:
        raise AnnotationError(f"{exc}; fix or remove that file first; nothing imported") from None

    merged: dict[tuple[str, str], dict[str, Any]] = {_row_key(r): r for r in existing}
    for row in map(_to_json_row, parsed.rows):
        key = _row_key(row)
        if (key[0], key[1], text_hash(row["text"])) in elsewhere:
            report.skipped_elsewhere += 1
            continue
        old = merged.get(key)
        if old is None:
            report.new += 1
        elif old == row or str(old.get("annotated_at") or "") > str(row["annotated_at"] or ""):
            report.unchanged += 1  # same, or the batch already holds a newer version
            continue
        else:
            report.updated += 1
        merged[key] = row
    if report.new or report.updated or not target.exists():
        if merged:
            io.write_jsonl_atomic(target, sorted(merged.values(), key=_sort_key))
        else:
            report.path = None
    return report
