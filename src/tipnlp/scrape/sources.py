"""Where documents come from: manifests, command-line items, and discovery.

A *source* is one entry of a corpus manifest (YAML): a list of URLs, an XML
sitemap (or sitemap index), an RSS/Atom feed, a local folder or file, or a WARC
file.  ``discover_*`` functions turn a source into *items* (one page or file
each) without extracting anything, so the network part of a run (discovery and
fetching) is separate from the parsing part (extraction, dedup, writing).
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urljoin, urlsplit

import yaml
from courlan import normalize_url
from lxml import etree
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from tipnlp.errors import ManifestError

SourceType = Literal["urls", "sitemap", "feed", "folder", "warc"]
SOURCE_TYPES: tuple[str, ...] = ("urls", "sitemap", "feed", "folder", "warc")

#: File suffixes a folder source reads; everything else in the folder is ignored.
FOLDER_SUFFIXES: tuple[str, ...] = (
    ".html",
    ".htm",
    ".xhtml",
    ".html.gz",
    ".htm.gz",
    ".pdf",
    ".txt",
    ".text",
    ".md",
)
WARC_SUFFIXES: tuple[str, ...] = (".warc", ".warc.gz", ".arc", ".arc.gz")
KINDS: tuple[str, ...] = ("statute", "treaty", "news", "press_release", "report", "other")


class Source(BaseModel):
    """One manifest entry: what to read and the metadata its documents inherit.

    ``locations`` holds URLs (urls, sitemap, feed) or paths (folder, warc); the
    YAML may spell it ``url``, ``urls``, ``path``, ``paths`` or ``location``.
    ``include``/``exclude`` are regular expressions searched in each discovered
    URL or path; ``languages`` keeps only documents in those ISO 639-1 codes.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    type: SourceType
    locations: tuple[str, ...] = Field(min_length=1)
    kind: str | None = None
    jurisdiction: str | None = None
    language: str | None = None
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    max_items: Annotated[int | None, Field(ge=1)] = None

    @model_validator(mode="before")
    @classmethod
    def _gather_locations(cls, data: Any) -> Any:
        """Accept the natural spellings of the location key(s)."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        found: list[str] = []
        for key in ("url", "urls", "path", "paths", "location", "locations"):
            if key in data:
                value = data.pop(key)
                if isinstance(value, str):
                    found.append(value)
                elif isinstance(value, list | tuple):
                    found.extend(str(v) for v in value)
                else:
                    raise ValueError(f"'{key}' must be a string or a list of strings")
        if found:
            data["locations"] = tuple(found)
        return data

    @field_validator("include", "exclude")
    @classmethod
    def _check_patterns(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        """Fail at load time, not mid-run, on a bad regular expression."""
        for pattern in value:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"bad pattern {pattern!r}: {exc}") from None
        return value

    @field_validator("kind")
    @classmethod
    def _check_kind(cls, value: str | None) -> str | None:
        if value is not None and value not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}")
        return value

    @field_validator("language")
    @classmethod
    def _check_language(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[a-z]{2,3}", value):
            raise ValueError("language must be an ISO 639-1 code such as 'en'")
        return value

    @field_validator("languages", mode="before")
    @classmethod
    def _split_languages(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(v.strip() for v in value.split(",") if v.strip())
        return value

    def accepts(self, location: str) -> bool:
        """True when ``location`` passes the include/exclude patterns."""
        if self.include and not any(re.search(p, location) for p in self.include):
            return False
        return not any(re.search(p, location) for p in self.exclude)


class Manifest(BaseModel):
    """A corpus manifest: a named list of sources."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    description: str | None = None
    sources: list[Source] = Field(min_length=1)


