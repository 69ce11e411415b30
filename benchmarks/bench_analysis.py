"""Analysis speed: checklist, signals and report on the gold corpus, scaled up.

Writes an output folder from a gold JSONL file with the gold labels and
penalty figures (what a perfect tagger would write; countries and entities
come from ``tipnlp.nlp.entities``), then times the DuckDB views, the
checklist, the signal counts and the HTML report.  ``--scale N`` copies the
corpus N times under new doc ids, to show how the SQL scales.

    .venv/bin/python benchmarks/bench_analysis.py --gold ../shared/data/gold/dev.jsonl \
        --scale 1 --scale 50 --keep /tmp/tipnlp-dev-out

Prints a table: documents, sentences, seconds per step.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tipnlp import io
from tipnlp.analysis.checklist import checklist
from tipnlp.analysis.report import write_report
from tipnlp.analysis.signals import signal_counts
from tipnlp.analysis.views import connect
from tipnlp.labels import LABELS, label_group
from tipnlp.nlp.entities import (
    countries_by_sentence,
    document_countries,
    entity_rows,
    find_entities,
    normalize_jurisdiction,
)

#: When the gold files were "fetched": ``tipnlp tag`` stamps the time it reads a file.
FETCHED = datetime(2026, 11, 1, tzinfo=UTC)

PENALTY_FIELDS = (
    "prison_min_years",
    "prison_max_years",
    "prison_life",
    "death_penalty",
    "fine_text",
)


def gold_tables(gold: Path) -> dict[str, list[dict[str, Any]]]:
    """Rows of the four tables for one copy of the gold corpus."""
    tables: dict[str, list[dict[str, Any]]] = {
        "documents": [],
        "sentences": [],
        "sentence_labels": [],
        "entities": [],
    }
    for obj in io.read_jsonl(gold):
        text = obj["text"]
        jur = normalize_jurisdiction(obj.get("jurisdiction") or obj.get("country"))
        ents = find_entities(text)
        spans = [(s["start"], s["end"]) for s in obj.get("sentences", [])]
        sent_countries = countries_by_sentence(ents, spans)
        tables["documents"].append(
            {
                "doc_id": obj["doc_id"],
                "url": obj.get("url"),
                "kind": obj.get("kind"),
                "language": obj.get("language"),
                "jurisdiction": jur,
                "countries": document_countries(text, jur, ents),
                "text": text,
                "n_sentences": len(spans),
                "status": "ok",
                "fetched_at": FETCHED,
            }
        )
        for i, s in enumerate(obj.get("sentences", [])):
            labels = [lab for lab in LABELS if lab in s.get("labels", [])]
            row = {
                "doc_id": obj["doc_id"],
                "sent_id": i,
                "start": s["start"],
                "end": s["end"],
                "text": text[s["start"] : s["end"]],
                "language": obj.get("language"),
                "labels": labels,
                "tagger": "gold",
                "countries": sent_countries[i],
                "model_version": "gold",
                "scores": {lab: float(lab in labels) for lab in LABELS},
            }
            row.update({k: s.get(k) for k in PENALTY_FIELDS})
            tables["sentences"].append(row)
            tables["sentence_labels"] += [
                {
                    "doc_id": obj["doc_id"],
                    "sent_id": i,
                    "label": lab,
                    "label_group": label_group(lab),
                    "score": 1.0,
                    "source": "gold",
                    "model_version": "gold",
                }
                for lab in labels
            ]
        tables["entities"] += entity_rows(obj["doc_id"], ents, spans)
    return tables


def write_copies(tables: dict[str, list[dict[str, Any]]], out: Path, scale: int) -> None:
    """Write ``scale`` copies, one Parquet part per copy and table, doc ids suffixed."""
    for copy in range(scale):
        for name, rows in tables.items():
            if copy:
                rows = [{**r, "doc_id": f"{r['doc_id']}~{copy}"} for r in rows]
            io.write_part(out, name, f"{copy:05d}", rows)


def timed(fn: Any) -> tuple[Any, float]:
    """Result and wall seconds of ``fn()``."""
    t0 = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - t0


def main() -> None:
    """Build, time, print."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gold", type=Path, default=Path("../shared/data/gold/dev.jsonl"))
    ap.add_argument("--scale", type=int, action="append", help="Copies of the corpus.")
    ap.add_argument("--keep", type=Path, help="Keep the scale-1 folder (and its report) here.")
    args = ap.parse_args()
    tables, t_build = timed(lambda: gold_tables(args.gold))
    print(f"gold -> rows (entity matching included): {t_build:.2f}s")
    header = (
        "copies",
        "documents",
        "sentences",
        "connect s",
        "checklist s",
        "signals s",
        "report s",
        "report MB",
    )
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for scale in args.scale or [1]:
        tmp = Path(tempfile.mkdtemp(prefix="tipnlp-bench-"))
        try:
            write_copies(tables, tmp, scale)
            con, t_conn = timed(lambda: connect(tmp))  # noqa: B023
            cl, t_cl = timed(lambda: checklist(con))  # noqa: B023
            _, t_sig = timed(lambda: signal_counts(con))  # noqa: B023
            n_docs, n_sents = con.sql(
                "SELECT (SELECT count(*) FROM documents), (SELECT count(*) FROM sentences)"
            ).fetchall()[0]
            con.close()
            report, t_rep = timed(lambda: write_report(tmp, tmp / "report.html"))  # noqa: B023
            size = report.stat().st_size / 1e6
            print(
                f"| {scale} | {n_docs} | {n_sents} | {t_conn:.2f} | {t_cl:.2f} | "
                f"{t_sig:.2f} | {t_rep:.2f} | {size:.1f} |"
            )
            if scale == 1 and args.keep:
                shutil.rmtree(args.keep, ignore_errors=True)
                shutil.copytree(tmp, args.keep)
                io.write_json_atomic(args.keep / "checklist.json", cl.to_pylist())
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
