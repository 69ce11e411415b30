"""Manifests, item inference, fetch helpers, extraction and dedup in isolation."""

from __future__ import annotations

import time
from email.utils import formatdate
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tipnlp.errors import ManifestError
from tipnlp.scrape.dedup import Deduper
from tipnlp.scrape.extract import ExtractFailure, decode, extract_bytes, garbled, sniff_format
from tipnlp.scrape.fetch import parse_retry_after
from tipnlp.scrape.sources import (
    infer_type,
    load_manifest,
    parse_feed,
    parse_sitemap,
    resolve_sources,
    sources_from_args,
)

from .conftest import OTHER_STORY, STORY, minimal_pdf

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "m.yaml"
    p.write_text(text, encoding="utf-8")
    return p


def test_manifest_resolves_paths_and_aliases(tmp_path: Path) -> None:
    m = load_manifest(
        _write(
            tmp_path,
            """
sources:
  - {name: laws, type: sitemap, url: "https://example.org/sitemap.xml", kind: statute,
     include: ['/laws/'], languages: "en, es"}
  - {name: local, type: folder, paths: [pages, /abs/dir]}
""",
        )
    )
    laws, local = m.sources
    assert laws.locations == ("https://example.org/sitemap.xml",)
    assert laws.languages == ("en", "es")
    assert laws.accepts("https://example.org/laws/1") and not laws.accepts("https://example.org/x")
    assert local.locations == (str(tmp_path / "pages"), "/abs/dir")


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("sources: [{name: a, type: ftp, url: x}]", "source #1 ('a'): type"),
        ("sources: [{name: a, type: urls}]", "locations"),
        ("sources: [{name: a, type: urls, url: x, include: ['(']}]", "bad pattern"),
        ("sources: [{name: a, type: urls, url: x, kind: blog}]", "kind must be one of"),
        ("sources: [{name: a, type: urls, url: x, colour: red}]", "colour"),
        ("sources: [{name: a, type: urls, url: x}, {name: a, type: urls, url: y}]", "unique"),
        ("sources: {oops", "not valid YAML"),
        ("just a string", "'sources' list"),
    ],
)
def test_manifest_errors_name_file_and_entry(tmp_path: Path, text: str, needle: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ManifestError) as err:
        load_manifest(path)
    assert str(path) in str(err.value) and needle in str(err.value)


def test_missing_manifest() -> None:
    with pytest.raises(ManifestError, match="no such manifest"):
        load_manifest(Path("nowhere/manifest.yaml"))


def test_items_are_typed_from_their_shape(tmp_path: Path) -> None:
    (tmp_path / "saved").mkdir()
    warc = tmp_path / "crawl.warc.gz"
    warc.write_bytes(b"")
    sources = sources_from_args(
        [
            str(tmp_path / "saved"),
            "https://a.org/page.html",
            "https://a.org/sitemap.xml",
            "https://a.org/feed/",
            str(warc),
            "https://b.org/other",
        ]
    )
    assert [(s.type, len(s.locations)) for s in sources] == [
        ("urls", 2),
        ("folder", 1),
        ("sitemap", 1),
        ("feed", 1),
        ("warc", 1),
    ]
    assert len({s.name for s in sources}) == len(sources)
    assert infer_type("https://x.org/news.rss") == "feed"
    with pytest.raises(ManifestError, match="no such file"):
        sources_from_args([str(tmp_path / "missing.html")])
    manifest = _write(tmp_path, "sources: [{name: a, type: urls, url: 'https://x.org/'}]")
    assert resolve_sources([str(manifest)])[0].name == "a"