def load_manifest(path: str | Path) -> Manifest:
    """Read and validate a YAML manifest; relative paths resolve from its folder.

    Raises ``ManifestError`` naming the file and the entry at fault.
    """
    p = Path(path)
    if not p.is_file():
        raise ManifestError(f"{p}: no such manifest file")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ManifestError(f"{p}: not valid YAML ({exc})") from None
    if isinstance(data, list):
        data = {"sources": data}
    if not isinstance(data, dict) or not isinstance(data.get("sources"), list):
        raise ManifestError(f"{p}: expected a mapping with a 'sources' list")
    sources: list[Source] = []
    for i, entry in enumerate(data["sources"]):
        label = f"source #{i + 1}"
        if isinstance(entry, dict) and entry.get("name"):
            label += f" ({entry['name']!r})"
        try:
            source = Source.model_validate(entry)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(x) for x in err['loc']) or 'entry'}: {err['msg']}"
                for err in exc.errors()
            )
            raise ManifestError(f"{p}: {label}: {problems}") from None
        if source.type in ("folder", "warc"):
            resolved = tuple(
                str(loc if Path(loc).is_absolute() else (p.parent / loc))
                for loc in source.locations
            )
            source = source.model_copy(update={"locations": resolved})
        sources.append(source)
    names = [s.name for s in sources]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ManifestError(f"{p}: source names must be unique; repeated: {', '.join(dupes)}")
    try:
        return Manifest(name=data.get("name"), description=data.get("description"), sources=sources)
    except ValidationError as exc:
        raise ManifestError(f"{p}: {exc.errors()[0]['msg']}") from None


def infer_type(item: str) -> SourceType:
    """Guess the source type of a command-line item (URL, folder, file)."""
    lowered = item.lower()
    if lowered.startswith(("http://", "https://")):
        path = urlsplit(lowered).path
        if "sitemap" in path or (path.endswith((".xml", ".xml.gz")) and "feed" not in path):
            return "sitemap"
        if path.endswith((".rss", ".atom", "/feed", "/feed/", "/rss", "/rss/")) or "feed" in path:
            return "feed"
        return "urls"
    if lowered.endswith(WARC_SUFFIXES):
        return "warc"
    return "folder"


def sources_from_args(items: Sequence[str]) -> list[Source]:
    """Sources for ``tipnlp ingest ITEM...``: one per item, type inferred.

    Plain page URLs are grouped into one ``urls`` source; local items must exist.
    """
    pages: list[str] = []
    sources: list[Source] = []
    for item in items:
        kind = infer_type(item)
        if kind == "urls":
            pages.append(item)
            continue
        if kind in ("folder", "warc") and not Path(item).exists():
            raise ManifestError(f"{item}: no such file or folder (and not an http(s) URL)")
        name = Path(item).name if kind in ("folder", "warc") else urlsplit(item).netloc + "-" + kind
        sources.append(Source(name=_unique(name, sources), type=kind, locations=(item,)))
    if pages:
        sources.insert(
            0, Source(name=_unique("urls", sources), type="urls", locations=tuple(pages))
        )
    if not sources:
        raise ManifestError("no sources given")
    return sources


def resolve_sources(items: Sequence[str]) -> list[Source]:
    """A single ``.yaml``/``.yml`` item is a manifest; otherwise ``sources_from_args``."""
    if len(items) == 1 and str(items[0]).lower().endswith((".yaml", ".yml")):
        return load_manifest(Path(items[0])).sources
    return sources_from_args([str(i) for i in items])


def _unique(name: str, existing: Sequence[Source]) -> str:
    names = {s.name for s in existing}
    candidate, n = name or "source", 2
    while candidate in names:
        candidate, n = f"{name}-{n}", n + 1
    return candidate


def normalize(url: str) -> str:
    """Canonical form of a URL (courlan): the key for doc ids, state and dedup."""
    try:
        return str(normalize_url(url, strict=False))
    except (ValueError, AttributeError):
        return url.strip()


# --------------------------------------------------------------------------- discovery


@dataclass(frozen=True)
class LocalFile:
    """A file found in a folder source."""

    path: Path


def iter_folder(location: str) -> Iterator[LocalFile]:
    """Files a folder source reads, in sorted order (a single file is allowed)."""
    root = Path(location)
    if root.is_file():
        yield LocalFile(root)
        return
    if not root.is_dir():
        return
    for p in sorted(root.rglob("*")):
        if any(part.startswith(".") for part in p.relative_to(root).parts):
            continue
        if p.is_file() and p.name.lower().endswith(FOLDER_SUFFIXES):
            yield LocalFile(p)


