"""Bytes to text: HTML (trafilatura), PDF (pypdf), plain text; language (py3langid).

HTML text is exactly what ``trafilatura.extract(html, include_comments=False)``
returns (the configuration behind its published benchmark score); metadata
(title, author, date, site name) comes from trafilatura's metadata helpers
and htmldate.  We call the cheap ones (meta tags,
JSON-LD, ``<title>``, htmldate without its extensive search) and skip the
ones we have no column for (categories, tags, licence) and the slow author
heuristics, on a parse of the page head and its JSON-LD blocks only
(``metadata_html``): this keeps metadata under a tenth of extraction time.

PDF pages are joined with a form feed (``"\\f"``), so the page of a character
offset is ``text.count("\\f", 0, offset) + 1``; the form feed is whitespace for
the sentence splitter.
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import io
import json
import re
import threading
from dataclasses import dataclass
from typing import Any, Literal

from tipnlp.errors import ExtractionError

Format = Literal["html", "pdf", "text"]

PAGE_BREAK = "\f"
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.I)
_HTML_START = re.compile(
    rb"^\s*(<!--.*?-->\s*)*<(!doctype\s+html|html|head|body|meta|title|div|p)\b", re.I | re.S
)
_MIN_LANGID_CHARS = 20
_HEAD_END = re.compile(r"</head\s*>", re.I)
_JSON_LD = re.compile(r"<script[^>]*application/ld\+json[^>]*>.*?</script\s*>", re.I | re.S)
_MAX_HEAD = 300_000
_DEBRIS = re.compile("[\x01-\x08\x0b\x0e-\x1f\x7f\ufffd]")
#: Characters given to py3langid: plenty for a reliable guess, and bounded cost.
_LANGID_CHARS = 600
_LANGID_LOCK = threading.Lock()
_langid_loaded = False
#: The JSON blocks trafilatura reads metadata from.
_JSON_LD_XPATH = './/script[@type="application/ld+json" or @type="application/settings+json"]'
#: A JSON string literal: the first alternative of trafilatura's ``JSON_MINIFY``
#: (``("(?:\\.|[^"\\])*")|\s``), unrolled so the regex engine runs it faster.
_JSON_STRING = re.compile(r'("[^"\\]*(?:\\.[^"\\]*)*")')
_SURROGATES = re.compile("[\\ud800-\\udfff]")


class ExtractFailure(ExtractionError):
    """Extraction failed; ``reason`` becomes the document's status."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass
class Extracted:
    """Text and metadata of one document."""

    text: str
    format: Format
    title: str | None = None
    author: str | None = None
    published: str | None = None
    sitename: str | None = None
    language: str | None = None
    n_pages: int | None = None


def sniff_format(data: bytes, content_type: str | None, name: str | None = None) -> Format | None:
    """HTML, PDF or plain text from magic bytes, media type and file name; None if binary."""
    head = data[:1024]
    if head.startswith(b"%PDF-"):
        return "pdf"
    mtype = (content_type or "").split(";", 1)[0].strip().lower()
    lname = (name or "").lower().split("?", 1)[0]
    if mtype in ("text/html", "application/xhtml+xml") or _HTML_START.match(head):
        return "html"
    if lname.endswith((".html", ".htm", ".xhtml")) and b"<" in head:
        return "html"
    if mtype == "application/pdf" or lname.endswith(".pdf"):
        return "pdf"  # claims to be a PDF without the magic: pypdf will say what is wrong
    if b"\x00" in head:
        return None
    if mtype.startswith("text/") or not mtype or lname.endswith((".txt", ".text", ".md")):
        return "text"
    return None


def decode(data: bytes, content_type: str | None = None) -> str:
    """Decode bytes robustly: declared charset, then UTF-8, then charset detection."""
    declared = None
    if content_type and "charset=" in content_type.lower():
        declared = content_type.lower().split("charset=", 1)[1].split(";")[0].strip(" \"'")
    if declared is None:
        m = _META_CHARSET.search(data[:4096])
        if m:
            declared = m.group(1).decode("ascii", errors="ignore").lower()
    if declared:
        try:
            return data.decode(declared)
        except (LookupError, UnicodeDecodeError):
            pass
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is not None:
        return str(best)
    return data.decode("utf-8", errors="replace")


def detect_language(text: str) -> str | None:
    """ISO 639-1 code of ``text`` by py3langid; None when too short to tell."""
    sample = text[:_LANGID_CHARS]
    if len(sample.strip()) < _MIN_LANGID_CHARS:
        return None
    lang, _score = _langid().classify(sample)
    return str(lang)


