"""The static HTML report: content, offline, escaped, written atomically."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tipnlp.analysis.checklist import CRITERION_KEYS
from tipnlp.analysis.report import build_report, write_report
from tipnlp.analysis.views import QueryError


@pytest.fixture(scope="module")
def page(out_dir: Path) -> str:
    return build_report(out_dir, title="Test <report>")


def test_checklist_rows_match_the_checklist(page: str) -> None:
    rows = re.findall(r'<tr class="checklist-row" data-jurisdiction="([^"]+)">(.*?)</tr>', page)
    assert [j for j, _ in rows] == ["FR", "GB", "IE", "NZ"]
    cells = dict(rows)
    nz = re.findall(r'data-criterion="([^"]+)" data-status="([^"]+)"', cells["NZ"])
    assert [k for k, _ in nz] == list(CRITERION_KEYS)
    assert dict(nz)["definition_means"] == "no"
    assert dict(nz)["definition_act"] == "yes"
    assert set(
        dict(re.findall(r'data-criterion="([^"]+)" data-status="([^"]+)"', cells["GB"])).values()
    ) == {"yes"}


def test_yes_cells_link_to_their_evidence(page: str) -> None:
    assert 'href="#ev-GB-non_punishment"' in page
    assert 'id="ev-GB-non_punishment"' in page
    assert 'href="https://example.org/law/full"' in page


def test_charts_and_sections_present(page: str) -> None:
    for div in ("chart-signals-time", "chart-signals-country", "chart-penalties"):
        assert f'id="{div}"' in page
    assert "Enforcement signals" in page and "Penalty ranges" in page


def test_works_offline(page: str) -> None:
    # plotly.js is inlined; nothing is fetched from anywhere.
    assert re.search(r"<script[^>]+src=", page) is None
    assert re.search(r"<link[^>]+href=", page) is None
    assert "Plotly" in page and len(page) > 1_000_000


def test_corpus_text_is_escaped_and_unsafe_links_are_not_links(
    tmp_path: Path, make_out: Any, page: str
) -> None:
    assert "Test &lt;report&gt;" in page
    assert 'href="javascript:' not in page
    out = make_out(
        tmp_path,
        [
            (
                {
                    "doc_id": "x",
                    "kind": "news",
                    "published": "2024-01-01",
                    "countries": ["KE"],
                    "url": "https://example.org/x?a=1&b=<2>",
                },
                [
                    {
                        "text": "Police arrested <script>alert(1)</script> two men.",
                        "labels": ["arrest"],
                    }
                ],
            )
        ],
    )
    html = build_report(out)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert 'href="https://example.org/x?a=1&amp;b=&lt;2&gt;"' in html


def test_empty_folder_still_renders(tmp_path: Path) -> None:
    html = build_report(tmp_path)
    assert "No statute or treaty text" in html
    assert "No news, press-release or report sentences" in html
    assert "No prison terms stated" in html


def test_write_is_atomic(tmp_path: Path, out_dir: Path) -> None:
    target = tmp_path / "r" / "report.html"
    assert write_report(out_dir, target) == target
    assert target.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    target.write_text("previous report")
    with pytest.raises(QueryError):
        write_report(tmp_path / "missing", target)
    assert target.read_text() == "previous report"
    assert sorted(p.name for p in target.parent.iterdir()) == ["report.html"]
