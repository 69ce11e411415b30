"""`tipnlp annotate export|import|agreement`: the Label Studio loop from the shell.

Thin wrappers: parse options, call ``tipnlp.annotation``, print a summary,
set the exit code.  Errors from the library (``AnnotationError`` and friends)
become one red line and exit code 2 through ``handle_errors``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from tipnlp import io
from tipnlp.annotation.candidates import (
    Segmenter,
    annotated_index,
    candidates_from_documents,
    candidates_from_tables,
    read_documents_jsonl,
)
from tipnlp.annotation.export import export_tasks
from tipnlp.annotation.labelstudio import import_export, parse_export, read_annotations
from tipnlp.annotation.sampling import DEFAULT_DIVERSITY, DEFAULT_POOL_FACTOR
from tipnlp.cli.common import console, handle_errors
from tipnlp.errors import ModelError, TipnlpError
from tipnlp.nlp.types import Tagger
from tipnlp.settings import get_settings

annotate_app = typer.Typer(
    help="Active-learning loop with Label Studio: export tasks, import labels, agreement.",
    no_args_is_help=True,
)


def _load_tagger(model: str | None) -> Tagger:
    """The current model (``--model`` or settings), loaded by the training area's loader."""
    try:
        from tipnlp.nlp.tagger import load_tagger
    except ImportError as exc:  # the tagger module is another area's; say what is missing
        raise ModelError(f"no tagger available ({exc}); train one with `make model`") from None
    settings = get_settings(**({"model": model} if model else {}))
    return load_tagger(settings)


def _segmenter() -> Segmenter:
    try:
        from tipnlp.nlp.segment import segment
    except ImportError as exc:
        raise TipnlpError(f"the sentence segmenter is not available ({exc})") from None
    return segment


