"""Train flow: train the tagger, then evaluate it against the baselines on gold.

Two thin tasks wrapping library functions and passing paths: training writes
``models/<name>/`` (and its own dev report into ``metrics.json``); evaluation
re-reads the saved folder, so it also checks that what was written loads.
Run it with ``python -m pipelines.train`` (after ``make setup``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow, task

from tipnlp.settings import get_settings


@task(name="train-model")
def train_task(
    name: str, epochs: int, max_steps: int | None, limit: int | None, recipe: str = "hybrid"
) -> str:
    """Train ``models/<name>``; returns the model folder."""
    from tipnlp.training.train import TrainOptions, train

    opts = TrainOptions(
        name=name,
        recipe=recipe,
        epochs=epochs,
        max_steps=max_steps,
        limit=limit,
        evaluate_dev=False,
    )
    return str(train(get_settings(), opts).model_dir)


@task(name="evaluate-model")
def evaluate_task(model_dir: str, gold: str) -> dict[str, Any]:
    """Rules, TF-IDF and the model on ``gold``; writes ``metrics.json``'s dev part."""
    import json

    from tipnlp.io import write_json_atomic
    from tipnlp.training.train import evaluate_model_dir

    settings = get_settings()
    reports = evaluate_model_dir(Path(model_dir), Path(gold), settings)
    metrics_path = Path(model_dir) / "metrics.json"
    metrics = json.loads(metrics_path.read_text(encoding="utf-8"))
    metrics.update({"dev": reports, "dev_gold": gold})
    write_json_atomic(metrics_path, metrics)
    return {
        k: {"macro_f1": v["macro_f1"], "any_label_f1": v["any_label"]["f1"]}
        for k, v in reports.items()
    }


@flow(name="tipnlp-train", log_prints=False)
def train_flow(
    name: str = "default",
    gold: str | None = None,
    epochs: int = 6,
    max_steps: int | None = None,
    limit: int | None = None,
    recipe: str = "hybrid",
) -> dict[str, Any]:
    """Train ``models/<name>`` and return the dev macro/any-label F1 of all taggers.

    ``recipe`` is ``hybrid`` (default) or ``finetune``; ``epochs`` and
    ``max_steps`` apply to ``finetune`` only.  ``gold`` (the dev file)
    defaults to ``<settings.gold_dir>/dev.jsonl``, beside the ``train.jsonl``
    the training reads.
    """
    model_dir = train_task(name, epochs, max_steps, limit, recipe)
    return evaluate_task(model_dir, gold or str(get_settings().gold_dir / "dev.jsonl"))


if __name__ == "__main__":
    print(train_flow())