def test_sitemap_and_feed_parsing() -> None:
    urls, children = parse_sitemap(
        b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>/a</loc></url>'
        b"<url><loc>https://x.org/b</loc></url></urlset>",
        "https://x.org/sitemap.xml",
    )
    assert urls == ["https://x.org/a", "https://x.org/b"] and children == []
    with pytest.raises(ValueError, match="not a sitemap"):
        parse_sitemap(b"<html><body>hi</body></html>", "https://x.org/")
    links = parse_feed(
        b'<?xml version="1.0"?><rss version="2.0"><channel><item>'
        b"<link>https://x.org/1</link></item></channel></rss>",
        "https://x.org/",
    )
    assert links == ["https://x.org/1"]
    with pytest.raises(ValueError):
        parse_feed(b"\x00\x01 not xml at all", "https://x.org/")


def test_retry_after_forms() -> None:
    assert parse_retry_after("7") == 7.0
    now = time.time()
    assert parse_retry_after(formatdate(now + 30, usegmt=True), now=now) == pytest.approx(30, abs=1)
    assert parse_retry_after(formatdate(now - 30, usegmt=True), now=now) == 0.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


def test_format_sniffing_and_decoding() -> None:
    assert sniff_format(b"%PDF-1.4 ...", "application/octet-stream") == "pdf"
    assert sniff_format(b"<!doctype html><p>x", None) == "html"
    assert sniff_format(b"plain words", "text/plain") == "text"
    assert sniff_format(b"\x89PNG\r\n\x1a\n\x00\x00", "image/png") is None
    assert decode("Se\u00f1or".encode("latin-1"), "text/html; charset=iso-8859-1") == "Se\u00f1or"
    assert decode(b'<meta charset="windows-1252"><p>\x93quoted\x94').endswith("\u201cquoted\u201d")
    assert garbled("ok text \x00 with a NUL") and not garbled("A normal sentence. " * 20)


def test_pdf_pages_are_separated_by_form_feeds() -> None:
    ext = extract_bytes(
        minimal_pdf(["Page one text.", "Page two text.", "Page three."], title="Gazette")
    )
    assert ext.format == "pdf" and ext.n_pages == 3 and ext.title == "Gazette"
    pages = ext.text.split("\f")
    assert [p.strip() for p in pages] == ["Page one text.", "Page two text.", "Page three."]
    offset = ext.text.index("three")
    assert ext.text.count("\f", 0, offset) + 1 == 3  # the page of an offset


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"%PDF-1.4 truncated nonsense", "bad_input"),
        (minimal_pdf([""]), "empty"),
        (b"   \n  ", "empty"),
        (b"<html><head><title>x</title></head><body> </body></html>", "empty"),
        (b"\x00\x01\x02binary", "not_text"),
        (b"\x1f\x8b\x08broken gzip", "bad_input"),
    ],
)
def test_extraction_failures_have_reasons(data: bytes, reason: str) -> None:
    with pytest.raises(ExtractFailure) as err:
        extract_bytes(data, name="x")
    assert err.value.reason == reason


def test_given_language_is_kept_and_text_files_decode() -> None:
    ext = extract_bytes(
        b"Informe de campo sobre la trata", content_type="text/plain", language="es"
    )
    assert ext.language == "es" and ext.format == "text"
    assert extract_bytes(b"\xef\xbb\xbfBOM first line\r\nsecond", name="a.txt").text == (
        "BOM first line\nsecond"
    )


def test_signature_is_datasketch_minhash_of_the_shingle_hashes() -> None:
    """The numpy signature equals ``MinHash.update_batch`` over the same shingle hashes."""
    import zlib

    import numpy as np
    from datasketch import MinHash

    d = Deduper()
    long_text = " ".join(f"{STORY} {OTHER_STORY} part {i}" for i in range(60))  # > one block
    for text in (STORY, long_text):
        words = text.lower().encode("utf-8").split()
        n = len(words) - 4
        hashes = np.array([zlib.crc32(w) for w in words], dtype=np.uint64)
        acc = np.zeros(n, dtype=np.uint64)
        for j in range(5):
            acc = (acc * np.uint64(1_000_003) + hashes[j : j + n]) & np.uint64(0xFFFFFFFF)
        reference = MinHash(num_perm=128, seed=1, scheme="affine32", hashfunc=lambda v: v)
        reference.update_batch(np.unique(acc).tolist())
        sig = d.signature(text)
        assert sig is not None
        assert np.array_equal(sig.hashvalues, reference.hashvalues)
        assert sig.jaccard(reference) == 1.0
        restored = d.from_bytes(d.to_bytes(sig))
        assert np.array_equal(restored.hashvalues, reference.hashvalues)


