"""Every source kind and failure mode against the local HTTP server."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest

from tipnlp.documents import make_doc_id
from tipnlp.io import dataset_files, read_table
from tipnlp.scrape import ingest
from tipnlp.scrape.sources import Source, normalize
from tipnlp.settings import Settings

from .conftest import Site


def _sources(site: Site) -> list[Source]:
    return [
        Source(
            name="laws",
            type="sitemap",
            locations=(site.url("/sitemap.xml"),),
            kind="statute",
            jurisdiction="XX",
        ),
        Source(name="rss", type="feed", locations=(site.url("/feed.rss"),), kind="news"),
        Source(name="atom", type="feed", locations=(site.url("/feed.atom"),), kind="news"),
        Source(name="quiet", type="feed", locations=(site.url("/empty.rss"),)),
    ]


def _trouble(site: Site) -> Source:
    paths = [
        "/slow.html",
        "/flaky.html",
        "/limited.html",
        "/loop-a",
        "/huge.html",
        "/missing.html",
        "/image.png",
        "/always-500.html",
    ]
    return Source(
        name="trouble",
        type="urls",
        locations=(*(site.url(p) for p in paths), "ftp://example.org/file.txt"),
    )


def _by_path(out: Path) -> dict[str, dict[str, Any]]:
    rows = read_table(out, "documents").to_pylist()
    result = {}
    for r in rows:
        url = r["url"] or r["source"]
        path = "/" + url.split("://", 1)[-1].split("/", 1)[-1] if "://" in url else url
        result[path] = r
    return result


def test_sources_extract_and_fail_with_reasons(
    site: Site, settings: Settings, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    summary = ingest([*_sources(site), _trouble(site)], out, settings)
    rows = _by_path(out)

    act = rows["/law/act.html"]
    assert act["status"] == "ok"
    assert act["kind"] == "statute" and act["jurisdiction"] == "XX"
    assert "not less than 8 years" in act["text"]
    assert "cookies" not in act["text"] and "Copyright" not in act["text"]
    assert act["title"] == "Anti-Trafficking Act"
    assert act["published"] == "2024-03-05"
    assert act["language"] == "en"
    assert act["etag"] and act["http_status"] == 200
    assert act["doc_id"] == make_doc_id(normalize(site.url("/law/act.html")))

    pdf = rows["/law/act.pdf"]
    assert pdf["status"] == "ok"
    first, second = pdf["text"].split("\f")
    assert "Definitions" in first and "up to 20 years" in second

    assert rows["/news/es.html"]["language"] == "es"
    assert "trata de personas" in rows["/news/es.html"]["text"]
    assert rows["/notes.txt"]["status"] == "ok"
    assert rows["/broken.html"]["status"] == "empty"

    a, b = rows["/news/story-a.html"], rows["/news/story-b.html"]
    assert a["status"] == "ok"
    assert b["status"] == "duplicate" and b["duplicate_of"] == a["doc_id"]
    assert "near duplicate" in b["error"]
    assert rows["/news/council.html"]["status"] == "ok"

    # robots.txt: the disallowed page is a failure row and was never requested
    assert rows["/private/draft.html"]["status"] == "robots"
    assert site.hits("/private/draft.html") == []
    assert len(site.hits("/robots.txt")) == 1  # fetched once per host

    assert rows["/slow.html"]["status"] == "timeout"
    assert rows["/flaky.html"]["status"] == "ok"
    assert [h.status for h in site.hits("/flaky.html")] == [500, 200]
    assert rows["/limited.html"]["status"] == "ok"
    assert [h.status for h in site.hits("/limited.html")] == [429, 200]
    assert rows["/loop-a"]["status"] == "redirect_loop"
    assert rows["/huge.html"]["status"] == "too_large"
    assert site.huge_bytes_sent < 20 * 1024 * 1024  # the client hung up early
    assert rows["/missing.html"]["status"] == "http_404"
    assert rows["/image.png"]["status"] == "not_text"
    assert rows["/always-500.html"]["status"] == "http_503"
    assert len(site.hits("/always-500.html")) == settings.fetch.retries + 1
    ftp = next(r for r in rows.values() if (r["url"] or "").startswith("ftp:"))
    assert ftp["status"] == "bad_scheme"

    for r in rows.values():
        if r["status"] not in ("ok", "duplicate"):
            assert r["error"], r
            assert r["text"] == ""
    assert summary.by_source["quiet"] == {}  # an empty feed: no items, no failure
    assert len(site.hits("/empty.rss")) == 1
    failures = summary.failures_by_reason()
    assert failures["timeout"] == 1 and failures["robots"] == 1
    assert summary.n_new == len(rows)
    assert 0 < summary.error_rate < 1
    assert len({r["doc_id"] for r in rows.values()}) == len(rows)


def test_retry_after_is_honoured(site: Site, settings: Settings, tmp_path: Path) -> None:
    ingest(
        [Source(name="x", type="urls", locations=(site.url("/limited.html"),))],
        tmp_path / "out",
        settings,
    )
    first, second = site.hits("/limited.html")
    assert first.status == 429 and second.status == 200
    assert second.at - first.at >= 0.9  # Retry-After: 1, not the 0.05 s backoff


def test_second_run_fetches_nothing_new(site: Site, settings: Settings, tmp_path: Path) -> None:
    out = tmp_path / "out"
    sources = _sources(site)
    first = ingest(sources, out, settings)
    parts = dataset_files(out, "documents")
    assert first.n_new > 0

    site.clear()
    second = ingest(sources, out, settings)
    assert second.n_new == 0
    assert dataset_files(out, "documents") == parts
    listings = {
        "/robots.txt",
        "/sitemap.xml",
        "/sitemap-laws.xml",
        "/sitemap-misc.xml",
        "/feed.rss",
        "/feed.atom",
        "/empty.rss",
    }
    page_hits = [h for h in site.log if h.path not in listings]
    assert page_hits, "pages are revalidated"
    # every page that produced a document was asked conditionally and answered 304;
    # only the page that failed (empty extraction) is fetched again in full
    full = [h.path for h in page_hits if h.status == 200]
    assert full == ["/broken.html"]
    assert all(h.headers.get("If-None-Match") for h in page_hits if h.path != "/broken.html")
    assert second.by_status["unchanged"] >= 6
    assert second.by_status["empty"] == 1

    # a page changes: exactly one new row, a new version with its own doc_id
    site.pages["/law/act.html"] = (
        "text/html; charset=utf-8",
        site.pages["/law/act.html"][1].replace(b"not less than 8 years", b"not less than 10 years"),
    )
    third = ingest(sources, out, settings)
    assert third.n_new == 1 and third.by_status["ok"] == 1
    versions = [
        r for r in read_table(out, "documents").to_pylist() if r["url"] == site.url("/law/act.html")
    ]
    assert len(versions) == 2
    assert len({v["doc_id"] for v in versions}) == 2
    new = max(versions, key=lambda v: v["fetched_at"])
    assert "10 years" in new["text"] and new["status"] == "ok"  # not a near-dup of itself

    # refresh: everything fetched again in full, still nothing new appended
    site.clear()
    fourth = ingest(sources, out, settings, refresh=True)
    assert fourth.n_new == 0
    assert all(not h.headers.get("If-None-Match") for h in site.log)
    assert any(h.path == "/law/act.html" and h.status == 200 for h in site.log)


def test_from_cache_reextracts_without_network(
    site: Site, settings: Settings, tmp_path: Path
) -> None:
    src = [Source(name="x", type="urls", locations=(site.url("/law/act.html"),))]
    ingest(src, tmp_path / "a", settings)
    site.clear()
    summary = ingest(src, tmp_path / "a", settings, from_cache=True)
    assert site.log == []  # not even robots.txt
    assert summary.by_status["unchanged"] == 1


def test_from_cache_reads_a_cache_of_the_old_layout(
    site: Site, settings: Settings, tmp_path: Path
) -> None:
    """A cache written before packs (``raw/ab/<digest>`` files) serves ``--from-cache``."""
    import shutil
    import sqlite3

    from tipnlp.scrape.cache import _scan_pack

    src = [Source(name="x", type="urls", locations=(site.url("/law/act.html"),))]
    ingest(src, tmp_path / "a", settings)
    raw = settings.cache_dir / "raw"
    packs = sorted((raw / "packs").glob("*.pack"))
    assert packs and not [p for p in raw.iterdir() if len(p.name) == 2]
    db = sqlite3.connect(raw / "index.sqlite")  # ingest closed the cache: rows committed
    assert db.execute("SELECT count(*) FROM blobs").fetchone()[0] == 1
    db.close()
    for pack in packs:  # rewrite the cache as the old code left it
        with pack.open("rb") as fh:
            for key, offset, length in _scan_pack(str(pack)):
                fh.seek(offset)
                (raw / key.hex()[:2]).mkdir(exist_ok=True)
                (raw / key.hex()[:2] / key.hex()).write_bytes(fh.read(length))
    shutil.rmtree(raw / "packs")
    for index in raw.glob("index.sqlite*"):
        index.unlink()
    site.clear()
    summary = ingest(src, tmp_path / "a", settings, from_cache=True)
    assert site.log == []  # the bytes were found in the old files...
    assert summary.by_status == {"unchanged": 1}  # ...and read back (no cache_miss)
    assert not list((raw / "packs").glob("*.pack"))  # nothing new was stored


def test_private_addresses_blocked_by_default(
    site: Site, settings: Settings, tmp_path: Path
) -> None:
    strict = settings.model_copy(
        update={"fetch": settings.fetch.model_copy(update={"allow_private_addresses": False})}
    )
    summary = ingest(
        [Source(name="x", type="urls", locations=(site.url("/ok.html"),))], tmp_path / "out", strict
    )
    assert summary.by_status == {"private_address": 1}
    assert site.log == []


def test_dns_failure_is_a_row(settings: Settings, tmp_path: Path) -> None:
    summary = ingest(
        [Source(name="x", type="urls", locations=("http://no-such-host.invalid/page.html",))],
        tmp_path / "out",
        settings,
    )
    assert summary.by_status == {"dns": 1}
    (row,) = read_table(tmp_path / "out", "documents").to_pylist()
    assert row["status"] == "dns" and "no-such-host.invalid" in row["error"]


def test_language_and_pattern_filters(site: Site, settings: Settings, tmp_path: Path) -> None:
    src = Source(
        name="laws",
        type="sitemap",
        locations=(site.url("/sitemap.xml"),),
        exclude=(r"\.pdf$", r"/private/"),
        languages=("es",),
    )
    summary = ingest([src], tmp_path / "out", settings)
    assert site.hits("/law/act.pdf") == []
    rows = read_table(tmp_path / "out", "documents").to_pylist()
    ok = [r for r in rows if r["status"] == "ok"]
    assert [r["language"] for r in ok] == ["es"]
    assert summary.by_status["filtered"] == 2  # the English act and the text file
    site.clear()
    again = ingest([src], tmp_path / "out", settings)
    assert again.by_status["filtered"] == 0 and again.n_new == 0
    assert all(h.status == 304 for h in site.hits("/law/act.html"))  # filtered: revalidated


@pytest.mark.parametrize("bad", ["/missing-sitemap.xml", "/ok.html"])
def test_broken_sitemap_is_a_row(site: Site, settings: Settings, tmp_path: Path, bad: str) -> None:
    summary = ingest(
        [Source(name="s", type="sitemap", locations=(site.url(bad),))], tmp_path / "out", settings
    )
    (row,) = read_table(tmp_path / "out", "documents").to_pylist()
    assert row["status"] in ("http_404", "bad_sitemap")
    assert summary.error_rate == 1.0


def test_rate_limit_and_user_agent(site: Site, settings: Settings, tmp_path: Path) -> None:
    polite = settings.model_copy(
        update={"fetch": settings.fetch.model_copy(update={"rate_limit_per_host": 5.0})}
    )
    paths = ["/law/act.html", "/news/es.html", "/notes.txt", "/news/council.html"]
    ingest(
        [Source(name="x", type="urls", locations=tuple(site.url(p) for p in paths))],
        tmp_path / "out",
        polite,
    )
    starts = sorted(h.at for h in site.log)  # robots.txt + 4 pages, 4 threads
    assert len(starts) == 5
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert min(gaps) >= 0.15  # 5 requests/s: one every 0.2 s, despite 4 threads
    assert {h.headers.get("User-Agent") for h in site.log} == {polite.fetch.user_agent}


def test_crawl_delay_slows_the_host(site: Site, settings: Settings, tmp_path: Path) -> None:
    site.pages["/robots.txt"] = ("text/plain", b"User-agent: *\nCrawl-delay: 1\n")
    paths = ["/law/act.html", "/news/es.html", "/notes.txt"]
    ingest(
        [Source(name="x", type="urls", locations=tuple(site.url(p) for p in paths))],
        tmp_path / "out",
        settings,
    )
    starts = sorted(h.at for h in site.log if h.path != "/robots.txt")
    assert starts[-1] - starts[0] >= 1.8  # three pages, a second apart (rate limit is off)
