"""End to end: train both recipes on a small subset, save, reload, same scores.

Marked ``model``: they load the bundled MiniLM; the fine-tuning test trains 8
steps per phase on 64 sentences written for this test (about a minute on two
CPU cores), the hybrid test embeds and stacks them (seconds).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from tipnlp.labels import LABELS, SCHEME_VERSION
from tipnlp.settings import Settings

pytestmark = [pytest.mark.model, pytest.mark.slow]


@pytest.fixture
def workspace(tmp_path: Path, small_gold: Callable[..., Path]) -> Settings:
    gold = tmp_path / "gold"
    gold.mkdir()
    small_gold(gold / "train.jsonl", 20)
    small_gold(gold / "dev.jsonl", 4, offset=100)
    return Settings(
        gold_dir=gold,
        annotations_dir=tmp_path / "annotations",
        models_dir=tmp_path / "models",
        seed=5,
    )


def test_train_save_reload_same_scores(workspace: Settings) -> None:
    from tipnlp.nlp.tagger import context_of, load_tagger
    from tipnlp.nlp.types import SentenceInput
    from tipnlp.training.train import TrainOptions, train

    opts = TrainOptions(
        name="tiny",
        recipe="finetune",
        max_steps=8,
        limit=64,
        epochs=1,
        build_runtime=False,
        retrain=True,
    )
    seen: list[str] = []
    result = train(workspace, opts, progress=lambda stage, done, total: seen.append(stage))
    d = result.model_dir
    assert d == workspace.models_dir / "tiny"
    for name in (
        "model.safetensors",
        "config.json",
        "thresholds.json",
        "calibration.json",
        "training_args.json",
        "training_data.json",
        "model_card.md",
        "metrics.json",
        "label_scheme.json",
        "baselines/tfidf.pkl",
    ):
        assert (d / name).is_file(), name
    cfg = json.loads((d / "config.json").read_text())
    assert [cfg["id2label"][str(i)] for i in range(len(LABELS))] == list(LABELS)
    assert cfg["problem_type"] == "multi_label_classification"
    th = json.loads((d / "thresholds.json").read_text())["thresholds"]
    assert set(th) == set(LABELS)
    data = json.loads((d / "training_data.json").read_text())
    assert data["sentences"] == 64 and data["label_scheme"] == SCHEME_VERSION
    assert data["files"] == {str(workspace.gold_dir / "train.jsonl"): 64}
    args = json.loads((d / "training_args.json").read_text())
    assert args["max_steps"] == 8 and args["seed"] == 5
    assert {"train-80", "train-all", "encode"} <= set(seen)
    metrics = json.loads((d / "metrics.json").read_text())
    assert set(metrics["dev"]) >= {"tfidf", "model"}
    assert "Intended use" in (d / "model_card.md").read_text()

    # reload from disk: the same logits as the in-memory model gave, via calibration
    tagger = load_tagger(workspace.model_copy(update={"model": "tiny"}))
    items = [
        SentenceInput(text=e.text, title=e.title, prev=e.prev, language=e.language)
        for e in result.probe["items"]
    ]
    assert [context_of(i) is not None for i in items][1:] == [True] * (len(items) - 1)
    from tipnlp.training.calibration import apply_platt

    expected = apply_platt(result.probe["logits"], tagger.calibration)  # type: ignore[attr-defined]
    got = np.array([[p.scores[n] for n in LABELS] for p in tagger.predict(items)])
    assert np.allclose(got, expected, atol=1e-4)

    # an uncovered language goes to the rules, and the prediction says so
    pred = tagger.predict([SentenceInput("A polícia prendeu dois homens.", language="pt")])[0]
    assert pred.tagger == "rules"

    # a second run moves the first model to versions/<version>/, still loadable
    opts2 = TrainOptions(
        name="tiny",
        recipe="finetune",
        max_steps=4,
        limit=64,
        epochs=1,
        build_runtime=False,
        evaluate_dev=False,
        baselines=False,
        seed=6,
    )
    second = train(workspace, opts2)
    assert second.previous_version == result.version
    old_dir = d / "versions" / result.version
    assert (old_dir / "model.safetensors").is_file()
    old = load_tagger(workspace, model_dir=old_dir)
    again = np.array([[p.scores[n] for n in LABELS] for p in old.predict(items)])
    assert np.allclose(again, expected, atol=1e-4)


def test_hybrid_trains_saves_reloads_and_learns(workspace: Settings) -> None:
    """The default recipe: files, cross-validated figures, same scores after reload."""
    from tipnlp.nlp.hybrid import HybridTagger
    from tipnlp.nlp.tagger import load_tagger
    from tipnlp.nlp.types import SentenceInput
    from tipnlp.training.calibration import apply_platt
    from tipnlp.training.train import TrainOptions, train

    seen: list[str] = []
    result = train(
        workspace,
        TrainOptions(name="hyb", build_runtime=False),
        progress=lambda stage, done, total: seen.append(stage),
    )
    d = result.model_dir
    for name in (
        "model.safetensors",
        "config.json",
        "tokenizer.json",
        "hybrid.json",
        "hybrid.npz",
        "baselines/tfidf.pkl",
        "baselines/tfidf.npz",
        "thresholds.json",
        "calibration.json",
        "metrics.json",
        "model_card.md",
    ):
        assert (d / name).is_file(), name
    assert {"encode", "cross-fit", "fit-all"} <= set(seen)
    assert {"tune-encoder 1/3", "tune-encoder 2/3", "tune-encoder 3/3"} <= set(seen)
    args = json.loads((d / "training_args.json").read_text())
    assert args["recipe"] == "hybrid"
    assert args["encoder_epochs"] == 3.0 and args["frozen_layers"] == 0
    assert json.loads((d / "hybrid.json").read_text())["encoder"]["fine_tuned"] is True
    assert "fine-tuned for 3 epochs" in (d / "model_card.md").read_text()
    # the saved encoder is the tuned one, not the base model
    from safetensors.numpy import load_file
    from transformers import AutoModel

    from tipnlp.training.train import resolve_base_model

    saved = load_file(str(d / "model.safetensors"))
    base = AutoModel.from_pretrained(resolve_base_model(workspace.base_model)).state_dict()
    name = next(k for k in saved if k.endswith("encoder.layer.5.output.dense.weight"))
    assert not np.allclose(saved[name], base[name.removeprefix("bert.")].numpy())
    views = result.heldout["views_macro_f1"]
    assert set(views) == {"rules", "tfidf", "embedding_heads", "stack"}
    assert "Recipe `hybrid`" in (d / "model_card.md").read_text()
    assert set(json.loads((d / "metrics.json").read_text())["dev"]) >= {"rules", "tfidf", "model"}

    # which tagger decides each language was chosen out of fold and is what tagging uses
    routing = result.heldout["languages"]
    assert routing and all(v["tagger"] in ("model", "rules") for v in routing.values())
    data = json.loads((d / "training_data.json").read_text())
    assert data["model_languages"] == sorted(
        k for k, v in routing.items() if v["tagger"] == "model"
    )
    assert "Tagged by the model:" in (d / "model_card.md").read_text()

    tagger = load_tagger(workspace.model_copy(update={"model": "hyb"}))
    assert isinstance(tagger, HybridTagger)
    assert tagger.languages == set(data["model_languages"])
    assert tagger.document_view
    items = [
        SentenceInput(text=e.text, title=e.title, prev=e.prev, language=e.language, doc=e.doc_id)
        for e in result.probe["items"]
    ]
    expected = apply_platt(result.probe["logits"], tagger.calibration)
    got = np.array([[p.scores[n] for n in LABELS] for p in tagger.predict(items)])
    assert np.allclose(got, expected, atol=1e-4)

    # a sentence is read with its whole document: another document in the same
    # batch changes nothing, the same sentence in another document does
    def scores(batch: list[SentenceInput]) -> np.ndarray:
        return np.array([[p.scores[n] for n in LABELS] for p in tagger.predict(batch)])

    other = [SentenceInput(text=e.text, language="en", doc="other") for e in result.probe["items"]]
    assert np.allclose(scores(items + other[:3])[: len(items)], got, atol=1e-6)
    first = SentenceInput(text=items[0].text, language=items[0].language, doc="other")
    assert not np.allclose(scores([first]), scores([first, *other[3:]])[:1], atol=1e-6)

    # it learnt the synthetic pattern on sentences it never saw
    new = [
        SentenceInput("Report 900", language="en"),
        SentenceInput(
            "Police arrested 5 suspected traffickers after a raid on a farm.",
            title="Report 900",
            prev="Report 900",
            language="en",
        ),
        SentenceInput(
            "The council discussed road repairs in district 900.",
            title="Report 900",
            prev="Police arrested 5 suspected traffickers after a raid on a farm.",
            language="en",
        ),
    ]
    preds = tagger.predict(new)
    assert "arrest" in preds[1].labels
    assert preds[2].labels == []
    assert preds[1].tagger == "model" and preds[1].sources["arrest"] == "model"
    # an uncovered language goes to the rules
    pt = tagger.predict([SentenceInput("A polícia prendeu dois homens.", language="pt")])[0]
    assert pt.tagger == "rules"

    # a folder from before the TF-IDF arrays (pickle only) tags the same
    (d / "baselines" / "tfidf.npz").unlink()
    old = load_tagger(workspace.model_copy(update={"model": "hyb"}))
    old_scores = np.array([[p.scores[n] for n in LABELS] for p in old.predict(items)])
    assert np.allclose(old_scores, got, atol=1e-12)

    # a folder of feature version 1 (heads over sentence, previous sentence and
    # title only) still loads and tags, without the document view
    import shutil

    from tipnlp.errors import ModelError
    from tipnlp.nlp.hybrid import HYBRID_FILE, WEIGHTS_FILE, read_weights

    v1 = d.parent / "hyb-v1"
    shutil.copytree(d, v1)
    meta = json.loads((v1 / HYBRID_FILE).read_text())
    (v1 / HYBRID_FILE).write_text(json.dumps({**meta, "feature_version": 1}))
    w = read_weights(v1)
    dim = w["head_w"].shape[1] // 4
    np.savez(v1 / WEIGHTS_FILE, **{**w, "head_w": w["head_w"][:, : 3 * dim]})
    v1_tagger = load_tagger(workspace.model_copy(update={"model": "hyb-v1"}))
    assert isinstance(v1_tagger, HybridTagger) and not v1_tagger.document_view
    v1_scores = np.array([[p.scores[n] for n in LABELS] for p in v1_tagger.predict(items)])
    loose = [
        SentenceInput(text=i.text, title=i.title, prev=i.prev, language=i.language) for i in items
    ]
    v1_loose = np.array([[p.scores[n] for n in LABELS] for p in v1_tagger.predict(loose)])
    assert v1_scores.shape == got.shape and np.array_equal(v1_scores, v1_loose)
    (v1 / HYBRID_FILE).write_text(json.dumps({**meta, "feature_version": 99}))
    with pytest.raises(ModelError, match="feature version 99"):
        load_tagger(workspace.model_copy(update={"model": "hyb-v1"}))

    # a damaged weights file is a clear error naming it, not a crash
    (d / "hybrid.npz").write_bytes(b"not an npz")
    with pytest.raises(ModelError, match=r"hybrid\.npz"):
        load_tagger(workspace.model_copy(update={"model": "hyb"}))


def test_tune_encoder_learns_deterministically_and_zero_epochs_is_frozen() -> None:
    """``tune_encoder``: weights move, the same seed gives the same weights, 0 epochs none."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    from tipnlp.settings import get_settings
    from tipnlp.training.hybrid import tune_encoder
    from tipnlp.training.train import resolve_base_model

    path = resolve_base_model(get_settings().base_model)
    tokenizer = AutoTokenizer.from_pretrained(path)
    texts = [f"Police arrested {i} traffickers in town {i}." for i in range(8)]
    texts += [f"The council repaired road number {i} today." for i in range(8)]
    y = np.zeros((16, len(LABELS)), dtype=int)
    y[:8, LABELS.index("arrest")] = 1

    def tuned(epochs: float) -> dict[str, torch.Tensor]:
        model = AutoModel.from_pretrained(path)
        out = tune_encoder(
            model,
            tokenizer,
            texts,
            y,
            epochs=epochs,
            lr=5e-5,
            seed=3,
            max_length=32,
            batch_size=8,
        )
        assert not out.training  # handed back in inference mode
        return {k: v.clone() for k, v in out.state_dict().items()}

    base = AutoModel.from_pretrained(path).state_dict()
    key = "encoder.layer.5.output.dense.weight"
    assert torch.equal(tuned(0)[key], base[key])
    first, second = tuned(2), tuned(2)
    assert not torch.allclose(first[key], base[key])
    assert torch.equal(first[key], second[key])
