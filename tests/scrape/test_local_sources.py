"""Folders, files, WARC archives and the sample corpus (no network)."""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from tipnlp.io import read_table
from tipnlp.scrape import ingest, load_manifest
from tipnlp.scrape.sources import Source
from tipnlp.settings import Settings

from .conftest import REPO, STORY, minimal_pdf, page

SAMPLES = REPO / "corpora" / "samples"


def _settings(tmp_path: Path) -> Settings:
    return Settings(cache_dir=tmp_path / "cache")


def test_default_manifest_works_offline(tmp_path: Path) -> None:
    manifest = load_manifest(REPO / "corpora" / "default.yaml")
    summary = ingest(manifest.sources, tmp_path / "out", _settings(tmp_path))
    rows = {
        Path(r["source"]).name: r for r in read_table(tmp_path / "out", "documents").to_pylist()
    }
    assert set(rows) == {p.name for p in SAMPLES.iterdir()}
    assert rows["broken-page.html"]["status"] == "garbled"
    ok = {n for n, r in rows.items() if r["status"] == "ok"}
    assert ok == set(rows) - {"broken-page.html"}
    assert rows["noticia-rescate.html"]["language"] == "es"
    assert rows["statute-gazette.pdf"]["text"].count("\f") == 1
    assert rows["statute-trafficking-act.html"]["kind"] == "statute"
    assert rows["treaty-regional-convention.html"]["kind"] == "treaty"
    assert rows["news-drug-seizure.html"]["kind"] == "news"
    act = rows["statute-trafficking-act.html"]["text"]
    assert "not less than 8 years" in act and "cookie" not in act.lower()
    assert rows["field-report.txt"]["title"].startswith("Field report")
    assert summary.error_rate == pytest.approx(1 / len(rows))
    # doc ids do not depend on where the checkout lives
    assert all(r["doc_id"] for r in rows.values())

    again = ingest(manifest.sources, tmp_path / "out", _settings(tmp_path))
    assert again.n_new == 0 and again.by_status["unchanged"] == len(ok)


