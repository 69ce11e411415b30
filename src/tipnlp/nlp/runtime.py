"""Fast inference for the fine-tuned classifier: ONNX Runtime fp32 and int8.

The tagger spends almost all its time in the encoder.  On a laptop CPU the
same MiniLM runs several times faster through ONNX Runtime with dynamic
int8 weights (VNNI/AVX2 integer kernels) than through PyTorch, so a
trained model folder gets three interchangeable runtimes:

* ``torch``      the PyTorch model itself (``tipnlp.nlp.tagger.TorchBackend``),
* ``onnx``       ``onnx/model.onnx``: the exported graph (standard ONNX ops),
* ``onnx-int8``  ``onnx/model.int8.onnx``: the same with int8 weights.

:func:`build_runtime` (called at the end of training) exports both ONNX
files, measures speed and dev macro-F1 of every runtime and writes
``runtime.json`` naming the default: the fastest one whose dev macro-F1 stays
within :data:`F1_TOLERANCE` of the PyTorch model's.  ``load_tagger`` reads it
when ``settings.tag.backend`` is ``auto``.

Why these choices (measured, see ``docs/speed.md``):

* The TorchScript exporter (``dynamo=False``) on the model loaded with
  eager attention gives the fastest graph; the dynamo exporter's graph of
  the SDPA model ran at about half the speed in ONNX Runtime.
* The export is kept to standard ONNX ops (no offline fusion with
  onnxruntime's transformer optimizer): ORT fuses at load time anyway,
  fp32 speed was the same within noise, and the int8 model quantized from
  the plain graph was 10-20% faster than one quantized from the fused graph.
* ``QInt8`` (signed) weights use the u8s8 VNNI/AVX2 kernels; ``QUInt8``
  weights were about half as fast on the same machine.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import platform
import statistics
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tipnlp.errors import ModelError
from tipnlp.io import atomic_path, read_jsonl, write_json_atomic
from tipnlp.nlp.hybrid import is_hybrid
from tipnlp.nlp.tagger import sorted_batches
from tipnlp.settings import Settings

# ONNX Runtime reads this at import; the project never sends telemetry.
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

#: Sub-folder of a model folder holding the ONNX files.
ONNX_DIR = "onnx"
#: File names of the two ONNX variants inside :data:`ONNX_DIR`.
ONNX_FILES = {"fp32": "model.onnx", "int8": "model.int8.onnx"}
#: Runtime names as used by ``settings.tag.backend`` and ``runtime.json``.
BACKEND_NAMES = ("torch", "onnx", "onnx-int8")
#: File written by :func:`build_runtime` next to the weights.
RUNTIME_FILE = "runtime.json"
#: A faster runtime may lose at most this much dev macro-F1 against PyTorch.
F1_TOLERANCE = 0.01
#: ONNX opset of the export (17 has LayerNormalization; ORT 1.18+ runs it).
OPSET = 17
#: Graph input names, in the order the classifier's ``forward`` takes them.
INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")
#: Largest fp32 ONNX vs PyTorch logit difference accepted at export.
EXPORT_ATOL = 1e-3

# Sentences written for this project: export tracing and the speed sample
# when no gold file is at hand.
_SAMPLE_PAIRS: tuple[tuple[str, str | None], ...] = (
    (
        "Whoever recruits a person by force for forced labour shall be imprisoned for ten years.",
        "Offences. A person commits an offence under this section.",
    ),
    ("Police freed twelve workers from a fishing boat on Monday.", None),
    ("The shelter closed in March for lack of funding.", "Report on victim services"),
    ("Article 4", None),
    (
        "Victims shall not be punished for immigration offences they were compelled to commit "
        "as a direct result of having been trafficked, and shall be given a recovery period.",
        "Protection of victims.",
    ),
    ("Customs seized two tonnes of cocaine at the port.", "Drug haul"),
)


def cpu_threads() -> int:
    """Cores this process may run on (cgroup/affinity aware where possible)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - non-Linux
        return max(1, os.cpu_count() or 1)


