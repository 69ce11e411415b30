"""One static HTML report of an output folder: checklist, signals, penalties, evidence.

The file works offline and without a server: plotly.js is embedded once in
the page head, charts are plotly figures, tables are plain HTML.  All
aggregation happens in DuckDB (the views of ``views.connect``); Python only
loops over the already-aggregated rows (jurisdictions x criteria, months x
labels), so the report is as fast for a large corpus as the SQL is.

Every claim links to its evidence: a checklist cell jumps to the sentences
behind it, which link to their source URL.  Text from the corpus is always
HTML-escaped, and only ``http(s)`` URLs become links.
"""

from __future__ import annotations

import html
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import duckdb
import plotly.graph_objects as go
import plotly.offline

from tipnlp import io
from tipnlp.analysis.checklist import (
    CRITERIA,
    CRITERION_KEYS,
    NO,
    NOT_FOUND,
    PENALTY_CRITERION,
    YES,
)
from tipnlp.analysis.checklist import checklist as checklist_table
from tipnlp.analysis.signals import signal_counts
from tipnlp.analysis.views import connect
from tipnlp.labels import DESCRIPTIONS, SCHEME_VERSION, SIGNAL_LABELS

#: Short column headers of the checklist matrix.
SHORT_NAMES: Final[dict[str, str]] = {
    "definition_act": "Act",
    "definition_means": "Means",
    "definition_purpose": "Purpose",
    "consent_irrelevant": "Consent irrelevant",
    "child_no_means": "Child: no means",
    "non_punishment": "Non-punishment",
    "residence_permits": "Residence",
    "victim_assistance": "Assistance",
    "max_penalty_4y": "Max ≥ 4 years",
}

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:1.5rem auto;
max-width:1300px;padding:0 1rem;color:#1f2328;line-height:1.4}
h1{margin-bottom:.2rem}h2{margin-top:2.2rem;border-bottom:1px solid #d0d7de}
.meta{color:#57606a;font-size:.9rem}
table{border-collapse:collapse;margin:.6rem 0;font-size:.88rem}
th,td{border:1px solid #d0d7de;padding:.3rem .5rem;vertical-align:top;text-align:left}
th{background:#f6f8fa}
td.status{text-align:center;font-weight:600;white-space:nowrap}
.status-yes{background:#d1f0d6}.status-no{background:#ffd8d3}
.status-not-found{background:#eef0f2;color:#6e7781}
td.status a{color:inherit;text-decoration:none;display:block}
.evidence td.text{max-width:720px}
details{margin:.4rem 0}summary{cursor:pointer;font-weight:600}
.note{color:#57606a;font-size:.85rem}
.empty{color:#6e7781;font-style:italic}
"""


def _e(value: object) -> str:
    """HTML-escape anything (None becomes an empty string)."""
    return "" if value is None else html.escape(str(value), quote=True)


def _link(url: object, text: object) -> str:
    """An <a> for http(s) URLs; any other scheme is shown as text, never made clickable."""
    if isinstance(url, str) and re.match(r"^https?://", url, flags=re.IGNORECASE):
        return f'<a href="{_e(url)}" target="_blank" rel="noopener noreferrer">{_e(text)}</a>'
    return _e(text)


def _slug(*parts: object) -> str:
    """An id attribute value made of safe characters."""
    return "-".join(re.sub(r"[^A-Za-z0-9_]+", "_", str(p)) for p in parts)


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict[str, Any]]:
    """Rows of a query as dicts (only used on aggregated, small results)."""
    rel = con.sql(sql)
    names = rel.columns
    return [dict(zip(names, row, strict=True)) for row in rel.fetchall()]


def _figure_html(fig: go.Figure, div_id: str) -> str:
    """A figure as a <div>; plotly.js itself is embedded once in the page head."""
    fig.update_layout(
        template="plotly_white", margin={"l": 60, "r": 20, "t": 50, "b": 50}, height=420
    )
    return str(
        fig.to_html(
            full_html=False,
            include_plotlyjs=False,
            div_id=div_id,
            config={"displaylogo": False, "responsive": True},
        )
    )


def _evidence_table(rows: Iterable[Mapping[str, Any]], extra: Sequence[str] = ()) -> str:
    """A table of evidence sentences: document, sentence, text, link to the source."""
    body = []
    for r in rows:
        cells = "".join(f"<td>{_e(r.get(k))}</td>" for k in extra)
        body.append(
            f"<tr>{cells}<td>{_e(r.get('doc_id'))}#{_e(r.get('sent_id'))}</td>"
            f'<td class="text">{_e(r.get("text"))}</td>'
            f"<td>{_link(r.get('url'), 'source') if r.get('url') else ''}</td></tr>"
        )
    if not body:
        return '<p class="empty">No sentences.</p>'
    head = "".join(f"<th>{_e(k)}</th>" for k in extra)
    return (
        f'<table class="evidence"><thead><tr>{head}<th>sentence</th><th>text</th>'
        f"<th>link</th></tr></thead><tbody>{''.join(body)}</tbody></table>"
    )


def _overview(con: duckdb.DuckDBPyConnection) -> str:
    """Counts of documents by kind and status, sentences and labels."""
    kinds = _rows(
        con,
        "SELECT coalesce(kind, '(none)') AS kind, count(*) AS n, "
        "count(*) FILTER (WHERE coalesce(status, 'ok') = 'ok') AS ok "
        "FROM documents GROUP BY 1 ORDER BY n DESC, kind",
    )
    labels = _rows(
        con,
        "SELECT l.label, count(*) AS n FROM sentences, unnest(labels) AS l(label) "
        "GROUP BY 1 ORDER BY n DESC, l.label",
    )
    n_sent = con.sql("SELECT count(*) FROM sentences").fetchall()[0][0]
    kind_rows = "".join(
        f"<tr><td>{_e(r['kind'])}</td><td>{r['n']}</td><td>{r['ok']}</td></tr>" for r in kinds
    )
    label_rows = "".join(
        f'<tr><td title="{_e(DESCRIPTIONS.get(r["label"], ""))}">{_e(r["label"])}</td>'
        f"<td>{r['n']}</td></tr>"
        for r in labels
    )
    return (
        '<section id="overview"><h2>Overview</h2>'
        f"<p>{n_sent} sentences tagged.</p>"
        '<div style="display:flex;gap:2rem;flex-wrap:wrap;align-items:flex-start">'
        "<table><thead><tr><th>document kind</th><th>documents</th><th>usable</th></tr></thead>"
        f"<tbody>{kind_rows}</tbody></table>"
        "<table><thead><tr><th>label</th><th>sentences</th></tr></thead>"
        f"<tbody>{label_rows}</tbody></table></div></section>"
    )


def _status_class(status: str) -> str:
    """CSS class of a checklist cell."""
    return {YES: "status-yes", NO: "status-no", NOT_FOUND: "status-not-found"}.get(
        status, "status-not-found"
    )


def _checklist(con: duckdb.DuckDBPyConnection, max_evidence: int) -> str:
    """The matrix (jurisdiction x criterion) and, per jurisdiction, the evidence."""
    rows = checklist_table(con, max_evidence).to_pylist()
    by_jur: dict[str, dict[str, dict[str, Any]]] = {}
    for r in rows:
        by_jur.setdefault(r["jurisdiction"], {})[r["criterion"]] = r
    criteria = (*CRITERIA, PENALTY_CRITERION)
    head = "".join(
        f'<th title="{_e(c.question)} ({_e(c.instrument)})">{_e(SHORT_NAMES[c.key])}</th>'
        for c in criteria
    )
    legend = "".join(
        f"<li><b>{_e(SHORT_NAMES[c.key])}</b>: {_e(c.question)} "
        f'<span class="note">({_e(c.instrument)})</span></li>'
        for c in criteria
    )
    if not by_jur:
        return (
            '<section id="checklist"><h2>Palermo checklist</h2>'
            '<p class="empty">No statute or treaty text with a jurisdiction in this output '
            "folder.</p></section>"
        )
    body = []
    details = []
    for jur, cells in by_jur.items():
        tds = []
        for key in CRITERION_KEYS:
            cell = cells[key]
            anchor = _slug("ev", jur, key)
            label = cell["status"] + (f" ({cell['detail']})" if cell.get("detail") else "")
            inner = f'<a href="#{anchor}">{_e(label)}</a>' if cell["n_evidence"] else _e(label)
            tds.append(
                f'<td class="status {_status_class(cell["status"])}" '
                f'data-criterion="{_e(key)}" data-status="{_e(cell["status"])}">{inner}</td>'
            )
        body.append(
            f'<tr class="checklist-row" data-jurisdiction="{_e(jur)}">'
            f"<th>{_e(jur)}</th>{''.join(tds)}</tr>"
        )
        parts = []
        for c in criteria:
            cell = cells[c.key]
            if not cell["n_evidence"]:
                continue
            shown = len(cell["evidence"])
            more = (
                f' <span class="note">(showing {shown} of {cell["n_evidence"]})</span>'
                if cell["n_evidence"] > shown
                else ""
            )
            parts.append(
                f'<h4 id="{_slug("ev", jur, c.key)}">{_e(SHORT_NAMES[c.key])}: '
                f"{_e(cell['status'])}{more}</h4>"
                f'<p class="note">{_e(c.question)}; {_e(c.instrument)}</p>'
                + _evidence_table(cell["evidence"])
            )
        if parts:
            details.append(
                f"<details><summary>{_e(jur)}: evidence</summary>{''.join(parts)}</details>"
            )
    return (
        '<section id="checklist"><h2>Palermo checklist</h2>'
        '<p class="note">yes: a sentence of the jurisdiction\'s laws says it (click for the '
        "evidence). no: the core trafficking law (a definition or offence clause) is in the "
        "corpus but no sentence says it. not found: the core law was not collected, so "
        "absence proves nothing.</p>"
        f'<table id="checklist-matrix"><thead><tr><th>jurisdiction</th>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
        f"<details><summary>What each column asks</summary><ul>{legend}</ul></details>"
        f"<h3>Evidence</h3>{''.join(details)}</section>"
    )


def _signals(con: duckdb.DuckDBPyConnection, max_evidence: int, top_countries: int) -> str:
    """Signal counts over time, rates by country, and the latest sentences per label."""
    monthly = signal_counts(con, by=("month",), max_evidence=1).to_pylist()
    if not monthly:
        return (
            '<section id="signals"><h2>Enforcement signals</h2>'
            '<p class="empty">No news, press-release or report sentences in this output '
            "folder.</p></section>"
        )
    months = sorted({r["month"] for r in monthly if r["month"] is not None})
    if months:
        over_time = go.Figure()
        for label in SIGNAL_LABELS:
            points = {r["month"]: r["n_sentences"] for r in monthly if r["label"] == label}
            over_time.add_trace(go.Bar(x=months, y=[points.get(m, 0) for m in months], name=label))
        over_time.update_layout(
            barmode="group",
            title="Signal sentences per month (all countries)",
            xaxis={"title": "month", "type": "category"},
            yaxis_title="sentences",
        )
        time_chart = _figure_html(over_time, "chart-signals-time")
    else:
        time_chart = (
            '<p class="empty" id="chart-signals-time">No publication or fetch dates, so no '
            "chart over time.</p>"
        )
    by_country = _rows(
        con,
        f"""
        WITH c AS ({_signal_country_sql()})
        SELECT * FROM c
        WHERE country IN (SELECT country FROM c GROUP BY country
                          ORDER BY sum(n_sentences) DESC, country LIMIT {int(top_countries)})
        """,
    )
    countries = sorted({str(r["country"]) for r in by_country})
    rates = go.Figure()
    for label in SIGNAL_LABELS:
        vals = {
            str(r["country"]): r["per_1000_sentences"] for r in by_country if r["label"] == label
        }
        rates.add_trace(go.Bar(x=countries, y=[vals.get(c, 0) for c in countries], name=label))
    rates.update_layout(
        barmode="group",
        title=f"Signal sentences per 1,000 news sentences, top {top_countries} countries",
        xaxis_title="country (None: no country named)",
        yaxis_title="per 1,000 sentences",
    )
    table_rows = "".join(
        f"<tr><td>{_e(r['country'])}</td><td>{_e(r['label'])}</td><td>{r['n_sentences']}</td>"
        f"<td>{r['n_documents']}</td><td>{r['total_sentences']}</td>"
        f"<td>{r['per_1000_sentences']:.1f}</td><td>{r['share_of_documents']:.0%}</td></tr>"
        for r in by_country
        if r["n_sentences"]
    )
    evidence = []
    for label in SIGNAL_LABELS:
        rows = _rows(
            con,
            f"""
            SELECT doc_id, sent_id, country, month, text, url FROM signals
            WHERE label = '{label}'
            ORDER BY date DESC, doc_id, sent_id LIMIT {int(max_evidence)}
            """,
        )
        evidence.append(
            f'<details id="{_slug("signal", label)}"><summary>{_e(label)}: latest sentences'
            f'</summary><p class="note">{_e(DESCRIPTIONS[label])}</p>'
            f"{_evidence_table(rows, extra=('country', 'month'))}</details>"
        )
    return (
        '<section id="signals"><h2>Enforcement signals</h2>'
        '<p class="note">From news, press releases and reports. A sentence counts for the '
        "countries it names, else for its document's countries; its month is the "
        "publication month, else the month it was fetched.</p>"
        + time_chart
        + _figure_html(rates, "chart-signals-country")
        + "<details><summary>Counts and rates by country</summary>"
        "<table><thead><tr><th>country</th><th>label</th><th>sentences</th><th>documents</th>"
        "<th>all sentences</th><th>per 1,000</th><th>share of documents</th></tr></thead>"
        f"<tbody>{table_rows}</tbody></table></details>"
        f"<h3>Evidence</h3>{''.join(evidence)}</section>"
    )


def _signal_country_sql() -> str:
    """Counts per country (all months) without evidence lists."""
    from tipnlp.analysis.signals import signal_counts_sql

    return signal_counts_sql(by=("country",), max_evidence=1)


def _penalties(con: duckdb.DuckDBPyConnection, max_evidence: int) -> str:
    """Prison ranges stated by each jurisdiction's laws, and the sentences behind them."""
    ranges = _rows(
        con,
        """
        SELECT jurisdiction, count(*) AS n,
               min(prison_min_years) AS lo,
               max(greatest(prison_max_years, prison_min_years)) AS hi,
               bool_or(prison_life) AS life, bool_or(death_penalty) AS death
        FROM penalties
        WHERE is_law AND jurisdiction IS NOT NULL
          AND (prison_min_years IS NOT NULL OR prison_max_years IS NOT NULL
               OR prison_life OR death_penalty)
        GROUP BY jurisdiction ORDER BY jurisdiction DESC
        """,
    )
    if not ranges:
        return (
            '<section id="penalties"><h2>Penalty ranges</h2>'
            '<p class="empty">No prison terms stated in statute or treaty sentences.</p>'
            "</section>"
        )
    names, bases, lengths, texts = [], [], [], []
    his = [r["hi"] for r in ranges if r["hi"] is not None]
    axis_end = max([*his, 20.0]) + 5.0
    marks_x, marks_y, marks_text = [], [], []
    for r in ranges:
        extra = [w for w, flag in (("life", r["life"]), ("death", r["death"])) if flag]
        name = str(r["jurisdiction"])
        names.append(name)
        hi = r["hi"] if r["hi"] is not None else 0.0
        lo = r["lo"] if r["lo"] is not None else 0.0
        bases.append(min(lo, hi))
        lengths.append(max(hi - lo, 0.0))
        texts.append(
            f"{name}: {lo:g} to {hi:g} years"
            + (f"; {', '.join(extra)}" if extra else "")
            + f" ({r['n']} sentences)"
        )
        if extra:
            marks_x.append(axis_end)
            marks_y.append(name)
            marks_text.append(" + ".join(extra))
    fig = go.Figure(
        go.Bar(
            y=names,
            x=lengths,
            base=bases,
            orientation="h",
            hovertext=texts,
            hoverinfo="text",
            marker_color="#cf222e",
            name="prison term (years)",
        )
    )
    if marks_x:
        fig.add_trace(
            go.Scatter(
                x=marks_x,
                y=marks_y,
                mode="markers+text",
                text=marks_text,
                textposition="middle left",
                marker={"symbol": "triangle-right", "size": 12, "color": "#6e7781"},
                name="life imprisonment / death penalty",
                hoverinfo="text",
            )
        )
    fig.add_vline(x=4, line_dash="dash", line_color="#57606a", annotation_text="4 years")
    fig.update_layout(
        title="Prison terms stated by each jurisdiction's laws (lowest minimum, 0 where none "
        "is stated, to highest maximum)",
        xaxis={"title": "years", "range": [0, axis_end + 1]},
        showlegend=bool(marks_x),
        height=max(300, 40 * len(names) + 120),
    )
    top = _rows(
        con,
        f"""
        SELECT jurisdiction, doc_id, sent_id, text, url,
               prison_min_years AS min_years, prison_max_years AS max_years,
               prison_life AS life, death_penalty AS death
        FROM penalties WHERE is_law AND jurisdiction IS NOT NULL AND has_figures
        QUALIFY row_number() OVER (PARTITION BY jurisdiction ORDER BY
            death_penalty DESC, prison_life DESC,
            greatest(prison_max_years, prison_min_years) DESC NULLS LAST, doc_id, sent_id)
            <= {int(max_evidence)}
        ORDER BY jurisdiction, death_penalty DESC, prison_life DESC,
            greatest(prison_max_years, prison_min_years) DESC NULLS LAST
        """,
    )
    return (
        '<section id="penalties"><h2>Penalty ranges</h2>'
        + _figure_html(fig, "chart-penalties")
        + "<details><summary>Penalty sentences (highest first)</summary>"
        + _evidence_table(top, extra=("jurisdiction", "min_years", "max_years", "life"))
        + "</details></section>"
    )


def build_report(
    out_dir: str | os.PathLike[str],
    title: str = "tipnlp report",
    max_evidence: int = 10,
    top_countries: int = 15,
) -> str:
    """The whole report as one HTML string (plotly.js included, no external requests)."""
    con = connect(out_dir, read_only=True)
    try:
        versions = [
            r[0]
            for r in con.sql(
                "SELECT DISTINCT model_version FROM sentences WHERE model_version IS NOT NULL "
                "ORDER BY 1"
            ).fetchall()
        ]
        sections = [
            _overview(con),
            _checklist(con, max_evidence),
            _signals(con, max_evidence, top_countries),
            _penalties(con, max_evidence),
        ]
    finally:
        con.close()
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    plotly_js = plotly.offline.get_plotlyjs()
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{_CSS}</style>"
        f'<script type="text/javascript">{plotly_js}</script></head><body>'
        f"<h1>{_e(title)}</h1>"
        f'<p class="meta">Output folder {_e(Path(out_dir))} · generated {generated} · '
        f"label scheme v{SCHEME_VERSION} · models: {_e(', '.join(versions) or 'none')}</p>"
        '<nav class="meta"><a href="#overview">Overview</a> · <a href="#checklist">Palermo '
        'checklist</a> · <a href="#signals">Enforcement signals</a> · '
        '<a href="#penalties">Penalty ranges</a></nav>' + "".join(sections) + "</body></html>\n"
    )


def write_report(
    out_dir: str | os.PathLike[str],
    path: str | os.PathLike[str],
    title: str = "tipnlp report",
    max_evidence: int = 10,
) -> Path:
    """Build the report and write it to ``path`` atomically; return the path."""
    page = build_report(out_dir, title=title, max_evidence=max_evidence)
    target = Path(path)
    io.write_text_atomic(target, page)
    return target