@annotate_app.command("export")
@handle_errors
def export_cmd(
    out: Annotated[Path, typer.Option("--out", help="Label Studio tasks file (JSON list).")],
    n: Annotated[int, typer.Option("--n", help="How many sentences to pick.")] = 200,
    from_dir: Annotated[
        Path | None, typer.Option("--from", help="Output folder with sentences/documents.")
    ] = None,
    docs: Annotated[
        Path | None, typer.Option("--docs", help="Documents JSONL (doc_id, text, title, url).")
    ] = None,
    model: Annotated[
        str | None, typer.Option("--model", help="Model name under models/ or a path.")
    ] = None,
    annotations_dir: Annotated[
        Path | None, typer.Option("--annotations-dir", help="Already-imported annotations.")
    ] = None,
    config: Annotated[
        Path | None, typer.Option("--config", help="Where to write the labelling config XML.")
    ] = None,
    diversity: Annotated[
        float, typer.Option(help="Weight of the diversity term in [0, 1].")
    ] = DEFAULT_DIVERSITY,
    pool_factor: Annotated[
        int, typer.Option(help="MMR pool size = pool-factor x n most uncertain.")
    ] = DEFAULT_POOL_FACTOR,
) -> None:
    """Pick the sentences the model is least sure of and write Label Studio tasks."""
    settings = get_settings()
    if (from_dir is None) == (docs is None):
        raise TipnlpError("give exactly one of --from OUT_DIR or --docs DOCS.jsonl")
    if from_dir is not None:
        if not io.dataset_files(from_dir, "sentences"):
            raise TipnlpError(f"{from_dir}: no sentences table (run `tipnlp tag` first)")
        cands = candidates_from_tables(from_dir)
    else:
        assert docs is not None
        cands = candidates_from_documents(read_documents_jsonl(docs), _segmenter())
    ann_dir = annotations_dir or settings.annotations_dir
    index = annotated_index(read_annotations(ann_dir))
    tagger = _load_tagger(model)
    with Progress(
        TextColumn("scoring"), BarColumn(), MofNCompleteColumn(), console=console, transient=True
    ) as bar:
        task = bar.add_task("score", total=len(cands))
        report = export_tasks(
            cands,
            tagger,
            out,
            n=n,
            annotated=index,
            diversity=diversity,
            pool_factor=pool_factor,
            config_path=config,
            batch_size=settings.tag.batch_sentences,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    console.print(
        f"[green]wrote[/green] {report.selected} task(s) to {report.tasks_path} "
        f"(config {report.config_path}); model {report.model_version}; "
        f"{report.candidates} candidate(s), {report.already_annotated} already annotated, "
        f"{report.repeats} repeat(s) skipped; mean uncertainty {report.mean_uncertainty:.3f}"
    )


@annotate_app.command("import")
@handle_errors
def import_cmd(
    export: Annotated[Path, typer.Argument(help="Label Studio JSON export.")],
    annotations_dir: Annotated[
        Path | None, typer.Option("--annotations-dir", help="Where annotation batches live.")
    ] = None,
    batch: Annotated[
        str | None, typer.Option("--batch", help="Batch name (default: the export's stem).")
    ] = None,
) -> None:
    """Validate a Label Studio export and store it as a versioned JSONL batch."""
    ann_dir = annotations_dir or get_settings().annotations_dir
    report = import_export(export, ann_dir, batch=batch)
    for warning in report.warnings:
        console.print(f"[yellow]warning:[/yellow] {warning}")
    console.print(
        f"[green]imported[/green] {report.annotations} annotation(s) from {report.tasks} "
        f"task(s) into {report.path}: {report.new} new, {report.updated} updated, "
        f"{report.unchanged} unchanged, {report.skipped_elsewhere} already in another batch; "
        f"{report.cancelled} skipped by annotators, {report.unannotated} task(s) not annotated"
    )


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


@annotate_app.command("agreement")
@handle_errors
def agreement_cmd(
    source: Annotated[
        Path, typer.Argument(help="Label Studio JSON export, or an annotations JSONL batch.")
    ],
    out: Annotated[
        Path | None, typer.Option("--out", help="Write disagreements as JSONL here.")
    ] = None,
    show: Annotated[int, typer.Option(help="Disagreements to print.")] = 20,
) -> None:
    """Per-label Cohen's kappa and F1 between annotators, and what to adjudicate."""
    rows = list(io.read_jsonl(source)) if source.suffix == ".jsonl" else parse_export(source).rows
    from tipnlp.annotation import agreement as agreement_mod  # scikit-learn: import on use

    rep = agreement_mod.agreement(rows)
    if rep.multi_annotated == 0:
        console.print(f"no task in {source} has two or more annotations ({rep.tasks} task(s))")
        raise typer.Exit(code=1)
    table = Table(
        title=f"Agreement: {rep.multi_annotated} task(s) with 2+ annotators, "
        f"{rep.pairs} pair(s), annotators {', '.join(rep.annotators)}"
    )
    for col in ("label", "chosen A", "chosen B", "both", "kappa", "F1"):
        table.add_column(col, justify="left" if col == "label" else "right")
    for la in rep.per_label:
        table.add_row(
            la.label,
            str(la.chosen_first),
            str(la.chosen_second),
            str(la.both),
            _fmt(la.kappa),
            _fmt(la.f1),
        )
    table.add_section()
    table.add_row("mean kappa / micro F1", "", "", "", _fmt(rep.mean_kappa), _fmt(rep.micro_f1))
    console.print(table)
    console.print(
        f"exact label-set agreement {_fmt(rep.exact_agreement)}; "
        f"{len(rep.disagreements)} task(s) to adjudicate"
    )
    for d in rep.disagreements[:show]:
        who = "; ".join(f"{a}: {', '.join(labs) or 'none'}" for a, labs in d.by_annotator.items())
        extra = " (penalty figures differ)" if d.figures else ""
        console.print(f"- task {d.task_id} [{', '.join(d.labels)}]{extra}: {d.text[:90]!r} — {who}")
    if out is not None:
        io.write_jsonl_atomic(out, [d.to_row() for d in rep.disagreements])
        console.print(f"[green]wrote[/green] {len(rep.disagreements)} disagreement(s) to {out}")


def register(app: typer.Typer) -> None:
    """Add ``tipnlp annotate ...`` to ``app``."""
    app.add_typer(annotate_app, name="annotate")
