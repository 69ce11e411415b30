"""The annotation loop's Prefect flows for real: import + retrain + evaluate, export, re-import.

One test runs the whole loop in a tiny workspace (``TIPNLP_*`` settings point at
temp folders) on one Prefect ephemeral server: import a Label Studio export and
train the hybrid on ~60 sentences, export tasks from a tagged output folder with
that model, annotate the exported tasks and import them (the first model moves
to ``versions/``), then a malformed export fails before anything is written, and
an ``annotations_dir`` training would not read is refused unless ``retrain=False``.
The ONNX runtime build at the end of training (export, int8, a speed benchmark;
about 17 s per model here, tested in ``tests/nlp/test_runtime.py``) is replaced by
a recorder, so the test checks it is asked for without paying for it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tipnlp.labels import LABELS

pytestmark = [pytest.mark.flow, pytest.mark.slow, pytest.mark.usefixtures("prefect_home")]

MODEL = "loop"


#: Scraped news to sample tasks from (tagged with the fake components: one
#: sentence per '.').  The barn sentence is already annotated in the first batch.
NEWS = [
    (
        "n1",
        "Workers freed at a quarry",
        "Labour inspectors freed eleven men held at a quarry without pay. "
        "Officers detained two farm owners after finding workers locked in a barn. "
        "The men were taken to a shelter run by a charity.",
    ),
    (
        "n2",
        "New law on recruitment fees",
        "Parliament passed a bill that bans recruitment fees for migrant workers. "
        "Agencies that charge fees lose their licence for 5 years. "
        "The minister said the bill follows a regional agreement.",
    ),
    (
        "n3",
        "Court hears exploitation case",
        "A court heard that three women were forced to beg in the city centre. "
        "The prosecutor asked for 8 years in prison for the organiser. "
        "The hearing continues next week.",
    ),
]


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def _version(model_dir: Path) -> str:
    return str(json.loads((model_dir / "training_args.json").read_text())["version"])


@pytest.fixture
def runtime_builds(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Model folders training asked an ONNX runtime for (the build itself is skipped)."""
    import tipnlp.nlp.runtime as runtime

    calls: list[Path] = []

    def record(model_dir: Path, settings: object) -> dict[str, Any]:
        calls.append(Path(model_dir))
        return {}

    monkeypatch.setattr(runtime, "build_runtime", record)
    return calls


