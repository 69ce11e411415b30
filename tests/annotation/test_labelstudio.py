"""Labelling config, tasks, and the all-or-nothing import of Label Studio exports."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from tipnlp import io
from tipnlp.annotation.candidates import Candidate
from tipnlp.annotation.labelstudio import (
    NONE_CHOICE,
    annotations_table,
    batch_path,
    import_export,
    labelling_config,
    make_task,
    parse_export,
    read_annotations,
)
from tipnlp.errors import AnnotationError
from tipnlp.labels import DESCRIPTIONS, LABELS, SCHEME_VERSION
from tipnlp.nlp.types import Prediction
from tipnlp.schemas import VERSIONS


def _write(path: Path, obj: Any) -> Path:
    path.write_text(json.dumps(obj), encoding="utf-8")
    return path


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*"))} if folder.exists() else {}


# --- config and tasks --------------------------------------------------------------


def test_config_has_every_label_with_its_description_and_penalty_controls() -> None:
    root = ET.fromstring(labelling_config())
    labels = next(c for c in root.iter("Choices") if c.get("name") == "labels")
    assert labels.get("choice") == "multiple"
    values = [c.get("value") for c in labels.iter("Choice")]
    assert values == [NONE_CHOICE, *LABELS]
    hints = {c.get("value"): c.get("hint") for c in labels.iter("Choice")}
    assert all(hints[name] == DESCRIPTIONS[name] for name in LABELS)
    numbers = {n.get("name") for n in root.iter("Number")}
    assert numbers == {"prison_min_years", "prison_max_years"}
    flags = next(c for c in root.iter("Choices") if c.get("name") == "penalty_flags")
    assert [c.get("value") for c in flags.iter("Choice")] == ["prison_life", "death_penalty"]
    assert {t.get("name") for t in root.iter("TextArea")} == {"fine_text"}
    # every control points at the sentence object
    for tag in ("Choices", "Number", "TextArea"):
        assert all(el.get("toName") == "text" for el in root.iter(tag))
    guide_text = " ".join(h.get("value", "") for h in root.iter("Header"))
    assert all(DESCRIPTIONS[name] in guide_text for name in LABELS)


def test_task_carries_context_provenance_and_prediction() -> None:
    cand = Candidate(
        doc_id="doc-9",
        sent_id=4,
        start=120,
        end=170,
        text="Such a person shall be imprisoned for up to 15 years.",
        title="Penal Code amendment",
        prev="Section 5 covers recruitment.",
        url="https://example.org/law",
        penalty={"prison_max_years": 15.0},
    )
    pred = Prediction(
        scores=dict.fromkeys(LABELS, 0.1) | {"penalty": 0.8},
        labels=["penalty"],
        thresholds=dict.fromkeys(LABELS, 0.5),
    )
    task = make_task(cand, pred, "m-3", uncertainty=0.25)
    data = task["data"]
    assert data["text"] == cand.text
    assert data["context"] == "Penal Code amendment\nSection 5 covers recruitment."
    assert (data["doc_id"], data["sent_id"], data["start"], data["end"]) == ("doc-9", 4, 120, 170)
    assert data["url"] == "https://example.org/law"
    assert data["label_scheme"] == SCHEME_VERSION
    (prediction,) = task["predictions"]
    assert prediction["model_version"] == "m-3"
    assert prediction["score"] == pytest.approx(0.75)
    by_name = {r["from_name"]: r["value"] for r in prediction["result"]}
    assert by_name["labels"] == {"choices": ["penalty"]}
    assert by_name["prison_max_years"] == {"number": 15.0}
    # the pre-annotation parses back like an annotation would
    rows = parse_export(
        [{"id": 1, "data": data, "annotations": [{"id": 5, "result": prediction["result"]}]}]
    ).rows
    assert rows[0]["labels"] == ["penalty"] and rows[0]["prison_max_years"] == 15.0


def test_task_without_predicted_label_preannotates_none() -> None:
    cand = Candidate("d", 0, 0, 10, "Hello all.")
    pred = Prediction(scores=dict.fromkeys(LABELS, 0.1), labels=[], thresholds={})
    result = make_task(cand, pred, "m")["predictions"][0]["result"]
    assert result == [
        {
            "from_name": "labels",
            "to_name": "text",
            "type": "choices",
            "value": {"choices": ["none"]},
        }
    ]


# --- parsing -----------------------------------------------------------------------


def test_parse_export_rows(export_tasks_list: list[dict[str, Any]]) -> None:
    parsed = parse_export(export_tasks_list)
    rows = {r["task_id"]: r for r in parsed.rows}
    assert set(rows) == {"11", "12", "13"}
    pen = rows["11"]
    assert pen["labels"] == ["criminalization", "penalty"]  # scheme order
    assert (pen["prison_min_years"], pen["prison_max_years"]) == (3.0, 12.0)
    assert pen["prison_life"] is False and pen["death_penalty"] is False
    assert rows["12"]["labels"] == ["arrest"] and rows["12"]["prison_life"] is None
    assert rows["13"]["labels"] == []
    assert rows["12"]["annotator"] == "user1"
    assert rows["12"]["annotated_at"].isoformat() == "2026-11-20T10:00:00+00:00"
    assert rows["12"]["start"] == 90 and rows["12"]["doc_id"] == "d1"
    assert all(r["label_scheme"] == SCHEME_VERSION for r in parsed.rows)
    io.to_table("annotations", parsed.rows)  # fits the table schema


def test_cancelled_and_unannotated_tasks_are_counted_not_imported(ls: Any) -> None:
    skipped = ls.annotation(7, ["arrest"]) | {"was_cancelled": True}
    parsed = parse_export(
        [ls.task(1, "A sentence here.", [skipped]), ls.task(2, "Another one.", [])]
    )
    assert parsed.rows == [] and parsed.cancelled == 1 and parsed.unannotated == 1


def test_penalty_figures_without_penalty_label_are_dropped_with_warning(ls: Any) -> None:
    ann = ls.annotation(8, ["arrest"])
    ann["result"].append(
        {
            "from_name": "prison_max_years",
            "to_name": "text",
            "type": "number",
            "value": {"number": 4},
        }
    )
    parsed = parse_export([ls.task(3, "Police held him.", [ann])])
    assert parsed.rows[0]["prison_max_years"] is None
    assert any("task 3" in w for w in parsed.warnings)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda t: t["annotations"][0]["result"][0]["value"].update(choices=["smuggling"]),
            "unknown label",
        ),
        (lambda t: t["data"].update(label_scheme=SCHEME_VERSION + 1), "label scheme"),
        (lambda t: t["data"].pop("label_scheme"), "label_scheme"),
        (lambda t: t["data"].pop("text"), "data.text"),
        (lambda t: t.pop("annotations"), "annotations"),
        (
            lambda t: t["annotations"][0]["result"][0]["value"].update(choices=["none", "arrest"]),
            "'none' chosen together",
        ),
        (lambda t: t["annotations"][0].update(result=[]), "no 'labels' choice"),
        (
            lambda t: t["annotations"][0]["result"].append(
                {"from_name": "sentiment", "value": {"choices": ["x"]}}
            ),
            "unknown control",
        ),
        (lambda t: t["data"].update(start="ten"), "data.start"),
    ],
)
def test_invalid_export_names_the_task_and_imports_nothing(
    tmp_path: Path, export_tasks_list: list[dict[str, Any]], mutate: Any, message: str
) -> None:
    ann_dir = tmp_path / "annotations"
    import_export(_write(tmp_path / "first.json", export_tasks_list), ann_dir)
    before = _snapshot(ann_dir)
    bad = json.loads(json.dumps(export_tasks_list))
    mutate(bad[1])  # task 12
    with pytest.raises(AnnotationError) as err:
        import_export(_write(tmp_path / "second.json", bad), ann_dir)
    assert "task 12" in str(err.value) and message in str(err.value)
    assert "nothing imported" in str(err.value)
    assert _snapshot(ann_dir) == before  # no half import, no new file


def test_min_above_max_is_rejected(ls: Any) -> None:
    task = ls.task(
        5,
        "Punishable by 10 to 2 years.",
        [ls.annotation(9, ["penalty"], prison_min_years=10, prison_max_years=2)],
    )
    with pytest.raises(AnnotationError, match=r"task 5.*prison_min_years"):
        parse_export([task])


def test_truncated_json_file_is_a_clear_error(
    tmp_path: Path, export_tasks_list: list[dict[str, Any]]
) -> None:
    full = json.dumps(export_tasks_list)
    path = tmp_path / "export.json"
    path.write_text(full[: len(full) // 2], encoding="utf-8")
    with pytest.raises(AnnotationError, match=r"export\.json: not valid JSON \(truncated\?\)"):
        import_export(path, tmp_path / "annotations")
    assert not (tmp_path / "annotations").exists()


def test_not_a_list_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(AnnotationError, match="expected a JSON list"):
        parse_export(_write(tmp_path / "x.json", {"tasks": []}))


# --- import ------------------------------------------------------------------------


def test_import_writes_versioned_batch_and_is_idempotent(
    tmp_path: Path, export_tasks_list: list[dict[str, Any]]
) -> None:
    ann_dir = tmp_path / "annotations"
    export = _write(tmp_path / "round-1.json", export_tasks_list)
    first = import_export(export, ann_dir)
    assert first.path == ann_dir / f"round-1-v{VERSIONS['annotations']}.jsonl"
    assert (first.new, first.updated, first.unchanged) == (3, 0, 0)
    content = first.path.read_bytes()
    second = import_export(export, ann_dir)
    assert (second.new, second.updated, second.unchanged) == (0, 0, 3)
    assert first.path.read_bytes() == content
    # the same export under another batch name is not copied again
    third = import_export(export, ann_dir, batch="again")
    assert third.skipped_elsewhere == 3 and not batch_path(ann_dir, "again").exists()
    rows = read_annotations(ann_dir)
    assert sorted(r["task_id"] for r in rows) == ["11", "12", "13"]
    table = annotations_table(ann_dir)
    assert table.num_rows == 3
    assert table.schema.metadata[b"tipnlp.table"] == b"annotations"


def test_reimport_with_changed_annotation_updates_row(
    tmp_path: Path, export_tasks_list: list[dict[str, Any]], ls: Any
) -> None:
    ann_dir = tmp_path / "annotations"
    export = _write(tmp_path / "b.json", export_tasks_list)
    import_export(export, ann_dir)
    export_tasks_list[1]["annotations"][0] = ls.annotation(
        102, ["arrest", "victim_protection"], when="2026-11-21T09:00:00Z"
    )
    report = import_export(_write(export, export_tasks_list), ann_dir)
    assert (report.new, report.updated, report.unchanged) == (0, 1, 2)
    rows = {r["task_id"]: r for r in read_annotations(ann_dir)}
    assert rows["12"]["labels"] == ["victim_protection", "arrest"]
    assert rows["12"]["annotated_at"] == "2026-11-21T09:00:00Z"


def test_two_annotators_give_two_rows(tmp_path: Path, ls: Any) -> None:
    task = ls.task(
        1,
        "The court fined the women for working without permits.",
        [ls.annotation(1, ["victim_penalized"], user=1), ls.annotation(2, ["none"], user=2)],
    )
    report = import_export(_write(tmp_path / "x.json", [task]), tmp_path / "ann")
    assert report.new == 2
    rows = read_annotations(tmp_path / "ann")
    assert {r["annotator"]: r["labels"] for r in rows} == {
        "user1": ["victim_penalized"],
        "user2": [],
    }


def test_candidates_are_scored_in_batches_of_whole_documents() -> None:
    """The model reads each sentence with its whole document, so no batch cuts one."""
    from annotation.conftest import ScriptedTagger  # type: ignore[import-not-found]
    from tipnlp.annotation.export import predict_all

    sizes = {"a": 3, "b": 5, "c": 1, "d": 2}
    cands = [
        Candidate(doc_id=d, sent_id=i, start=0, end=1, text=f"{d}{i}")
        for d, n in sizes.items()
        for i in range(n)
    ]
    batches: list[list[str]] = []

    class Recording(ScriptedTagger):
        def predict(self, items):  # type: ignore[no-untyped-def]
            batches.append([it.doc or "" for it in items])
            return super().predict(items)

    preds = predict_all(Recording(lambda text: {}), cands, batch_size=4)
    assert len(preds) == len(cands)
    # every document's sentences went to the tagger together, keyed by their document
    for d, n in sizes.items():
        assert [b.count(d) for b in batches if d in b] == [n]
    # a batch is cut before a document that would not fit, and a document longer
    # than the batch size is a batch of its own: a, b, c+d
    assert batches == [["a"] * 3, ["b"] * 5, ["c", "d", "d"]]