def _langid() -> Any:
    """py3langid with its model loaded exactly once, even when threads race."""
    global _langid_loaded
    import py3langid

    if not _langid_loaded:
        with _LANGID_LOCK:
            if not _langid_loaded:
                py3langid.classify("load the model")
                _langid_loaded = True
    return py3langid


def warm_up() -> None:
    """Load the language model now (about a second), e.g. in a thread while fetching."""
    _langid()


def _clean(value: Any) -> str | None:
    if value is None:
        return None
    s = " ".join(str(value).split())
    return s or None


def extract_html(
    data: bytes | str,
    url: str | None = None,
    *,
    metadata: bool = True,
    content_type: str | None = None,
) -> Extracted:
    """Main text and metadata of an HTML page; ``ExtractFailure('empty')`` if no text."""
    from trafilatura import bare_extraction
    from trafilatura.utils import load_html

    html = decode(data, content_type) if isinstance(data, bytes) else data
    result = bare_extraction(html, url=url, include_comments=False, with_metadata=False)
    text = (getattr(result, "text", None) or "") if result is not None else ""
    text = text.strip()
    if not text:
        raise ExtractFailure("empty", "no main text found in the page")
    out = Extracted(text=text, format="html")
    if metadata:
        head = metadata_html(html)
        tree = _parse_head(head)
        if tree is None:
            tree = load_html(head)
        if tree is not None:
            _page_metadata(tree, url, out)
    return out


def _parse_head(head: str) -> Any:
    """The metadata part parsed by lxml directly; None where trafilatura's loader must do it.

    Same parser options and repairs as trafilatura's ``load_html``, but
    elements get lxml.html's element class from a lookup in C instead of
    lxml.html's Python callback for every element: half the cost of parsing
    a page head, and the same metadata on all 181 pages of the extraction
    benchmark (tested).  lxml refuses a ``str`` that declares an XML encoding
    and an empty document; those go to ``load_html``, which handles both.
    """
    from lxml import html as lxml_html
    from lxml.etree import ParserError
    from trafilatura.utils import repair_faulty_html

    try:
        tree = lxml_html.fromstring(
            repair_faulty_html(head, head[:50].lower()), parser=_head_parser()
        )
    except (ValueError, ParserError):
        return None
    return tree if tree is not None and len(tree) else None


@functools.lru_cache(maxsize=1)
def _head_parser() -> Any:
    """One lxml HTML parser per process, shared by threads as trafilatura shares its own."""
    from lxml import etree
    from lxml import html as lxml_html

    parser = lxml_html.HTMLParser(
        collect_ids=False,
        default_doctype=False,
        encoding="utf-8",
        remove_comments=True,
        remove_pis=True,
    )
    parser.set_element_class_lookup(
        etree.ElementDefaultClassLookup(
            element=lxml_html.HtmlElement,
            comment=lxml_html.HtmlComment,
            pi=lxml_html.HtmlProcessingInstruction,
            entity=lxml_html.HtmlEntity,
        )
    )
    return parser


def metadata_html(html: str) -> str:
    """The part of a page that carries its metadata: the head plus JSON-LD blocks.

    Publishers put title, author, dates and site name in ``<head>`` meta tags
    and in JSON-LD; parsing just those is several times cheaper than a second
    parse (or a copy) of the whole page, which trafilatura has already done.
    """
    end = _HEAD_END.search(html, 0, _MAX_HEAD)
    if end is None:
        return html[:_MAX_HEAD]
    blocks = _JSON_LD.findall(html, end.end())
    return html[: end.start()] + "</head><body>" + "".join(blocks) + "</body></html>"


def _page_metadata(tree: Any, url: str | None, out: Extracted) -> None:
    """Fill title, author, date and site name from the parsed page (best effort)."""
    from htmldate import find_date
    from trafilatura.metadata import examine_meta, extract_sitename, extract_title

    try:
        meta = examine_meta(tree)
        if not (meta.title and meta.author and meta.sitename):
            # JSON-LD fills the gaps; it is the slow part, so only when needed
            # (htmldate reads JSON-LD dates itself).  trafilatura's JSON-LD
            # parser is lenient but not infallible.
            with contextlib.suppress(Exception):
                meta = _meta_json(tree, meta)
        out.title = _clean(meta.title) or _clean(extract_title(tree))
        author = _clean(meta.author)
        out.author = author if author and " " in author else None
        out.sitename = _clean(meta.sitename) or _clean(extract_sitename(tree))
        out.published = find_date(tree, extensive_search=False, original_date=True, url=url)
    except Exception:  # metadata is optional: never lose the text over it
        return


