"""Signal counts and rates by country and month, and the sentences behind them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tipnlp.analysis.signals import signal_counts, signal_counts_sql, signal_evidence
from tipnlp.analysis.views import connect
from tipnlp.labels import SIGNAL_LABELS


@pytest.fixture(scope="module")
def con(out_dir: Path) -> Any:
    return connect(out_dir)


def _key(rows: list[dict[str, Any]], *keys: str) -> dict[tuple[Any, ...], dict[str, Any]]:
    return {tuple(r[k] for k in keys): r for r in rows}


def test_counts_and_rates_by_country_and_month(con: Any) -> None:
    rows = _key(signal_counts(con).to_pylist(), "country", "month", "label")
    th = rows[("TH", "2024-03", "arrest")]
    # Thailand, March: news-1 (3 sentences) and news-2's sentence without a country.
    assert th["total_sentences"] == 4 and th["total_documents"] == 2
    assert th["n_sentences"] == 1 and th["per_1000_sentences"] == pytest.approx(250.0)
    assert th["share_of_documents"] == pytest.approx(0.5)
    mm = rows[("MM", "2024-03", "victim_penalized")]
    assert (mm["n_sentences"], mm["total_sentences"]) == (1, 2)
    ng = rows[("NG", "2024-04", "conviction")]
    assert ng["per_1000_sentences"] == pytest.approx(1000 / 3)
    # Zeros are rows too, so rates over time have no gaps.
    assert rows[("NG", "2024-04", "arrest")]["n_sentences"] == 0
    # Sentences with no country at all are counted under None.
    assert rows[(None, "2024-05", "arrest")]["n_sentences"] == 1


def test_every_group_has_every_label_in_order(con: Any) -> None:
    rows = signal_counts(con, by=("country",)).to_pylist()
    groups = {r["country"] for r in rows}
    assert len(rows) == len(groups) * len(SIGNAL_LABELS)
    assert [r["label"] for r in rows[: len(SIGNAL_LABELS)]] == list(SIGNAL_LABELS)


def test_month_totals_count_each_sentence_once(con: Any) -> None:
    rows = _key(signal_counts(con, by=("month",)).to_pylist(), "month", "label")
    # news-2 sentence 0 is about TH and MM but is one sentence.
    march = rows[("2024-03", "corruption")]
    assert march["n_sentences"] == 1
    assert march["total_sentences"] == 5


def test_counts_link_to_their_sentences(con: Any) -> None:
    rows = _key(signal_counts(con).to_pylist(), "country", "month", "label")
    (ev,) = rows[("TH", "2024-03", "corruption")]["evidence"]
    assert (ev["doc_id"], ev["sent_id"], ev["url"]) == ("news-2", 0, "https://example.org/news/2")
    assert rows[("NG", "2024-04", "arrest")]["evidence"] == []


def test_evidence_filters(con: Any) -> None:
    got = signal_evidence(con, label="arrest").to_pylist()
    assert [(r["doc_id"], r["sent_id"]) for r in got] == [("news-4", 0), ("news-1", 0)]
    assert signal_evidence(con, country="MM").num_rows == 2
    assert signal_evidence(con, month="2024-04").num_rows == 2
    assert signal_evidence(con, country="x' OR '1'='1").num_rows == 0
    assert signal_evidence(con, limit=1).num_rows == 1


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="group by"):
        signal_counts_sql(by=("year",))
    with pytest.raises(ValueError, match="signal labels"):
        signal_counts_sql(labels=("definition",))


def test_no_news_gives_no_rows(tmp_path: Path) -> None:
    assert signal_counts(connect(tmp_path)).num_rows == 0