def onnx_path(model_dir: Path, variant: str = "int8") -> Path:
    """Where the ``variant`` (``fp32`` or ``int8``) ONNX file of a model lives."""
    if variant not in ONNX_FILES:
        raise ValueError(f"ONNX variant must be one of {sorted(ONNX_FILES)}, not {variant!r}")
    return Path(model_dir) / ONNX_DIR / ONNX_FILES[variant]


# --------------------------------------------------------------------------- tokenization


@dataclass
class Encoded:
    """Token ids of a list of (sentence, context) inputs, unpadded, in input order."""

    input_ids: list[list[int]]
    type_ids: list[list[int]]
    pad_id: int

    def __len__(self) -> int:
        """Number of encoded inputs."""
        return len(self.input_ids)


class PairEncoder:
    """Tokenizes sentences with optional context exactly like the HF tokenizer.

    It uses the Rust ``tokenizers`` library straight from ``tokenizer.json``
    (no ``transformers``/``torch`` import, so the ONNX path stays light) and
    mixes single sentences and sentence pairs in one call, which the
    ``transformers`` wrapper cannot.  Truncation is ``longest_first`` to
    ``max_length`` tokens, the ``transformers`` default for ``truncation=True``.
    """

    def __init__(self, model_dir: Path, max_length: int = 128) -> None:
        """Load ``tokenizer.json`` from ``model_dir``; raise ``ModelError`` if absent."""
        from tokenizers import Tokenizer

        path = Path(model_dir) / "tokenizer.json"
        if not path.is_file():
            raise ModelError(f"{model_dir}: no tokenizer.json (a fast tokenizer is required)")
        self.max_length = max_length
        self._tok = Tokenizer.from_file(str(path))
        self._tok.no_padding()
        self._tok.enable_truncation(max_length=max_length, strategy="longest_first")
        pad_id = self._tok.token_to_id(_pad_token(model_dir))
        self.pad_id = 0 if pad_id is None else int(pad_id)

    def encode(self, texts: Sequence[str], pairs: Sequence[str | None] | None = None) -> Encoded:
        """Encode ``texts`` (each with ``pairs[i]`` as second segment when not None)."""
        if pairs is not None and len(pairs) != len(texts):
            raise ValueError(f"{len(texts)} texts but {len(pairs)} context pairs")
        inputs: list[Any] = [
            t if (pairs is None or pairs[i] is None) else (t, pairs[i]) for i, t in enumerate(texts)
        ]
        encs = self._tok.encode_batch(inputs) if inputs else []
        return Encoded(
            input_ids=[e.ids for e in encs],
            type_ids=[e.type_ids for e in encs],
            pad_id=self.pad_id,
        )


def _pad_token(model_dir: Path) -> str:
    """The tokenizer's pad token from ``tokenizer_config.json``/special tokens, or [PAD]."""
    for name in ("tokenizer_config.json", "special_tokens_map.json"):
        p = Path(model_dir) / name
        if p.is_file():
            with contextlib.suppress(ValueError, OSError):
                tok = json.loads(p.read_text(encoding="utf-8")).get("pad_token")
                if isinstance(tok, dict):
                    tok = tok.get("content")
                if isinstance(tok, str):
                    return tok
    return "[PAD]"


def pad_batch(enc: Encoded, idx: np.ndarray) -> dict[str, np.ndarray]:
    """Dense int64 ``input_ids``/``attention_mask``/``token_type_ids`` for rows ``idx``."""
    width = max(len(enc.input_ids[i]) for i in idx)
    ids = np.full((len(idx), width), enc.pad_id, dtype=np.int64)
    mask = np.zeros((len(idx), width), dtype=np.int64)
    types = np.zeros((len(idx), width), dtype=np.int64)
    for row, i in enumerate(idx):
        n = len(enc.input_ids[i])
        ids[row, :n] = enc.input_ids[i]
        mask[row, :n] = 1
        types[row, :n] = enc.type_ids[i]
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}


