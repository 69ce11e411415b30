"""Fit the hybrid tagger (``tipnlp.nlp.hybrid``): embeddings, TF-IDF and rules, stacked.

Everything is fitted on the training data with grouped K-fold
cross-fitting, so that each training sentence gets an *out-of-fold*
prediction from every view:

1. the base encoder is fine-tuned as a 14-label sentence classifier (mean
   pooling, as sentence-transformers trained it, and a linear layer started
   from a logistic-regression probe on the frozen embeddings; ``tune_encoder``),
   then embeds every distinct sentence, previous sentence and title once.
   A head fitted on embeddings of an encoder that saw the sentence's own
   labels would look far better out of fold than it is, and the stacker
   would trust it too much (measured: out-of-fold macro-F1 0.745, dev
   0.500); so the out-of-fold head outputs come from two encoders each
   fine-tuned on one half of the training documents and applied to the
   other half, and the deployed heads from the encoder fine-tuned on all
   of it.  ``encoder_epochs=0`` keeps the base encoder frozen (the
   earlier recipe);
2. per label, a class-balanced logistic regression over
   ``[sentence, previous, title, document]`` embeddings (the "heads"; the
   document view is the mean embedding of the sentence's document, so a
   sentence is read in the light of what the whole text is about);
3. the TF-IDF + logistic-regression baseline (same folds);
4. the rule tagger's hits (no fitting);
5. per label, a logistic-regression stacker over the three out-of-fold
   views; its regularisation is chosen by out-of-fold macro-F1;
6. Platt calibration and F1-optimal thresholds on the stacker's
   out-of-fold logits (the same rules as for the fine-tuned model).

The final heads, TF-IDF model and stacker are then refitted on all the
training data.  Dev is never used for any choice.  The cross-validated
scores of each view and of the stack are kept, so the model card can say
how much each view adds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tipnlp.errors import ModelError
from tipnlp.labels import LABELS
from tipnlp.nlp.hybrid import embedding_features, normalize_text, stack_inputs
from tipnlp.training.calibration import (
    apply_platt,
    best_thresholds,
    calibration_record,
    expected_calibration_error,
    fit_platt,
)
from tipnlp.training.data import Example, group_split, label_matrix, label_pos_weight

#: ``progress(stage, done, total)``.
Progress = Callable[[str, int, int], None]

#: Logit given to a label that has no positive example to learn from.
_ABSENT_LOGIT = -10.0


@dataclass
class HybridFit:
    """Everything a hybrid model folder needs, plus cross-validated figures."""

    encoder: Any
    tokenizer: Any
    weights: dict[str, np.ndarray]
    tfidf: Any
    thresholds: dict[str, float]
    calibration: dict[str, Any]
    heldout: dict[str, Any]
    meta: dict[str, Any]
    #: Stacker logits of the first examples from the final (all-data) fit.
    probe_logits: np.ndarray = field(default_factory=lambda: np.zeros((0, len(LABELS))))


class _Embedder:
    """Mean-pooled embeddings from an in-memory encoder (the training-time backend)."""

    name = "torch"

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        max_length: int,
        batch_size: int,
        progress: Progress | None,
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.batch_size = batch_size
        self.progress = progress

    def logits(self, texts: Sequence[str], pairs: Sequence[str | None] | None = None) -> Any:
        """Pooled embeddings ``(len(texts), hidden)`` in input order (``pairs`` unused)."""
        import torch

        from tipnlp.nlp.tagger import encode_pairs, mean_pool, sorted_batches

        width = int(self.model.config.hidden_size)
        out = np.zeros((len(texts), width), dtype=np.float32)
        if not texts:
            return out
        enc = encode_pairs(self.tokenizer, list(texts), None, self.max_length)
        batches = sorted_batches([len(e["input_ids"]) for e in enc], self.batch_size)
        for b, idx in enumerate(batches):
            batch = self.tokenizer.pad([enc[i] for i in idx], return_tensors="pt")
            with torch.inference_mode():
                hidden = self.model(**batch).last_hidden_state
            out[idx] = mean_pool(hidden, batch["attention_mask"]).float().numpy()
            if self.progress:
                self.progress("encode", b + 1, len(batches))
        return out


def _folds(groups: Sequence[str], k: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Grouped K folds (documents never straddle a fold); empty when under 2 groups."""
    from sklearn.model_selection import GroupKFold

    n_groups = len(set(groups))
    if n_groups < 2:
        return []
    idx = np.arange(len(groups))
    return list(GroupKFold(n_splits=min(k, n_groups)).split(idx, idx, list(groups)))