def test_cached_lsh_parameters_build_the_same_index() -> None:
    """A Deduper reuses the LSH bands/rows and permutations: same index, same answers."""
    import numpy as np
    from datasketch import MinHash, MinHashLSH

    for threshold, num_perm in ((0.7, 128), (0.8, 64)):
        fresh = MinHashLSH(threshold=threshold, num_perm=num_perm)
        first, second = Deduper(threshold, num_perm), Deduper(threshold, num_perm)
        for d in (first, second):
            assert (d._lsh.b, d._lsh.r) == (fresh.b, fresh.r)
            assert d._lsh.hashranges == fresh.hashranges
            seeded = MinHash(num_perm=num_perm, seed=1, scheme="affine32").permutations
            assert np.array_equal(d._perms, seeded)
        assert not first._perms.flags.writeable  # shared: nobody may change it
    # the near-duplicate decision is the one an index built from scratch makes
    d = Deduper(0.7, 128)
    original = d.signature(STORY)
    variant = d.signature(STORY.replace("on Monday", "on Monday, officials said,"))
    assert original is not None and variant is not None
    fresh = MinHashLSH(threshold=0.7, num_perm=128)
    fresh.insert("a", original)
    d.add("a", "sha-a", original, key="https://one.example/a")
    match = d.check("sha-b", variant, key="https://two.example/b")
    assert fresh.query(variant) == ["a"]
    assert match is not None and match.duplicate_of == "a"


_JSON_LD_SAMPLES = [
    # whitespace inside and outside strings, nested author, publisher
    """{ "@context": "https://schema.org", "@type" : "NewsArticle",
      "headline" :  "Two   spaced\ttitle",
      "author": { "@type": "Person", "name": "Ana  María López" },
      "publisher": {"@type": "Organization", "name": "The Daily Example"} }""",
    # escapes: \n, \u00e9, a surrogate pair, HTML entities and tags, escaped quotes
    """{"@type":"Article","headline":"Caf\u00e9 \"raid\" \ud83d\ude00 &amp; <b>more</b>",
      "author":[{"@type":"Person","name":"Jean\nDupont"},{"@type":"Person","name":"Li Wei"}]}""",
    # invalid JSON: trafilatura's regex fallback
    """{"@type": "NewsArticle", "author": {"@type": "Person", "name": "Sam Doe"},,
      "publisher": {"name": "Wire Service"}, "headline": "Broken json"  """,
    # an unterminated string and a backslash before a newline
    '{"@type": "WebPage", "name": "odd \\\n value, "publisher": {"name": "X Y"}',
    # unicode whitespace outside strings, a graph
    '{\u00a0"@graph":\u2003[{"@type":"WebSite","name":"Site Name"},'
    '{"@type":"BlogPosting","headline":"Hello","author":{"name":"Kim Park"}}]}',
]


@pytest.mark.parametrize("block", _JSON_LD_SAMPLES)
def test_json_ld_metadata_matches_trafilatura(block: str) -> None:
    """``_meta_json`` is a faster ``trafilatura.metadata.extract_meta_json``: same fields."""
    from trafilatura.metadata import examine_meta, extract_meta_json
    from trafilatura.utils import load_html

    from tipnlp.scrape.extract import _meta_json

    html = (
        "<html><head><title>t</title>"
        f'<script type="application/ld+json">{block}</script>'
        f'<script type="application/settings+json">{block}</script>'
        "</head><body></body></html>"
    )
    fields = ("title", "author", "sitename", "pagetype", "categories", "description")
    ours = _meta_json(load_html(html), examine_meta(load_html(html)))
    theirs = extract_meta_json(load_html(html), examine_meta(load_html(html)))
    assert {f: getattr(ours, f) for f in fields} == {f: getattr(theirs, f) for f in fields}