def _meta_json(tree: Any, meta: Any) -> Any:
    """``trafilatura.metadata.extract_meta_json``, same result in about a third of the time.

    trafilatura minifies each JSON-LD block with a regex substitution that
    calls back into Python for every string literal and every whitespace
    character, and drops surrogates one character at a time; both are done
    here with equivalent whole-string operations (split on string literals,
    ``str.split`` for whitespace, which is the same Unicode whitespace set as
    ``\\s``; one regex for surrogates).  The JSON readers themselves are
    trafilatura's.  If its internals move, trafilatura's own function is used.
    """
    try:
        from trafilatura.json_metadata import (
            JSON_UNICODE_REPLACE,
            extract_json,
            extract_json_parse_error,
        )
        from trafilatura.utils import HTML_STRIP_TAGS, trim
    except ImportError:  # pragma: no cover - a trafilatura without these helpers
        from trafilatura.metadata import extract_meta_json

        return extract_meta_json(tree, meta)
    from html import unescape

    for elem in tree.xpath(_JSON_LD_XPATH):
        if not elem.text:
            continue
        parts = _JSON_STRING.split(elem.text)
        parts[::2] = ["".join(p.split()) for p in parts[::2]]
        text = "".join(parts)
        if "\\" in text:  # trafilatura's normalize_json
            text = text.replace("\\n", "").replace("\\r", "").replace("\\t", "")
            text = JSON_UNICODE_REPLACE.sub(lambda m: chr(int(m[1], 16)), text)
            text = unescape(_SURROGATES.sub("", text))
        text = trim(HTML_STRIP_TAGS.sub("", text))
        try:
            meta = extract_json(json.loads(text, strict=False), meta)
        except json.JSONDecodeError:
            meta = extract_json_parse_error(text, meta)
    return meta


def extract_pdf(data: bytes) -> Extracted:
    """Text of a PDF, pages separated by ``PAGE_BREAK``; title/author from its info."""
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise ExtractFailure("encrypted", "PDF is encrypted")
        pages = [(page.extract_text() or "").strip() for page in reader.pages]
        info = reader.metadata
    except ExtractFailure:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, OSError) as exc:
        raise ExtractFailure("bad_input", f"unreadable PDF ({exc})") from None
    text = PAGE_BREAK.join(pages)
    if not text.replace(PAGE_BREAK, "").strip():
        raise ExtractFailure("empty", "PDF has no extractable text (scanned?)")
    out = Extracted(text=text, format="pdf", n_pages=len(pages))
    if info is not None:
        out.title = _clean(info.title)
        out.author = _clean(info.author)
        try:
            created = info.creation_date
        except (ValueError, TypeError):
            created = None
        out.published = created.date().isoformat() if created else None
    return out


def extract_text(data: bytes, content_type: str | None = None) -> Extracted:
    """A plain-text file as is (decoded, newlines normalised); title = first short line."""
    text = decode(data, content_type).replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    if not text.strip():
        raise ExtractFailure("empty", "text file is empty")
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return Extracted(text=text, format="text", title=first if len(first) <= 200 else None)


def extract_bytes(
    data: bytes,
    *,
    content_type: str | None = None,
    name: str | None = None,
    url: str | None = None,
    metadata: bool = True,
    language: str | None = None,
) -> Extracted:
    """Dispatch on the format; detect the language unless ``language`` is given.

    Raises ``ExtractFailure`` with reason ``not_text``, ``empty``, ``bad_input``
    or ``encrypted``.
    """
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise ExtractFailure("bad_input", f"broken gzip data ({exc})") from None
        if name and name.lower().endswith(".gz"):
            name = name[:-3]
    if not data.strip():
        raise ExtractFailure("empty", "no bytes")
    fmt = sniff_format(data, content_type, name)
    if fmt is None:
        raise ExtractFailure("not_text", f"binary content ({content_type or 'unknown type'})")
    if fmt == "pdf":
        out = extract_pdf(data)
    elif fmt == "html":
        out = extract_html(data, url, metadata=metadata, content_type=content_type)
    else:
        out = extract_text(data, content_type)
    if garbled(out.text):
        raise ExtractFailure("garbled", "extracted text is mostly binary or undecodable bytes")
    out.language = language or detect_language(out.text)
    return out


def garbled(text: str) -> bool:
    """True when the text carries binary debris: control or replacement characters.

    A truncated download or a mislabelled binary file yields a few "words"
    mixed with NULs, escape codes and U+FFFD; a real document has (almost)
    none.  More than 1% such characters, or any NUL, marks it as garbage.
    """
    if "\x00" in text:
        return True
    bad = len(_DEBRIS.findall(text))
    return bad > len(text) // 100