def run_sorted(
    enc: Encoded,
    batch_size: int,
    num_labels: int,
    forward: Callable[[dict[str, np.ndarray]], np.ndarray],
) -> np.ndarray:
    """Run ``forward`` over length-sorted padded batches; rows come back in input order."""
    out = np.zeros((len(enc), num_labels), dtype=np.float32)
    for idx in sorted_batches([len(x) for x in enc.input_ids], batch_size):
        out[idx] = forward(pad_batch(enc, idx))
    return out


# --------------------------------------------------------------------------- ONNX backend


class OnnxBackend:
    """``EncoderBackend`` running ``onnx/model[.int8].onnx`` with ONNX Runtime on CPU.

    Session options: ``intra_op`` threads = ``threads`` (0: every core this
    process may use), one inter-op thread, sequential execution (a BERT graph
    is a chain, parallel execution only adds scheduling), all graph
    optimizations.  Inputs are sorted by token length into batches with
    dynamic padding and the logits restored to input order.
    """

    def __init__(
        self,
        model_dir: Path,
        variant: str = "int8",
        threads: int = 0,
        batch_size: int = 64,
        max_length: int = 128,
        spin: bool = True,
    ) -> None:
        """Open the session; raise ``ModelError`` naming the file if it is missing or bad.

        ``spin`` lets idle inference threads spin-wait for work (ONNX
        Runtime's default): ~5% faster on an idle machine, but when other
        processes want the cores the spinning threads hold them back (25%
        slower with one competing process, docs/speed.md).
        """
        import onnxruntime as ort

        self.model_dir = Path(model_dir)
        self.variant = variant
        self.name = "onnx-int8" if variant == "int8" else "onnx"
        self.batch_size = batch_size
        path = onnx_path(self.model_dir, variant)
        if not path.is_file():
            raise ModelError(
                f"{path}: missing; build it with tipnlp.nlp.runtime.build_runtime "
                "(run at the end of `tipnlp train`)"
            )
        self.threads = threads if threads > 0 else cpu_threads()
        so = ort.SessionOptions()
        so.intra_op_num_threads = self.threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Memory patterns plan (and keep) memory per input shape; length-sorted,
        # dynamically padded batches bring new shapes with every part, and the
        # plans fragment the arena: +24.6% peak RSS on 10x the input with them,
        # +0.2% without, same logits, no measurable speed cost (docs/speed.md).
        so.enable_mem_pattern = False
        so.log_severity_level = 3
        so.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
        try:
            self._session = ort.InferenceSession(
                str(path), sess_options=so, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise ModelError(f"{path}: ONNX Runtime cannot load it ({exc})") from exc
        self._inputs = [i.name for i in self._session.get_inputs()]
        width = self._session.get_outputs()[0].shape[-1]
        # A pooled encoder graph (hybrid model) declares its embedding width.
        self.num_labels = width if isinstance(width, int) else _num_labels(self.model_dir)
        self.encoder = PairEncoder(self.model_dir, max_length=max_length)

    def logits(self, texts: Sequence[str], pairs: Sequence[str | None] | None = None) -> Any:
        """Logits ``(len(texts), num_labels)`` as float32, rows in input order."""
        enc = self.encoder.encode(texts, pairs)
        return run_sorted(enc, self.batch_size, self.num_labels, self._forward)

    def _forward(self, batch: dict[str, np.ndarray]) -> np.ndarray:
        """One session run on a padded batch (only the inputs the graph declares)."""
        feed = {k: v for k, v in batch.items() if k in self._inputs}
        return np.asarray(self._session.run(["logits"], feed)[0], dtype=np.float32)


def _num_labels(model_dir: Path) -> int:
    """``num_labels`` of a model folder's ``config.json`` (``id2label`` size)."""
    p = Path(model_dir) / "config.json"
    try:
        cfg = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"{p}: cannot read model config ({exc})") from exc
    id2label = cfg.get("id2label")
    if isinstance(id2label, dict) and id2label:
        return len(id2label)
    return int(cfg.get("num_labels", 2))