def test_near_and_exact_duplicates() -> None:
    d = Deduper(threshold=0.7)
    a = d.signature(STORY)
    d.add("a", "sha-a", a, key="https://one.example/a")
    variant = STORY.replace("on Monday", "on Monday, officials said,") + " Updated at noon."
    match = d.check("sha-b", d.signature(variant), key="https://two.example/b")
    assert match is not None and match.kind == "near" and match.duplicate_of == "a"
    assert 0.7 <= match.similarity < 1.0
    assert d.check("sha-c", d.signature(OTHER_STORY), key="https://x/c") is None
    exact = d.check("sha-a", None, key="https://three.example/c")
    assert exact is not None and exact.kind == "exact"
    # a new version of the same page is not its own duplicate
    assert d.check("sha-d", d.signature(variant), key="https://one.example/a") is None
    assert d.signature("too short to compare") is None
    restored = d.from_bytes(d.to_bytes(a))
    assert restored.jaccard(a) == 1.0


@settings(max_examples=60, deadline=None)
@given(
    data=st.one_of(
        st.binary(max_size=400),
        st.builds(
            lambda b: b"<html><body><p>" + b + b"</p></body></html>", st.binary(max_size=300)
        ),
        st.builds(lambda b: b"%PDF-1.4\n" + b, st.binary(max_size=300)),
    ),
    ctype=st.sampled_from([None, "text/html", "text/plain; charset=latin-1", "application/pdf"]),
)
def test_any_bytes_give_text_or_a_reasoned_failure(data: bytes, ctype: str | None) -> None:
    try:
        ext = extract_bytes(data, content_type=ctype, name="item")
    except ExtractFailure as exc:
        assert exc.reason in {"empty", "not_text", "bad_input", "garbled", "encrypted"}
    else:
        assert ext.text.strip() and not garbled(ext.text)


@given(st.text(max_size=40))
def test_retry_after_is_never_negative(value: str) -> None:
    wait = parse_retry_after(value)
    assert wait is None or wait >= 0


def test_head_parser_gives_trafilatura_loaders_metadata_on_real_pages() -> None:
    """Our C-lookup parse of a page head yields the same metadata as ``load_html``."""
    import gzip

    from trafilatura.utils import load_html

    from tipnlp.scrape.extract import Extracted, _page_metadata, _parse_head, metadata_html

    pages = sorted((SHARED / "data" / "article-extraction-benchmark" / "html").glob("*.html.gz"))
    if not pages:
        pytest.skip("the article-extraction benchmark is not beside the project")

    def fields(tree: object, url: str) -> tuple[str | None, ...]:
        out = Extracted(text="x", format="html")
        _page_metadata(tree, url, out)
        return (out.title, out.author, out.sitename, out.published)

    found = 0
    for page in pages:
        head = metadata_html(gzip.decompress(page.read_bytes()).decode("utf-8", "replace"))
        ours = _parse_head(head)
        assert ours is not None, page.name
        url = f"http://127.0.0.1/{page.name[:-3]}"
        mine, theirs = fields(ours, url), fields(load_html(head), url)
        assert mine == theirs, page.name
        found += sum(v is not None for v in mine)
    assert found > 2 * len(pages)  # titles, site names and dates were really found


def test_head_parser_leaves_what_lxml_refuses_to_trafilatura() -> None:
    from tipnlp.scrape.extract import _parse_head, extract_html

    declared = (
        '<?xml version="1.0" encoding="utf-8"?>\n<html><head><title>Decree 12</title>'
        '<meta property="og:site_name" content="Official Gazette"></head>'
        "<body><p>" + "The decree on victim assistance enters into force today. " * 5 + "</p>"
        "</body></html>"
    )
    assert _parse_head(declared) is None  # lxml refuses a str with an encoding declaration
    assert _parse_head("") is None
    out = extract_html(declared)
    assert out.title == "Decree 12"
    assert out.sitename == "Official Gazette"