_SITEMAP_NS = re.compile(r"^\{[^}]*\}")


def parse_sitemap(data: bytes, base_url: str) -> tuple[list[str], list[str]]:
    """Parse sitemap XML (gzip allowed): ``(page_urls, child_sitemap_urls)``.

    Raises ``ValueError`` when the bytes are not a sitemap.
    """
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    parser = etree.XMLParser(resolve_entities=False, no_network=True, recover=True, huge_tree=False)
    root = etree.fromstring(data.strip(), parser=parser)
    if root is None:
        raise ValueError("not XML")
    tag = _SITEMAP_NS.sub("", str(root.tag))
    if tag not in ("urlset", "sitemapindex"):
        raise ValueError(f"not a sitemap (root element <{tag}>)")
    locs = [
        urljoin(base_url, (el.text or "").strip())
        for el in root.iter()
        if isinstance(el.tag, str)
        and _SITEMAP_NS.sub("", el.tag) == "loc"
        and (el.text or "").strip()
    ]
    return ([], locs) if tag == "sitemapindex" else (locs, [])


def parse_feed(data: bytes, base_url: str) -> list[str]:
    """Entry links of an RSS or Atom feed (feedparser); raises ``ValueError`` if not a feed."""
    import feedparser

    parsed: Any = feedparser.parse(data, response_headers={"content-location": base_url})
    version = parsed.get("version") or ""
    if not version and not parsed.entries:
        if parsed.get("bozo"):
            raise ValueError(f"not an RSS/Atom feed ({parsed.get('bozo_exception')})")
        if not parsed.get("feed"):
            raise ValueError("not an RSS/Atom feed")
    links: list[str] = []
    for entry in parsed.entries:
        link = entry.get("link")
        if not link:
            for alt in entry.get("links", []):
                if alt.get("href"):
                    link = alt["href"]
                    break
        if link:
            links.append(urljoin(base_url, link))
    return links


def discover_urls(
    source: Source,
    fetch_bytes: Callable[[str], bytes],
    max_depth: int,
    max_urls: int,
) -> tuple[list[str], list[tuple[str, Exception]]]:
    """Page URLs of a urls/sitemap/feed source, filtered and de-duplicated.

    ``fetch_bytes`` fetches a sitemap or feed (and raises ``FetchError``); errors
    on one sitemap or feed are returned beside the URLs found elsewhere so one
    broken index does not lose the rest.
    """
    errors: list[tuple[str, Exception]] = []
    found: list[str] = []
    if source.type == "urls":
        found = list(source.locations)
    elif source.type == "feed":
        for loc in source.locations:
            try:
                found.extend(parse_feed(fetch_bytes(loc), loc))
            except Exception as exc:
                errors.append((loc, exc))
    elif source.type == "sitemap":
        queue: list[tuple[str, int]] = [(loc, 0) for loc in source.locations]
        seen: set[str] = set()
        while queue and len(found) < max_urls:
            loc, depth = queue.pop(0)
            if loc in seen:
                continue
            seen.add(loc)
            try:
                pages, children = parse_sitemap(fetch_bytes(loc), loc)
            except Exception as exc:
                errors.append((loc, exc))
                continue
            found.extend(pages)
            if depth < max_depth:
                queue.extend((c, depth + 1) for c in children)
            elif children:
                errors.append((loc, ValueError(f"sitemap index deeper than {max_depth} levels")))
    else:
        raise ValueError(f"{source.name}: discover_urls does not read {source.type} sources")
    urls: list[str] = []
    keys: set[str] = set()
    limit = min(max_urls, source.max_items or max_urls)
    for url in found:
        key = normalize(url)
        if key in keys or not source.accepts(url):
            continue
        keys.add(key)
        urls.append(url)
        if len(urls) >= limit:
            break
    return urls, errors