@pytest.fixture
def workspace(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fake_components: object,
    small_gold: Callable[..., Path],
) -> dict[str, Path]:
    """Gold train/dev, empty annotations/ and models/, a tagged output folder; env set."""
    from tipnlp.settings import Settings
    from tipnlp.tagging import tag_jsonl

    gold = tmp_path / "gold"
    gold.mkdir()
    small_gold(gold / "train.jsonl", 14)  # 57 sentences
    small_gold(gold / "dev.jsonl", 4, offset=100)
    docs = tmp_path / "news.jsonl"
    docs.write_text(
        "\n".join(
            json.dumps(
                {
                    "doc_id": d,
                    "title": t,
                    "text": x,
                    "url": f"https://example.org/{d}",
                    "language": "en",
                    "kind": "news",
                }
            )
            for d, t, x in NEWS
        )
        + "\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    tag_jsonl(docs, out, Settings(), comps=fake_components)  # type: ignore[arg-type]
    ws = {
        "root": tmp_path,
        "gold": gold,
        "annotations": tmp_path / "annotations",
        "models": tmp_path / "models",
        "out": out,
    }
    monkeypatch.setenv("TIPNLP_GOLD_DIR", str(gold))
    monkeypatch.setenv("TIPNLP_ANNOTATIONS_DIR", str(ws["annotations"]))
    monkeypatch.setenv("TIPNLP_MODELS_DIR", str(ws["models"]))
    monkeypatch.setenv("TIPNLP_SEED", "5")
    return ws


def _check_trained(result: dict[str, Any], model_dir: Path) -> None:
    """A hybrid model was written and evaluated: files, and rules/tfidf/model dev F1."""
    for name in ("model.safetensors", "hybrid.json", "metrics.json", "training_args.json"):
        assert (model_dir / name).is_file(), name
    assert json.loads((model_dir / "training_args.json").read_text())["recipe"] == "hybrid"
    assert set(result["dev"]) == {"rules", "tfidf", "model"}
    for figures in result["dev"].values():
        assert 0.0 <= figures["macro_f1"] <= 1.0
        assert 0.0 <= figures["any_label_f1"] <= 1.0
    metrics = json.loads((model_dir / "metrics.json").read_text())
    assert set(metrics["dev"]) == {"rules", "tfidf", "model"}
    assert metrics["dev"]["model"]["macro_f1"] == result["dev"]["model"]["macro_f1"]
    assert metrics["version"] == _version(model_dir)


def test_import_retrain_export_reimport_and_bad_export(
    workspace: dict[str, Path],
    runtime_builds: list[Path],
    export_tasks_list: list[dict[str, Any]],
    ls: Any,
) -> None:
    from pipelines.annotate import annotate_export_flow, annotate_import_flow
    from tipnlp.errors import AnnotationError

    ann, model_dir = workspace["annotations"], workspace["models"] / MODEL
    dev = str(workspace["gold"] / "dev.jsonl")

    # 1. import a first batch (3 tasks, one annotator each), train + evaluate
    for t in export_tasks_list:
        t["data"]["doc_id"] = "ls-1"
    first = workspace["root"] / "round1.json"
    first.write_text(json.dumps(export_tasks_list), encoding="utf-8")
    r1 = annotate_import_flow(export=str(first), name=MODEL, gold=dev)
    assert r1["batch"] == str(ann / "round1-v1.jsonl")
    rows1 = _lines(ann / "round1-v1.jsonl")
    assert [(r["task_id"], r["labels"]) for r in rows1] == [
        ("11", ["criminalization", "penalty"]),
        ("12", ["arrest"]),
        ("13", []),
    ]
    assert rows1[0]["prison_max_years"] == 12
    _check_trained(r1, model_dir)
    v1 = _version(model_dir)
    seen = json.loads((model_dir / "training_data.json").read_text())["files"]
    assert seen == {str(workspace["gold"] / "train.jsonl"): 57, str(ann / "round1-v1.jsonl"): 3}
    assert not (model_dir / "versions").exists()
    assert runtime_builds == [model_dir]

    # 2. export tasks from the tagged output folder with that model
    tasks_path = workspace["root"] / "tasks.json"
    got = annotate_export_flow(
        from_dir=str(workspace["out"]), out=str(tasks_path), n=5, model=MODEL
    )
    assert got == str(tasks_path)
    tasks = json.loads(tasks_path.read_text(encoding="utf-8"))
    assert isinstance(tasks, list) and len(tasks) == 5
    for task in tasks:
        assert task["data"]["doc_id"] in {"n1", "n2", "n3"}
        (pred,) = task["predictions"]
        assert pred["model_version"] == f"{MODEL}@{v1}"
        assert 0.0 <= pred["score"] <= 1.0
        (labels,) = [r for r in pred["result"] if r["from_name"] == "labels"]
        assert set(labels["value"]["choices"]) <= {*LABELS, "none"}
    texts = {t["data"]["text"] for t in tasks}
    assert len(texts) == 5
    # already annotated in round 1 (same text): never sent again
    assert not any(t.startswith("Officers detained") for t in texts)
    assert (workspace["root"] / "tasks.config.xml").read_text().startswith("<View>")

    # 3. annotate the exported tasks as Label Studio would (ids added), import, retrain;
    #    no gold given: the dev file defaults to the settings' gold_dir
    done = []
    for i, task in enumerate(tasks):
        text = task["data"]["text"]
        labels = ["prosecution"] if ("court" in text or "prosecutor" in text) else ["none"]
        done.append({**task, "id": 200 + i, "annotations": [ls.annotation(300 + i, labels)]})
    second = workspace["root"] / "round2.json"
    second.write_text(json.dumps(done), encoding="utf-8")
    r2 = annotate_import_flow(export=str(second), name=MODEL)
    assert r2["batch"] == str(ann / "round2-v1.jsonl")
    rows2 = _lines(ann / "round2-v1.jsonl")
    assert sorted(r["text"] for r in rows2) == sorted(texts)
    assert _lines(ann / "round1-v1.jsonl") == rows1
    _check_trained(r2, model_dir)
    v2 = _version(model_dir)
    assert v2 != v1
    old = model_dir / "versions" / v1
    assert (old / "model.safetensors").is_file() and (old / "hybrid.json").is_file()
    assert _version(old) == v1
    seen = json.loads((model_dir / "training_data.json").read_text())["files"]
    assert seen[str(ann / "round2-v1.jsonl")] == 5
    assert runtime_builds == [model_dir, model_dir]
    assert json.loads((model_dir / "metrics.json").read_text())["dev_gold"] == dev

    # 4. a malformed export (unknown label in one task) fails, nothing imported or trained
    bad_tasks = [
        ls.task(
            401, "Two brothers were charged with forced labour.", [ls.annotation(1, ["arrest"])]
        ),
        ls.task(402, "Guards kept the passports.", [ls.annotation(2, ["kidnapping"])]),
    ]
    bad = workspace["root"] / "round3.json"
    bad.write_text(json.dumps(bad_tasks), encoding="utf-8")
    before, models_before = _snapshot(ann), _snapshot(model_dir)
    with pytest.raises(AnnotationError, match=r"402.*kidnapping|kidnapping.*402") as err:
        annotate_import_flow(export=str(bad), name=MODEL, gold=dev)
    assert "nothing" in str(err.value)
    assert _snapshot(ann) == before
    assert _snapshot(model_dir) == models_before
    assert len(runtime_builds) == 2

    # 5. annotations_dir elsewhere: training would not see it, so retrain refuses it
    #    up front; import-only (retrain=False) writes there and trains nothing
    other = workspace["root"] / "other-annotations"
    with pytest.raises(AnnotationError, match="TIPNLP_ANNOTATIONS_DIR"):
        annotate_import_flow(export=str(first), annotations_dir=str(other), name=MODEL)
    assert not other.exists()
    r3 = annotate_import_flow(export=str(first), annotations_dir=str(other), retrain=False)
    assert r3 == {"batch": str(other / "round1-v1.jsonl")}
    assert _lines(other / "round1-v1.jsonl") == rows1
    assert _snapshot(ann) == before
    assert _snapshot(model_dir) == models_before