def _fit_lr(x: np.ndarray, y: np.ndarray, c: float, seed: int) -> tuple[np.ndarray, float]:
    """(weights, bias) of a class-balanced logistic regression; constant if y is constant."""
    from sklearn.linear_model import LogisticRegression

    if y.min() == y.max():
        return np.zeros(x.shape[1]), (-_ABSENT_LOGIT if y.min() > 0 else _ABSENT_LOGIT)
    lr = LogisticRegression(C=c, class_weight="balanced", max_iter=3000, random_state=seed)
    lr.fit(x, y)
    return lr.coef_[0].astype(np.float64), float(lr.intercept_[0])


def _heads(x: np.ndarray, y: np.ndarray, c: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-label heads: weights ``(labels, dim)`` and biases ``(labels,)``."""
    fits = [_fit_lr(x, y[:, j], c, seed) for j in range(y.shape[1])]
    return np.stack([w for w, _ in fits]), np.array([b for _, b in fits])


def _stack(z: np.ndarray, y: np.ndarray, c: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-label stackers over ``z`` ``(n, labels, views)``."""
    fits = [_fit_lr(z[:, j, :], y[:, j], c, seed) for j in range(y.shape[1])]
    return np.stack([w for w, _ in fits]), np.array([b for _, b in fits])


def _macro(y: np.ndarray, probs: np.ndarray, thresholds: dict[str, float]) -> float:
    """Macro-F1 of thresholded probabilities (cross-validated figures)."""
    from tipnlp.training.evaluate import multilabel_metrics

    pred = np.stack([probs[:, j] >= thresholds[n] for j, n in enumerate(LABELS)], axis=1)
    return float(multilabel_metrics(y, pred)[2])


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-x)))


def tune_encoder(
    encoder: Any,
    tokenizer: Any,
    texts: Sequence[str],
    y: np.ndarray,
    *,
    epochs: float,
    lr: float,
    seed: int,
    max_length: int,
    batch_size: int = 32,
    progress: Progress | None = None,
    stage: str = "tune-encoder",
) -> Any:
    """Fine-tune ``encoder`` in place as a multi-label classifier of ``texts``; returns it.

    Why this way, on two CPU cores: the pooled output is the
    sentence-transformers mean pooling the heads read later (no untrained
    [CLS] pooler to re-learn), and the linear layer starts from a
    logistic-regression probe on the frozen embeddings, so training starts
    where the frozen recipe ends instead of from noise; rare labels get a
    loss weight ``sqrt(neg/pos)`` (clipped to 1..10).  AdamW with warm-up and
    linear decay, the linear layer at 20x the encoder's rate, batches of
    similar lengths in a seeded order, gradients clipped to 1.  About 45
    sentences/s here (3 epochs over 3,286 sentences: 3.5 minutes).  The
    linear layer is dropped afterwards: the hybrid's heads are refitted on
    the tuned embeddings.
    """
    import torch

    from tipnlp.nlp.tagger import encode_pairs, mean_pool

    if epochs <= 0 or not len(texts):
        return encoder
    torch.manual_seed(seed)
    enc = encode_pairs(tokenizer, list(texts), None, max_length)
    labels = np.asarray(y, dtype=np.float32)
    embedder = _Embedder(encoder, tokenizer, max_length, 64, None)
    frozen = np.asarray(embedder.logits(list(texts)), dtype=np.float64)
    w, b = _heads(frozen, labels.astype(int), 0.5, seed)
    head = torch.nn.Linear(frozen.shape[1], labels.shape[1])
    with torch.no_grad():
        head.weight.copy_(torch.tensor(w, dtype=torch.float32))
        head.bias.copy_(torch.tensor(b, dtype=torch.float32))
    pos_weight = label_pos_weight(labels)
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor(pos_weight, dtype=torch.float32))
    params = list(encoder.parameters()) + list(head.parameters())
    opt = torch.optim.AdamW(
        [
            {"params": list(encoder.parameters()), "lr": lr},
            {"params": list(head.parameters()), "lr": lr * 20},
        ],
        weight_decay=0.01,
    )
    total = max(1, int(np.ceil(len(texts) / batch_size) * epochs))
    warm = max(1.0, 0.1 * total)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda k: min(1.0, (k + 1) / warm) * max(0.0, (total - k) / total)
    )
    rng = np.random.default_rng(seed)
    lengths = np.array([len(e["input_ids"]) for e in enc])
    step = 0
    encoder.train()
    while step < total:
        order = rng.permutation(len(texts))
        batches: list[np.ndarray] = []
        # Similar lengths in a batch (less padding), batches in random order.
        for lo in range(0, len(order), batch_size * 8):
            chunk = order[lo : lo + batch_size * 8]
            chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
            batches.extend(chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size))
        for i in rng.permutation(len(batches)):
            if step >= total:
                break
            idx = batches[i]
            batch = tokenizer.pad([enc[j] for j in idx], return_tensors="pt")
            pooled = mean_pool(encoder(**batch).last_hidden_state, batch["attention_mask"])
            loss = loss_fn(head(pooled), torch.tensor(labels[idx]))
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            sched.step()
            step += 1
            if progress:
                progress(stage, step, total)
    return encoder.eval()