# --------------------------------------------------------------------------- export


def export_onnx(model_dir: Path, *, opset: int = OPSET) -> Path:
    """Export the fine-tuned classifier in ``model_dir`` to ``onnx/model.onnx``.

    Batch and sequence axes are dynamic.  The model is loaded with eager
    attention (plain MatMul/Softmax ops that ORT fuses and int8 quantization
    handles well); the graph is checked against PyTorch on a few sentences
    (``ModelError`` above :data:`EXPORT_ATOL`) and written atomically.  Same
    weights, same file: the export is deterministic.
    """
    import torch
    from transformers import AutoModel, AutoModelForSequenceClassification

    model_dir = Path(model_dir)
    if not (model_dir / "config.json").is_file():
        raise ModelError(f"{model_dir}: not a model folder (no config.json)")
    target = onnx_path(model_dir, "fp32")
    pooled = is_hybrid(model_dir)
    loader = AutoModel if pooled else AutoModelForSequenceClassification
    try:
        model = loader.from_pretrained(str(model_dir), attn_implementation="eager").eval()
    except Exception as exc:  # transformers raises many kinds for a bad folder
        raise ModelError(f"{model_dir}: cannot load the classifier ({exc})") from exc
    model.float()
    if pooled:
        model = _PooledEncoder(model)
    encoder = PairEncoder(model_dir, max_length=64)
    texts = [t for t, _ in _SAMPLE_PAIRS]
    pairs = [p for _, p in _SAMPLE_PAIRS]
    enc = encoder.encode(texts, pairs)
    sample = pad_batch(enc, np.arange(len(enc)))
    names = [n for n in INPUT_NAMES if n in _forward_args(model)]
    args = tuple(torch.from_numpy(sample[n]) for n in names)
    axes = {n: {0: "batch", 1: "sequence"} for n in names}
    axes["logits"] = {0: "batch"}
    with torch.inference_mode():
        result = model(**dict(zip(names, args, strict=True)))
        expected = getattr(result, "logits", result).numpy()

    with atomic_path(target) as raw, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            args,
            str(raw),
            input_names=names,
            output_names=["logits"],
            dynamic_axes=axes,
            opset_version=opset,
            do_constant_folding=True,
            dynamo=False,
        )
        got = _ort_logits(raw, {n: sample[n] for n in names})
        diff = float(np.abs(got - expected).max())
        if not math.isfinite(diff) or diff > EXPORT_ATOL:
            raise ModelError(
                f"{target}: exported graph differs from PyTorch by {diff:.2e} (> {EXPORT_ATOL})"
            )
    return target