def test_folder_file_change_appends_a_version(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.html").write_bytes(page("Story", STORY))
    (folder / "law.pdf").write_bytes(minimal_pdf(["First page of the law.", "Second page."]))
    (folder / "ignored.docx").write_bytes(b"PK\x03\x04")
    src = [Source(name="docs", type="folder", locations=(str(folder),))]
    first = ingest(src, tmp_path / "out", _settings(tmp_path))
    assert first.by_status == {"ok": 2}
    (folder / "a.html").write_bytes(page("Story", STORY.replace("five people", "six people")))
    second = ingest(src, tmp_path / "out", _settings(tmp_path))
    assert second.by_status == {"ok": 1, "unchanged": 1}
    rows = read_table(tmp_path / "out", "documents").to_pylist()
    assert len(rows) == 3 and len({r["doc_id"] for r in rows}) == 3


def _warc(path: Path) -> None:
    with path.open("wb") as fh:
        writer = WARCWriter(fh, gzip=True)
        for uri, status, ctype, body in (
            (
                "https://news.example.org/story.html",
                "200 OK",
                "text/html; charset=utf-8",
                page("Story", STORY),
            ),
            ("https://news.example.org/gone.html", "404 Not Found", "text/html", b"gone"),
            (
                "https://news.example.org/law.pdf",
                "200 OK",
                "application/pdf",
                minimal_pdf(["Offences.", "Penalties of up to 20 years."]),
            ),
        ):
            headers = StatusAndHeaders(status, [("Content-Type", ctype)], protocol="HTTP/1.1")
            record = writer.create_warc_record(
                uri, "response", payload=io.BytesIO(body), http_headers=headers
            )
            writer.write_record(record)
        req = writer.create_warc_record(
            "https://news.example.org/story.html",
            "request",
            payload=io.BytesIO(b"GET /story.html HTTP/1.1\r\n\r\n"),
        )
        writer.write_record(req)


def test_warc_records_become_documents(tmp_path: Path) -> None:
    warc = tmp_path / "crawl.warc.gz"
    _warc(warc)
    summary = ingest(
        [Source(name="crawl", type="warc", locations=(str(warc),))],
        tmp_path / "out",
        _settings(tmp_path),
    )
    assert summary.by_status == {"ok": 2, "http_404": 1}
    rows = {r["url"]: r for r in read_table(tmp_path / "out", "documents").to_pylist()}
    story = rows["https://news.example.org/story.html"]
    assert "debt bondage" in story["text"]
    assert story["source"].startswith(f"{warc}#urn:uuid:")
    assert story["http_status"] == 200
    assert "20 years" in rows["https://news.example.org/law.pdf"]["text"]


def test_truncated_warc_keeps_what_was_read(tmp_path: Path) -> None:
    good = tmp_path / "good.warc.gz"
    _warc(good)
    raw = gzip.decompress(good.read_bytes())
    warc = tmp_path / "crawl.warc"
    warc.write_bytes(raw + raw[:1000])  # a second copy cut inside its first record
    summary = ingest(
        [Source(name="crawl", type="warc", locations=(str(warc),))],
        tmp_path / "out",
        _settings(tmp_path),
    )
    assert summary.by_status == {"ok": 2, "http_404": 1, "truncated": 1}
    (bad,) = [
        r
        for r in read_table(tmp_path / "out", "documents").to_pylist()
        if r["status"] == "truncated"
    ]
    assert "crawl.warc" in bad["error"] and "bytes missing" in bad["error"]
    ids = read_table(tmp_path / "out", "documents").column("doc_id").to_pylist()
    assert len(ids) == len(set(ids))  # the second capture of a URL gets its own id


def test_missing_folder_is_a_failure_row(tmp_path: Path) -> None:
    summary = ingest(
        [Source(name="x", type="folder", locations=(str(tmp_path / "nope"),))],
        tmp_path / "out",
        _settings(tmp_path),
    )
    assert summary.by_status == {"bad_input": 1}


def test_a_parser_crash_is_a_row_not_a_stop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib

    # the package re-exports the function ``ingest``, which hides the module name
    ingest_module = importlib.import_module("tipnlp.scrape.ingest")

    real = ingest_module.extract_bytes

    def flaky(data: bytes, **kw: object) -> object:
        if b"debt bondage" in data:
            raise RecursionError("maximum recursion depth exceeded")
        return real(data, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(ingest_module, "extract_bytes", flaky)
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.html").write_bytes(page("Story", STORY))
    (folder / "b.txt").write_text("A short note about a labour inspection.", encoding="utf-8")
    summary = ingest(
        [Source(name="d", type="folder", locations=(str(folder),))],
        tmp_path / "out",
        _settings(tmp_path),
    )
    assert summary.by_status == {"ok": 1, "extract_error": 1}
    (bad,) = [
        r
        for r in read_table(tmp_path / "out", "documents").to_pylist()
        if r["status"] == "extract_error"
    ]
    assert "a.html" in bad["error"] and "RecursionError" in bad["error"]


def test_unchanged_bytes_are_not_extracted_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib

    ingest_module = importlib.import_module("tipnlp.scrape.ingest")
    real = ingest_module.extract_bytes
    calls: list[str] = []

    def counting(data: bytes, **kw: object) -> object:
        calls.append(str(kw.get("name")))
        return real(data, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(ingest_module, "extract_bytes", counting)
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.html").write_bytes(page("Story", STORY))
    (folder / "b.txt").write_text("A short note about a labour inspection.", encoding="utf-8")
    src = [Source(name="d", type="folder", locations=(str(folder),))]
    ingest(src, tmp_path / "out", _settings(tmp_path))
    assert len(calls) == 2
    calls.clear()
    again = ingest(src, tmp_path / "out", _settings(tmp_path))
    assert calls == [] and again.by_status == {"unchanged": 2}
    forced = ingest(src, tmp_path / "out", _settings(tmp_path), refresh=True)
    assert len(calls) == 2 and forced.n_new == 0  # re-extracted, same text: no new rows