def fit_hybrid(
    examples: Sequence[Example],
    base_path: str,
    *,
    seed: int,
    max_length: int,
    batch_size: int = 64,
    folds: int = 5,
    head_c: float = 0.5,
    stack_cs: Sequence[float] = (0.03, 0.1, 0.3, 1.0),
    encoder_epochs: float = 0.0,
    encoder_lr: float = 5e-5,
    progress: Progress | None = None,
) -> HybridFit:
    """Fit heads, TF-IDF and stacker on ``examples`` (see the module docstring).

    ``encoder_epochs > 0`` fine-tunes the encoder first (``tune_encoder``),
    with out-of-fold head outputs from two half-data encoders.
    """
    import torch
    from transformers import AutoModel, AutoTokenizer

    from tipnlp.nlp.rules import RuleTagger
    from tipnlp.nlp.tagger import trim_context
    from tipnlp.nlp.types import SentenceInput
    from tipnlp.training.baselines import TfidfTagger, _fit_pipeline, _proba

    if not examples:
        raise ModelError("no training sentences")
    torch.manual_seed(seed)
    try:
        tokenizer = AutoTokenizer.from_pretrained(base_path)
        encoder = AutoModel.from_pretrained(base_path).eval()
    except (OSError, ValueError) as exc:
        raise ModelError(f"base model {base_path}: cannot load ({exc})") from exc
    y = label_matrix(examples).astype(int)
    groups = [e.doc_id for e in examples]
    texts = [normalize_text(e.text) for e in examples]
    prevs: list[str | None] = []
    for e in examples:
        prev = e.prev if e.prev else (trim_context(e.context) if e.context else None)
        prevs.append(normalize_text(prev) or None if prev else None)
    titles = [normalize_text(e.title) or None if e.title else None for e in examples]

    split = _folds(groups, folds)
    tuned = encoder_epochs > 0 and len(split) > 0
    oof_head = np.zeros(y.shape)
    if tuned:
        # Out-of-fold head outputs from encoders that never saw the sentence:
        # each half of the documents is embedded by an encoder tuned on the other.
        # Two halves of the sentences, documents never split (seeded).
        first, second = (np.asarray(h, dtype=int) for h in group_split(examples, 0.5, seed))
        for k, (fit_idx, ho_idx) in enumerate(((first, second), (second, first))):
            half_encoder = tune_encoder(
                AutoModel.from_pretrained(base_path),
                tokenizer,
                [texts[i] for i in fit_idx],
                y[fit_idx],
                epochs=encoder_epochs,
                lr=encoder_lr,
                seed=seed + k + 1,
                max_length=max_length,
                progress=progress,
                stage=f"tune-encoder {k + 1}/3",
            )
            half_x = embedding_features(
                _Embedder(half_encoder, tokenizer, max_length, batch_size, None),
                texts,
                prevs,
                titles,
                groups,
            ).astype(np.float64)
            w, b = _heads(half_x[fit_idx], y[fit_idx], head_c, seed)
            oof_head[ho_idx] = half_x[ho_idx] @ w.T + b
            del half_encoder, half_x
        encoder = tune_encoder(
            encoder,
            tokenizer,
            texts,
            y,
            epochs=encoder_epochs,
            lr=encoder_lr,
            seed=seed,
            max_length=max_length,
            progress=progress,
            stage="tune-encoder 3/3",
        )
    embedder = _Embedder(encoder, tokenizer, max_length, batch_size, progress)
    x = embedding_features(embedder, texts, prevs, titles, groups).astype(np.float64)
    items = [
        SentenceInput(text=e.text, title=e.title, prev=p, language=e.language, kind=e.kind)
        for e, p in zip(examples, prevs, strict=True)
    ]
    rules = RuleTagger()
    hits = np.array(
        [[n in p.labels for n in LABELS] for p in rules.predict(items)], dtype=np.float64
    ).reshape(len(items), len(LABELS))

    oof_tfidf = np.zeros(y.shape)
    for k, (fit_idx, ho_idx) in enumerate(split):
        if not tuned:
            w, b = _heads(x[fit_idx], y[fit_idx], head_c, seed)
            oof_head[ho_idx] = x[ho_idx] @ w.T + b
        pipe = _fit_pipeline([texts[i] for i in fit_idx], y[fit_idx], seed)
        oof_tfidf[ho_idx] = _proba(pipe, [texts[i] for i in ho_idx])
        if progress:
            progress("cross-fit", k + 1, len(split))

    head_w, head_b = _heads(x, y, head_c, seed)
    pipe_all = _fit_pipeline(texts, y, seed)
    if progress:
        progress("fit-all", 1, 1)

    heldout: dict[str, Any] = {"method": f"{len(split)}-fold grouped cross-fitting"}
    if split:
        z = stack_inputs(oof_head, oof_tfidf, hits)
        # Stacker regularisation: the C with the best out-of-fold macro-F1.
        best: tuple[float, float, np.ndarray] | None = None
        for c in stack_cs:
            oof_stack = np.zeros(y.shape)
            for fit_idx, ho_idx in split:
                sw, sb = _stack(z[fit_idx], y[fit_idx], c, seed)
                oof_stack[ho_idx] = np.einsum("nlk,lk->nl", z[ho_idx], sw) + sb
            probs = _sigmoid(oof_stack)
            score = _macro(y, probs, best_thresholds(y, probs))
            if best is None or score > best[1] + 1e-9:
                best = (c, score, oof_stack)
        assert best is not None
        stack_c, _, oof_stack = best
        stack_w, stack_b = _stack(z, y, stack_c, seed)
        platt = fit_platt(y, oof_stack)
        cal = apply_platt(oof_stack, platt)
        thresholds = best_thresholds(y, cal)
        calibration = calibration_record(
            platt,
            len(examples),
            expected_calibration_error(y, _sigmoid(oof_stack)),
            expected_calibration_error(y, cal),
        )
        head_p = _sigmoid(oof_head)
        tfidf_th = best_thresholds(y, oof_tfidf)
        heldout.update(_cv_report(y, cal, thresholds))
        heldout["views_macro_f1"] = {
            "rules": _macro(y, hits, dict.fromkeys(LABELS, 0.5)),
            "tfidf": _macro(y, oof_tfidf, tfidf_th),
            # With a tuned encoder: heads of half-data encoders (a lower bound).
            "embedding_heads": _macro(y, head_p, best_thresholds(y, head_p)),
            "stack": heldout["macro_f1"],
        }
        heldout["stack_c"] = stack_c
        heldout["sentences"] = len(examples)
        heldout["documents"] = len(set(groups))
        oof_pred = np.stack([cal[:, j] >= thresholds[n] for j, n in enumerate(LABELS)], axis=1)
        heldout["languages"] = language_routing(
            [e.language for e in examples], y > 0, oof_pred, hits > 0
        )
    else:
        stack_c = stack_cs[0]
        z_all = stack_inputs(x @ head_w.T + head_b, _proba(pipe_all, texts), hits)
        stack_w, stack_b = _stack(z_all, y, stack_c, seed)
        thresholds = dict.fromkeys(LABELS, 0.5)
        tfidf_th = dict.fromkeys(LABELS, 0.5)
        calibration = {
            "method": "none",
            "params": None,
            "note": "fewer than two documents: no out-of-fold data",
        }
        heldout.update({"sentences": 0, "documents": 0})

    tfidf = TfidfTagger(pipe_all, tfidf_th, version="tfidf-lr")
    # The first sentences as a caller would pass them on their own (the
    # document view then pools only these), to check a reload against.
    n_probe = min(8, len(examples))
    x_probe = embedding_features(
        embedder, texts[:n_probe], prevs[:n_probe], titles[:n_probe], groups[:n_probe]
    ).astype(np.float64)
    z_probe = stack_inputs(
        x_probe @ head_w.T + head_b, _proba(pipe_all, texts[:n_probe]), hits[:n_probe]
    )
    probe = np.einsum("nlk,lk->nl", z_probe, stack_w) + stack_b
    meta = {
        "features": {
            "embeddings": "mean-pooled, L2-normalised [sentence, previous sentence, title, "
            "document]; zeros where absent; document = L2-normalised mean of the "
            "sentence embeddings of the sentence's document",
            "stack_inputs": ["embedding head logit", "TF-IDF logit", "rule hit (0/1)"],
        },
        "head_c": head_c,
        "stack_c": stack_c,
        "encoder": (
            {
                "fine_tuned": True,
                "epochs": encoder_epochs,
                "learning_rate": encoder_lr,
                "out_of_fold_heads": "two encoders, each tuned on half of the documents",
            }
            if tuned
            else {"fine_tuned": False}
        ),
        "folds": len(split),
        "embedding_dim": int(x.shape[1] // 4) if x.size else 0,
    }
    weights = {"head_w": head_w, "head_b": head_b, "stack_w": stack_w, "stack_b": stack_b}
    return HybridFit(
        encoder=encoder,
        tokenizer=tokenizer,
        weights=weights,
        tfidf=tfidf,
        thresholds=thresholds,
        calibration=calibration,
        heldout=heldout,
        meta=meta,
        probe_logits=np.asarray(probe, dtype=np.float64),
    )


def language_routing(
    languages: Sequence[str | None],
    y: np.ndarray,
    model_pred: np.ndarray,
    rules_pred: np.ndarray,
    min_sentences: int | None = None,
) -> dict[str, dict[str, Any]]:
    """Per language, which tagger should decide its sentences, from held-out predictions.

    A language goes to the model when it has at least ``min_sentences``
    training sentences (default ``MIN_LANGUAGE_SENTENCES``) and, on those
    sentences out of fold, the model's micro-F1 over the 14 labels is at
    least the rules'.  Why: the stacker is fitted mostly on English, and a
    language with some training sentences can still be tagged better by its
    own cue phrases (measured for Spanish, 2026-12-07: rules 0.67, model
    0.55, rules ahead in 99.8% of document bootstraps).  Returns
    ``{language: {"sentences", "model_micro_f1", "rules_micro_f1",
    "tagger"}}``; sentences of unknown language are left out (the model
    takes them).
    """
    from tipnlp.nlp.tagger import MIN_LANGUAGE_SENTENCES
    from tipnlp.training.evaluate import multilabel_metrics

    floor = MIN_LANGUAGE_SENTENCES if min_sentences is None else min_sentences
    lang = np.array([(x or "").split("-")[0].lower() for x in languages])
    out: dict[str, dict[str, Any]] = {}
    for name in sorted(set(lang) - {"", "unknown"}):
        m = lang == name
        model_f1 = multilabel_metrics(y[m], model_pred[m])[1]
        rules_f1 = multilabel_metrics(y[m], rules_pred[m])[1]
        enough = int(m.sum()) >= floor
        out[name] = {
            "sentences": int(m.sum()),
            "model_micro_f1": model_f1,
            "rules_micro_f1": rules_f1,
            "tagger": "model" if enough and model_f1 >= rules_f1 else "rules",
        }
    return out


def _cv_report(y: np.ndarray, probs: np.ndarray, thresholds: dict[str, float]) -> dict[str, Any]:
    """Macro/micro/any-label F1 of the cross-validated stack (as in ``train``)."""
    from tipnlp.training.evaluate import multilabel_metrics

    pred = np.stack([probs[:, j] >= thresholds[n] for j, n in enumerate(LABELS)], axis=1)
    per, micro, macro, any_label = multilabel_metrics(y, pred)
    return {
        "macro_f1": macro,
        "micro_f1": micro,
        "any_label_f1": any_label.f1,
        "per_label_f1": {k: v.f1 for k, v in per.items()},
    }