def _PooledEncoder(encoder: Any) -> Any:
    """Wrap an encoder so its forward returns the mean-pooled embeddings.

    The ONNX graph of a hybrid model is then the same shape of thing as a
    classifier's (one float matrix, exported under the name ``logits``), and
    every backend and check works unchanged.
    """
    import torch

    from tipnlp.nlp.tagger import mean_pool

    class Pooled(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(
            self,
            input_ids: Any,
            attention_mask: Any,
            token_type_ids: Any = None,
        ) -> Any:
            out = self.inner(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            )
            return mean_pool(out.last_hidden_state, attention_mask)

    return Pooled(encoder).eval()


def _forward_args(model: Any) -> set[str]:
    """Names of the inputs ``model.forward`` accepts (some models lack token types)."""
    import inspect

    return set(inspect.signature(model.forward).parameters)


def _ort_logits(path: Path, feed: dict[str, np.ndarray], threads: int = 1) -> np.ndarray:
    """Run an ONNX file once (used to check exports)."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.log_severity_level = 3
    sess = ort.InferenceSession(str(path), sess_options=so, providers=["CPUExecutionProvider"])
    return np.asarray(sess.run(["logits"], feed)[0], dtype=np.float32)


def quantize_int8(onnx_file: Path, *, weight_type: str = "qint8", per_channel: bool = True) -> Path:
    """Dynamic int8 quantization of ``onnx_file`` to ``model.int8.onnx`` beside it.

    Weights of MatMul/Attention ops become int8 once; activations are
    quantized on the fly per batch, so no calibration data is needed.
    ``weight_type`` is ``qint8`` (default: the faster on AVX2/VNNI CPUs) or
    ``quint8``.  ``per_channel`` scales (one per output column) cost no
    speed and cut the mean logit error against PyTorch about threefold.
    """
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    onnx_file = Path(onnx_file)
    if not onnx_file.is_file():
        raise ModelError(f"{onnx_file}: missing; export the model first")
    types = {"qint8": QuantType.QInt8, "quint8": QuantType.QUInt8}
    if weight_type not in types:
        raise ValueError(f"weight_type must be one of {sorted(types)}, not {weight_type!r}")
    target = onnx_file.with_name(ONNX_FILES["int8"])
    with atomic_path(target) as tmp, _quiet_root_log("Please consider to run pre-processing"):
        quantize_dynamic(
            model_input=str(onnx_file),
            model_output=str(tmp),
            weight_type=types[weight_type],
            per_channel=per_channel,
            # Should a graph hold contrib ops without shape inference,
            # their outputs are float.
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )
    return target


@contextlib.contextmanager
def _quiet_root_log(prefix: str) -> Iterator[None]:
    """Drop root-logger records starting with ``prefix`` while the block runs.

    ``quantize_dynamic`` logs an advice to pre-process the model on the root
    logger on every call; measured here, pre-processing changed nothing, so
    the advice would only be noise in ``tipnlp train`` output.
    """

    def keep(record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(prefix)

    root = logging.getLogger()
    root.addFilter(keep)
    try:
        yield
    finally:
        root.removeFilter(keep)


# --------------------------------------------------------------------------- measuring


def measure_speeds(
    backends: dict[str, Any],
    texts: Sequence[str],
    pairs: Sequence[str | None] | None,
    runs: int = 3,
) -> dict[str, float]:
    """Median sentences per second of each backend's ``logits`` over ``runs`` passes.

    Passes are interleaved (round robin over the backends) so that a burst
    of load from another process slows all runtimes alike instead of
    penalising whichever happened to run then.  Each backend first gets an
    untimed warm-up call: the first run of a session pays for memory arenas
    and kernel selection.
    """
    if not texts:
        return dict.fromkeys(backends, 0.0)
    warm = min(len(texts), 32)
    for backend in backends.values():
        backend.logits(texts[:warm], None if pairs is None else pairs[:warm])
    rates: dict[str, list[float]] = {name: [] for name in backends}
    for _ in range(max(1, runs)):
        for name, backend in backends.items():
            t0 = time.perf_counter()
            backend.logits(texts, pairs)
            rates[name].append(len(texts) / max(time.perf_counter() - t0, 1e-9))
    return {name: float(statistics.median(r)) for name, r in rates.items()}


def gold_sentences(
    gold_files: Sequence[Path], use_context: bool = True
) -> tuple[list[str], list[str | None]]:
    """All gold sentences (cut by their offsets) as the tagger feeds them to the model.

    The sentence is whitespace-normalised and its context is the tagger's
    ``format_context`` of the document title (first short line) and the
    previous sentence, so speed is measured on the model's real inputs.
    """
    from tipnlp.nlp.tagger import format_context
    from tipnlp.training.data import doc_title

    texts: list[str] = []
    pairs: list[str | None] = []
    for f in gold_files:
        for doc in read_jsonl(f):
            text = str(doc.get("text", ""))
            title = doc.get("title") or doc_title(text)
            prev: str | None = None
            for s in doc.get("sentences", []):
                sent = " ".join(text[int(s["start"]) : int(s["end"])].split())
                texts.append(sent)
                pairs.append(format_context(title, prev) if use_context else None)
                prev = sent
    return texts, pairs


def _sample(settings: Settings, limit: int) -> tuple[list[str], list[str | None]]:
    """Speed sample: up to ``limit`` dev gold sentences, else our written sentences."""
    dev = Path(settings.gold_dir) / "dev.jsonl"
    texts: list[str] = []
    pairs: list[str | None] = []
    if dev.is_file():
        texts, pairs = gold_sentences([dev], settings.tag.use_context)
    if not texts:
        texts = [t for t, _ in _SAMPLE_PAIRS] * 8
        pairs = [p for _, p in _SAMPLE_PAIRS] * 8
    step = max(1, len(texts) // limit)
    return texts[::step][:limit], pairs[::step][:limit]


# --------------------------------------------------------------------------- build


def build_runtime(
    model_dir: Path,
    settings: Settings,
    *,
    sample_size: int = 384,
    runs: int = 3,
    evaluate: bool = True,
) -> dict[str, Any]:
    """Export fp32 and int8 ONNX, measure every runtime, write ``runtime.json``.

    For each of ``torch``, ``onnx`` and ``onnx-int8`` it records sentences per
    second on a sample (median of ``runs``) and, when ``settings.gold_dir /
    "dev.jsonl"`` exists and ``evaluate`` is true, the dev macro-F1 of the
    whole transformer tagger on that runtime.  The default is the fastest
    runtime whose F1 is within :data:`F1_TOLERANCE` of PyTorch's; without a
    dev set only runtimes numerically equal to PyTorch (``torch``, ``onnx``)
    qualify, because int8's accuracy cannot be checked.  Returns the record
    written.
    """
    model_dir = Path(model_dir)
    fp32 = export_onnx(model_dir)
    int8 = quantize_int8(fp32)
    threads = settings.tag.threads if settings.tag.threads > 0 else cpu_threads()
    bs, ml = settings.tag.batch_sentences, settings.tag.max_length
    texts, sample_pairs = _sample(settings, sample_size)
    # A hybrid encodes each sentence alone (its context is separate features).
    pairs = None if is_hybrid(model_dir) else sample_pairs
    dev = Path(settings.gold_dir) / "dev.jsonl"
    can_eval = evaluate and dev.is_file()

    backends: dict[str, Any] = {
        "torch": make_backend(model_dir, "torch", settings),
        "onnx": OnnxBackend(model_dir, "fp32", threads=threads, batch_size=bs, max_length=ml),
        "onnx-int8": OnnxBackend(model_dir, "int8", threads=threads, batch_size=bs, max_length=ml),
    }
    speeds = measure_speeds(backends, texts, pairs, runs=runs)
    figures: dict[str, dict[str, Any]] = {}
    for name, backend in backends.items():
        entry: dict[str, Any] = {
            "sentences_per_s": round(speeds[name], 2),
            "dev_macro_f1": None,
        }
        if name != "torch":
            entry["path"] = str((fp32 if name == "onnx" else int8).relative_to(model_dir))
            entry["size_mb"] = round((fp32 if name == "onnx" else int8).stat().st_size / 1e6, 1)
        if can_eval:
            entry["dev_macro_f1"] = _dev_macro_f1(model_dir, backend, settings, dev)
        figures[name] = entry

    default, reason = choose_default(figures)
    record: dict[str, Any] = {
        "default_backend": default,
        "reason": reason,
        "f1_tolerance": F1_TOLERANCE,
        "backends": figures,
        "dev_gold": str(dev) if can_eval else None,
        "sample_sentences": len(texts),
        "runs": runs,
        "threads": threads,
        "cpu_count": cpu_threads(),
        "batch_sentences": bs,
        "max_length": ml,
        "quantization": {"weight_type": "qint8", "per_channel": True, "mode": "dynamic"},
        "opset": OPSET,
        "versions": _versions(),
        "machine": platform.processor() or platform.machine(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    write_json_atomic(model_dir / RUNTIME_FILE, record)
    return record


def choose_default(figures: dict[str, dict[str, Any]]) -> tuple[str, str]:
    """Pick the fastest runtime whose dev macro-F1 is within tolerance of torch's.

    ``figures`` maps runtime names to ``sentences_per_s`` and ``dev_macro_f1``
    (None when not measured).  Returns the name and a one-line reason.
    """
    ref = figures.get("torch", {}).get("dev_macro_f1")
    ok: list[str] = []
    for name, fig in figures.items():
        f1 = fig.get("dev_macro_f1")
        if name == "torch":
            ok.append(name)
        elif ref is not None and f1 is not None:
            if f1 >= ref - F1_TOLERANCE:
                ok.append(name)
        elif name == "onnx":  # numerically equal to torch (checked at export)
            ok.append(name)
    best = max(ok, key=lambda n: float(figures[n].get("sentences_per_s") or 0.0))
    if ref is None:
        why = "no dev macro-F1: fastest of the runtimes numerically equal to PyTorch"
    else:
        why = f"fastest runtime with dev macro-F1 >= {ref - F1_TOLERANCE:.4f} (torch - 0.01)"
    return best, why


def _dev_macro_f1(model_dir: Path, backend: Any, settings: Settings, dev: Path) -> float:
    """Dev macro-F1 of the transformer tagger (rules fallback included) on ``backend``."""
    from tipnlp.nlp.tagger import tagger_for
    from tipnlp.training.evaluate import evaluate_tagger

    tagger = tagger_for(backend, model_dir, settings)
    report = evaluate_tagger(tagger, dev, use_context=settings.tag.use_context)
    return round(float(report.macro_f1), 4)


def make_backend(model_dir: Path, name: str, settings: Settings) -> Any:
    """An ``EncoderBackend`` for runtime ``name`` (``torch``, ``onnx``, ``onnx-int8``).

    ``torch`` is the tagger's ``TorchBackend``.
    """
    threads, spin = settings.tag.threads, settings.tag.spin
    bs, ml = settings.tag.batch_sentences, settings.tag.max_length
    if name in {"onnx", "onnx-int8"}:
        variant = "int8" if name == "onnx-int8" else "fp32"
        return OnnxBackend(
            model_dir, variant, threads=threads, batch_size=bs, max_length=ml, spin=spin
        )
    if name != "torch":
        raise ValueError(f"backend must be one of {BACKEND_NAMES}, not {name!r}")
    from tipnlp.nlp.tagger import TorchBackend

    return TorchBackend(model_dir, threads=threads, batch_size=bs, max_length=ml)


def read_runtime(model_dir: Path) -> dict[str, Any] | None:
    """The ``runtime.json`` record of a model folder, or None if there is none."""
    p = Path(model_dir) / RUNTIME_FILE
    if not p.is_file():
        return None
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ModelError(f"{p}: not valid JSON ({exc})") from exc
    return data if isinstance(data, dict) else None


def resolve_backend_name(model_dir: Path, requested: str = "auto") -> str:
    """Runtime to use: ``requested`` unless ``auto``, then ``runtime.json``'s default.

    ``auto`` falls back to ``torch`` when the folder has no ``runtime.json``
    or its default's ONNX file is gone.
    """
    if requested != "auto":
        if requested not in BACKEND_NAMES:
            raise ValueError(f"backend must be auto or one of {BACKEND_NAMES}, not {requested!r}")
        return requested
    record = read_runtime(model_dir) or {}
    name = str(record.get("default_backend", "torch"))
    if name == "onnx" and not onnx_path(model_dir, "fp32").is_file():
        return "torch"
    if name == "onnx-int8" and not onnx_path(model_dir, "int8").is_file():
        return "torch"
    return name if name in BACKEND_NAMES else "torch"


def _versions() -> dict[str, str]:
    """Library versions that affect speed and numerics."""
    out: dict[str, str] = {}
    for mod in ("onnxruntime", "onnx", "torch", "transformers", "tokenizers"):
        with contextlib.suppress(Exception):
            out[mod] = str(__import__(mod).__version__)
    return out
