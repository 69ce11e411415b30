"""The ingest stage: sources in, ``documents`` parts out, incrementally.

Two steps, so an orchestrator can retry the network without re-parsing:

1. ``fetch_sources`` discovers items (sitemaps, feeds, folders, WARC records)
   and fetches them into the raw cache, sending conditional requests for pages
   seen before.  It returns one ``FetchRecord`` per item; nothing is written
   to the output.
2. ``build_documents`` extracts text from the cached bytes, detects duplicates,
   and writes ``Document`` rows as Parquet parts (``settings.scrape.part_size``
   per part), recording each part in the scrape state only after the file is
   in place.

``ingest`` runs both.  Every item ends as exactly one of: a new row (``ok``,
``duplicate``, or a failure reason such as ``timeout``/``http_404``/
``robots``/``empty``), ``unchanged`` (no row: nothing new since the last run),
or ``filtered`` (no row: not in the source's languages).

doc ids: ``make_doc_id(key)`` where the key is the normalised URL (courlan),
or ``folder://<source>/<relative path>`` for local files.  When a key already
has a row (a changed page, or a success after a failure) the new row gets
``make_doc_id(key + "#" + content_sha256)`` so doc_id stays unique in the
table; ``url`` groups the versions and ``fetched_at`` orders them.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tipnlp import io
from tipnlp.documents import DUPLICATE, OK, Document, make_doc_id
from tipnlp.errors import FetchError, InputError
from tipnlp.scrape.cache import RawCache, ScrapeState, UrlState
from tipnlp.scrape.dedup import Deduper
from tipnlp.scrape.extract import ExtractFailure, extract_bytes, warm_up
from tipnlp.scrape.fetch import FEED_TYPES, Fetcher
from tipnlp.scrape.sources import Source, discover_urls, iter_folder, normalize
from tipnlp.settings import Settings

Progress = Callable[[str, int, int], None]

FETCHED = "fetched"
UNCHANGED = "unchanged"
FILTERED = "filtered"
#: Statuses that are not failures when computing the error rate.
NOT_FAILURES: frozenset[str] = frozenset({OK, DUPLICATE, UNCHANGED, FILTERED})


@dataclass
class FetchRecord:
    """One discovered item after the network step (JSON-serialisable)."""

    source_name: str
    key: str
    location: str
    status: str
    url: str | None = None
    error: str | None = None
    raw_sha256: str | None = None
    content_type: str | None = None
    http_status: int | None = None
    etag: str | None = None
    last_modified: str | None = None
    fetched_at: str | None = None
    kind: str | None = None
    jurisdiction: str | None = None
    language: str | None = None
    languages: list[str] = field(default_factory=list)
    #: extract again even when the bytes are those of the last run (refresh, from_cache)
    reextract: bool = False


@dataclass
class IngestSummary:
    """What an ingest run did; the CLI and the flow print and judge it."""

    by_status: Counter[str] = field(default_factory=Counter)
    by_source: dict[str, Counter[str]] = field(default_factory=dict)
    n_new: int = 0
    parts: list[str] = field(default_factory=list)
    requests: int = 0
    failures: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def n_items(self) -> int:
        """Items considered (every status, including unchanged)."""
        return sum(self.by_status.values())

    @property
    def n_unchanged(self) -> int:
        """Items with nothing new since the last run."""
        return self.by_status.get(UNCHANGED, 0)

    @property
    def n_failed(self) -> int:
        """Items that failed (fetch, robots, extraction, ...)."""
        return sum(n for s, n in self.by_status.items() if s not in NOT_FAILURES)

    @property
    def error_rate(self) -> float:
        """Share of items that failed (0 when there were none)."""
        return self.n_failed / self.n_items if self.n_items else 0.0

    def failures_by_reason(self) -> dict[str, int]:
        """Failure counts per reason code."""
        return {s: n for s, n in sorted(self.by_status.items()) if s not in NOT_FAILURES}

    def count(self, source: str, status: str) -> None:
        """Count one item of ``source`` with ``status``."""
        self.by_status[status] += 1
        self.by_source.setdefault(source, Counter())[status] += 1


def _now() -> str:
    return datetime.now(UTC).isoformat()


def open_state(settings: Settings, out_dir: Path) -> ScrapeState:
    """The scrape state of ``out_dir``; forgotten if the output was deleted."""
    state = ScrapeState.for_output(settings.cache_dir, out_dir)
    if state.n_docs() and not io.dataset_files(out_dir, "documents"):
        state.reset()
    return state


# ----------------------------------------------------------------------- step 1


class FetchRun:
    """Step 1 as a lazy stream of ``FetchRecord`` in a deterministic order.

    Records come out in source order and, within a source, in discovery order,
    while a thread pool fetches ahead; so ``ingest`` can extract page *n*
    while pages *n+1...* are still arriving.  ``progress`` is called as records
    are consumed.  ``requests`` counts HTTP requests sent (robots.txt included).
    """

    def __init__(
        self,
        sources: Sequence[Source],
        out_dir: Path,
        settings: Settings,
        *,
        refresh: bool = False,
        from_cache: bool = False,
        progress: Progress | None = None,
    ) -> None:
        self.sources = list(sources)
        self.out_dir = Path(out_dir)
        self.settings = settings
        self.refresh = refresh
        self.from_cache = from_cache
        self.progress = progress
        self.requests = 0

    def __iter__(self) -> Iterator[FetchRecord]:
        settings = self.settings
        state = open_state(settings, self.out_dir)
        cache = RawCache(settings.cache_dir / "raw")
        fetcher = Fetcher(settings.fetch)
        seen: set[str] = set()
        try:
            for source in self.sources:
                if source.type in ("urls", "sitemap", "feed"):
                    items = self._web(source, fetcher, state, cache)
                elif source.type == "folder":
                    items = self._folder(source, cache)
                else:
                    items = self._warcs(source, cache)
                for rec in items:
                    if rec.key in seen and rec.status in (FETCHED, UNCHANGED):
                        continue  # the same page listed by two sources: keep the first
                    seen.add(rec.key)
                    rec.reextract = self.refresh or self.from_cache
                    yield rec
                    self.requests = fetcher.requests
        finally:
            self.requests = fetcher.requests
            fetcher.close()
            try:
                cache.close()  # commits the index: a separate extract step sees every page
            finally:
                state.close()

    def _tick(self, source: Source, done: int, total: int) -> None:
        if self.progress is not None:
            self.progress(source.name, done, total)

    def _web(
        self, source: Source, fetcher: Fetcher, state: ScrapeState, cache: RawCache
    ) -> Iterator[FetchRecord]:
        settings = self.settings

        def fetch_listing(url: str) -> bytes:
            return fetcher.fetch(url, accept=FEED_TYPES).body

        urls, errors = discover_urls(
            source,
            fetch_listing,
            settings.scrape.max_sitemap_depth,
            settings.scrape.max_urls_per_source,
        )
        for loc, exc in errors:
            reason = exc.reason if isinstance(exc, FetchError) else f"bad_{source.type}"
            yield _base(source, normalize(loc), loc, reason, url=loc, error=str(exc))
        total = len(urls)
        self._tick(source, 0, total)

        def one(url: str) -> FetchRecord:
            key = normalize(url)
            known = state.url(key)
            if self.from_cache and known and cache.has(known.raw_sha256):
                return _base(
                    source,
                    key,
                    url,
                    FETCHED,
                    url=url,
                    raw_sha256=known.raw_sha256,
                    etag=known.etag,
                    last_modified=known.last_modified,
                    http_status=200,
                )
            # a page that gave a document (or was filtered out) is revalidated
            conditional = (
                not self.refresh
                and known is not None
                and (known.doc_id is not None or known.status == FILTERED)
            )
            try:
                resp = fetcher.fetch(
                    url,
                    etag=known.etag if conditional and known else None,
                    last_modified=known.last_modified if conditional and known else None,
                )
            except FetchError as exc:
                return _base(source, key, url, exc.reason, url=url, error=str(exc))
            except Exception as exc:  # one odd page must never stop the batch
                return _base(
                    source,
                    key,
                    url,
                    "fetch_error",
                    url=url,
                    error=f"{url}: {exc.__class__.__name__}: {exc}",
                )
            if resp.not_modified:
                return _base(source, key, url, UNCHANGED, url=url, http_status=304)
            return _base(
                source,
                key,
                url,
                FETCHED,
                url=resp.final_url,
                raw_sha256=cache.put(resp.body),
                content_type=resp.content_type,
                http_status=resp.status,
                etag=resp.etag,
                last_modified=resp.last_modified,
            )

        pool = ThreadPoolExecutor(
            max_workers=max(1, settings.fetch.concurrency), thread_name_prefix="tipnlp-fetch"
        )
        try:
            futures = [pool.submit(one, u) for u in urls]
            for done, fut in enumerate(futures, 1):
                yield fut.result()
                self._tick(source, done, total)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def _folder(self, source: Source, cache: RawCache) -> Iterator[FetchRecord]:
        files: list[tuple[str, Path]] = []
        for loc in source.locations:
            root = Path(loc)
            if not root.exists():
                yield _base(
                    source,
                    f"folder://{source.name}/{loc}",
                    loc,
                    "bad_input",
                    error=f"{loc}: no such file or folder",
                )
                continue
            for item in iter_folder(loc):
                rel = item.path.name if root.is_file() else item.path.relative_to(root).as_posix()
                if source.accepts(str(item.path)):
                    files.append((f"folder://{source.name}/{rel}", item.path))
        if source.max_items:
            files = files[: source.max_items]
        self._tick(source, 0, len(files))
        for n, (key, path) in enumerate(files, 1):
            try:
                data = path.read_bytes()
            except OSError as exc:
                yield _base(source, key, str(path), "bad_input", error=f"{path}: {exc}")
            else:
                yield _base(source, key, str(path), FETCHED, raw_sha256=cache.put(data))
            self._tick(source, n, len(files))

    def _warcs(self, source: Source, cache: RawCache) -> Iterator[FetchRecord]:
        from warcio.archiveiterator import ArchiveIterator

        limit = self.settings.fetch.max_bytes
        for loc in source.locations:
            path = Path(loc)
            if not path.is_file():
                yield _base(
                    source, f"warc://{loc}", loc, "bad_input", error=f"{loc}: no such WARC file"
                )
                continue
            n = 0
            records: list[FetchRecord] = []
            try:
                with path.open("rb") as fh:
                    for rec in ArchiveIterator(fh):
                        if rec.rec_type not in ("response", "resource"):
                            continue
                        uri = rec.rec_headers.get_header("WARC-Target-URI") or ""
                        if not uri or not source.accepts(uri):
                            continue
                        if source.max_items and n >= source.max_items:
                            break
                        n += 1
                        records.append(_warc_record(source, loc, rec, n, limit, cache))
            except Exception as exc:  # warcio raises several kinds on damaged archives
                records.append(
                    _base(
                        source,
                        f"warc://{loc}",
                        loc,
                        "bad_input",
                        error=f"{loc}: unreadable WARC after {n} record(s) ({exc})",
                    )
                )
            self._tick(source, 0, len(records))
            for done, record in enumerate(records, 1):
                yield record
                self._tick(source, done, len(records))


def _warc_record(
    source: Source, loc: str, rec: Any, n: int, limit: int, cache: RawCache
) -> FetchRecord:
    """One WARC response/resource record as a fetch record (bytes into the cache)."""
    uri = rec.rec_headers.get_header("WARC-Target-URI") or ""
    rid = rec.rec_headers.get_header("WARC-Record-ID") or str(n)
    where = f"{loc}#{rid.strip('<>')}"
    key = normalize(uri)
    status_code: int | None = None
    ctype = rec.rec_headers.get_header("Content-Type")
    if rec.http_headers is not None and rec.rec_type == "response":
        code = rec.http_headers.get_statuscode()
        status_code = int(code) if code and code.isdigit() else None
        ctype = rec.http_headers.get_header("Content-Type")
    body = rec.content_stream().read(limit + 1)
    if status_code is not None and not 200 <= status_code < 300:
        return _base(
            source,
            key,
            where,
            f"http_{status_code}",
            url=uri,
            http_status=status_code,
            error=f"archived response was HTTP {status_code}",
        )
    if len(body) > limit:
        return _base(source, key, where, "too_large", url=uri, error=f"more than {limit} bytes")
    missing = getattr(rec.raw_stream, "limit", 0)
    if isinstance(missing, int) and missing > 0:
        return _base(
            source,
            key,
            where,
            "truncated",
            url=uri,
            error=f"{where}: WARC record cut short ({missing} bytes missing)",
        )
    return _base(
        source,
        key,
        where,
        FETCHED,
        url=uri,
        raw_sha256=cache.put(body),
        content_type=ctype,
        http_status=status_code,
    )


def fetch_sources(
    sources: Sequence[Source],
    out_dir: Path,
    settings: Settings,
    *,
    refresh: bool = False,
    from_cache: bool = False,
    progress: Progress | None = None,
) -> tuple[list[FetchRecord], int]:
    """Step 1 in full: every record, and the number of HTTP requests sent.

    ``refresh`` drops conditional requests (a full re-fetch); ``from_cache``
    reuses cached bytes of URLs fetched before instead of the network.
    """
    run = FetchRun(
        sources, out_dir, settings, refresh=refresh, from_cache=from_cache, progress=progress
    )
    records = list(run)
    return records, run.requests


def _base(source: Source, key: str, location: str, status: str, **kw: Any) -> FetchRecord:
    return FetchRecord(
        source_name=source.name,
        key=key,
        location=location,
        status=status,
        kind=source.kind,
        jurisdiction=source.jurisdiction,
        language=source.language,
        languages=list(source.languages),
        fetched_at=_now(),
        **kw,
    )


def save_fetch_log(records: Sequence[FetchRecord], path: Path) -> Path:
    """Write records as JSONL (atomic) for a later ``build_documents``."""
    io.write_jsonl_atomic(path, (asdict(r) for r in records))
    return path


def load_fetch_log(path: Path) -> list[FetchRecord]:
    """Read records written by ``save_fetch_log``."""
    try:
        return [FetchRecord(**obj) for obj in io.read_jsonl(path)]
    except TypeError as exc:
        raise InputError(f"{path}: not a fetch log ({exc})") from None


# ----------------------------------------------------------------------- step 2


def _part_name(source_name: str, docs: Sequence[Document]) -> str:
    slug = re.sub(r"[^A-Za-z0-9]+", "-", source_name).strip("-").lower()[:40] or "source"
    h = hashlib.sha256()
    for d in docs:
        h.update(f"{d.doc_id}\t{d.content_sha256}\t{d.status}\n".encode())
    return f"{slug}-{h.hexdigest()[:16]}"


class _Writer:
    """Buffers rows per source and writes a part (then records it) when full.

    The raw cache's index is committed before a part is recorded, so the
    state never names raw bytes that another process (a later ``--from-cache``
    run) could not find.
    """

    def __init__(
        self,
        out_dir: Path,
        state: ScrapeState,
        cache: RawCache,
        deduper: Deduper,
        size: int,
        summary: IngestSummary,
    ) -> None:
        self.out_dir, self.state, self.cache, self.deduper = out_dir, state, cache, deduper
        self.size, self.summary = size, summary
        self.docs: list[Document] = []
        self.keys: list[str] = []
        self.urls: list[UrlState] = []
        self.sigs: list[tuple[str, bytes]] = []
        self.source = ""
        #: doc ids written or buffered during this run
        self.pending: set[str] = set()

    def add(
        self,
        source: str,
        doc: Document | None,
        key: str | None,
        url_state: UrlState | None,
        sig: bytes | None = None,
    ) -> None:
        if source != self.source:
            self.flush()
            self.source = source
        if doc is not None and key is not None:
            self.pending.add(doc.doc_id)
            self.docs.append(doc)
            self.keys.append(key)
            if sig is not None:
                self.sigs.append((doc.doc_id, sig))
        if url_state is not None:
            self.urls.append(url_state)
        if len(self.docs) >= self.size:
            self.flush()

    def flush(self) -> None:
        part = ""
        if self.docs:
            part = _part_name(self.source, self.docs)
            io.write_part(self.out_dir, "documents", part, [d.to_row() for d in self.docs])
            self.summary.parts.append(part)
            self.summary.n_new += len(self.docs)
        if self.docs or self.urls:
            self.cache.flush()
            self.state.record_batch(
                self.urls,
                [
                    (d.doc_id, k, d.content_sha256, d.status)
                    for d, k in zip(self.docs, self.keys, strict=True)
                ],
                part,
                [
                    (d.content_sha256, d.doc_id)
                    for d in self.docs
                    if d.content_sha256 and d.status == OK
                ],
                self.sigs,
            )
        self.docs, self.keys, self.urls, self.sigs = [], [], [], []


def build_documents(
    records: Iterable[FetchRecord],
    out_dir: Path,
    settings: Settings,
    *,
    progress: Progress | None = None,
    requests: int = 0,
    source_names: Sequence[str] = (),
) -> IngestSummary:
    """Step 2: extract, deduplicate and write the documents of ``records``.

    ``records`` may be a list (progress is then reported per source as
    ``"<source> (extract)"``) or a live ``FetchRun``, which reports progress
    itself and whose request count ends up in the summary.
    """
    out_dir = Path(out_dir)
    state = open_state(settings, out_dir)
    cache = RawCache(settings.cache_dir / "raw")
    summary = IngestSummary(requests=requests)
    for name in source_names:  # a source that yielded nothing still shows up
        summary.by_source.setdefault(name, Counter())
    deduper = _load_deduper(settings, state)
    writer = _Writer(out_dir, state, cache, deduper, max(1, settings.scrape.part_size), summary)
    totals = Counter(r.source_name for r in records) if isinstance(records, Sequence) else None
    done: Counter[str] = Counter()
    try:
        for rec in records:
            _one_record(rec, settings, state, cache, deduper, writer, summary)
            done[rec.source_name] += 1
            if progress and totals is not None:
                name = rec.source_name
                progress(f"{name} (extract)", done[name], totals[name])
        writer.flush()
    finally:
        try:
            cache.close()
        finally:
            state.close()
    if isinstance(records, FetchRun):
        summary.requests = records.requests
    return summary


def _load_deduper(settings: Settings, state: ScrapeState) -> Deduper:
    cfg = settings.scrape
    deduper = Deduper(cfg.near_duplicate_threshold, cfg.minhash_permutations)
    for content_sha256, doc_id, key in state.hashes():
        deduper.add_known_hash(content_sha256, doc_id, key)
    for doc_id, blob, key in state.signatures():
        sig = deduper.from_bytes(blob)
        if len(sig.hashvalues) == cfg.minhash_permutations:
            deduper.add(doc_id, f"sig:{doc_id}", sig, key)
    return deduper


def _new_doc_id(key: str, content: str | None, state: ScrapeState, writer: _Writer) -> str | None:
    """doc_id for a new row of ``key``; None when that exact row exists already.

    Rows still buffered in ``writer`` count as existing, so one run that meets
    the same key twice (a WARC holding two captures) keeps doc_id unique.
    """

    def taken(doc_id: str) -> bool:
        return doc_id in writer.pending or state.has_doc(doc_id)

    base = make_doc_id(key)
    if not taken(base):
        return base
    versioned = make_doc_id(f"{key}#{content}")
    return None if taken(versioned) else versioned


def _one_record(
    rec: FetchRecord,
    settings: Settings,
    state: ScrapeState,
    cache: RawCache,
    deduper: Deduper,
    writer: _Writer,
    summary: IngestSummary,
) -> None:
    src = rec.source_name
    known = state.url(rec.key)
    common: dict[str, Any] = {
        "url": rec.url,
        "source": rec.location,
        "source_name": src,
        "kind": rec.kind,
        "jurisdiction": rec.jurisdiction,
        "http_status": rec.http_status,
        "etag": rec.etag,
        "last_modified": rec.last_modified,
        "raw_sha256": rec.raw_sha256,
        "fetched_at": datetime.fromisoformat(rec.fetched_at) if rec.fetched_at else None,
    }
    if rec.status == UNCHANGED:
        summary.count(src, UNCHANGED)
        return
    if rec.status != FETCHED:
        _failure(rec, rec.status, rec.error or rec.status, known, state, writer, summary, common)
        return
    if (
        not rec.reextract
        and known is not None
        and known.raw_sha256 == rec.raw_sha256
        and known.status in (OK, DUPLICATE, FILTERED)
        and (known.status == FILTERED or state.has_doc(str(known.doc_id)))
    ):
        # the same bytes as last time (a server without validators, a local
        # file): the same document, so skip extraction
        known.etag, known.last_modified = rec.etag, rec.last_modified
        summary.count(src, UNCHANGED)
        writer.add(src, None, None, known)
        return
    try:
        if not rec.raw_sha256:
            raise ExtractFailure("bad_input", "no bytes recorded")
        data = cache.get(rec.raw_sha256)
        ext = extract_bytes(
            data,
            content_type=rec.content_type,
            name=rec.location,
            url=rec.url,
            metadata=settings.scrape.page_metadata,
            language=rec.language,
        )
    except FileNotFoundError:
        _failure(
            rec,
            "cache_miss",
            f"{rec.location}: raw bytes missing from the cache",
            known,
            state,
            writer,
            summary,
            common,
        )
        return
    except ExtractFailure as exc:
        _failure(rec, exc.reason, f"{rec.location}: {exc}", known, state, writer, summary, common)
        return
    except Exception as exc:  # a parser bug on one document must not stop the batch
        message = f"{rec.location}: {exc.__class__.__name__}: {exc}"
        _failure(rec, "extract_error", message, known, state, writer, summary, common)
        return
    doc = Document(
        doc_id="",
        text=ext.text,
        title=ext.title,
        author=ext.author,
        sitename=ext.sitename,
        language=ext.language,
        published=ext.published,
        **common,
    )
    sha = doc.content_sha256
    url_state = UrlState(rec.key, rec.etag, rec.last_modified, rec.raw_sha256, sha, None, OK)
    if rec.languages and ext.language not in rec.languages:
        url_state.status = FILTERED
        summary.count(src, FILTERED)
        writer.add(src, None, None, url_state)
        return
    same_text = known is not None and known.content_sha256 == sha and known.doc_id is not None
    if same_text and known is not None and state.has_doc(str(known.doc_id)):
        url_state.doc_id, url_state.status = known.doc_id, known.status
        summary.count(src, UNCHANGED)
        writer.add(src, None, None, url_state)
        return
    doc_id = _new_doc_id(rec.key, sha, state, writer)
    if doc_id is None:  # the text went back to a version written before
        url_state.doc_id = make_doc_id(f"{rec.key}#{sha}")
        summary.count(src, UNCHANGED)
        writer.add(src, None, None, url_state)
        return
    doc.doc_id = doc_id
    url_state.doc_id = doc_id
    sig = deduper.signature(doc.text)
    match = deduper.check(sha or "", sig, rec.key)
    if match is not None:
        doc.status, doc.duplicate_of, doc.error = DUPLICATE, match.duplicate_of, match.message()
        url_state.status = DUPLICATE
        sig_bytes = None
    else:
        deduper.add(doc_id, sha or "", sig, rec.key)
        sig_bytes = deduper.to_bytes(sig) if sig is not None else None
    summary.count(src, doc.status)
    writer.add(src, doc, rec.key, url_state, sig_bytes)


def _failure(
    rec: FetchRecord,
    reason: str,
    message: str,
    known: UrlState | None,
    state: ScrapeState,
    writer: _Writer,
    summary: IngestSummary,
    common: dict[str, Any],
) -> None:
    """Count a failure and write its row, unless the same failure was written before."""
    summary.count(rec.source_name, reason)
    if len(summary.failures) < 1000:
        summary.failures.append((rec.location, reason, message))
    if (
        known is not None
        and known.status == reason
        and known.doc_id
        and state.has_doc(known.doc_id)
    ):
        return
    if known is not None and known.status in (OK, DUPLICATE):
        # the page worked before: keep its last good version, record nothing new
        return
    doc_id = _new_doc_id(rec.key, reason, state, writer)
    if doc_id is None:
        return
    doc = Document.failed(doc_id, reason, message, **common)
    url_state = UrlState(rec.key, None, None, None, None, doc_id, reason)
    writer.add(rec.source_name, doc, rec.key, url_state)


def ingest(
    sources: Sequence[Source],
    out_dir: Path,
    settings: Settings,
    *,
    refresh: bool = False,
    from_cache: bool = False,
    progress: Progress | None = None,
) -> IngestSummary:
    """Fetch and extract ``sources`` into ``out_dir/documents`` parts (see module doc).

    A second run fetches only new or changed pages (conditional GET, content
    hash) and appends only new documents; ``refresh`` forces a full pass
    (every page re-fetched and re-extracted; rows are still written only for
    text that changed).  ``from_cache`` re-extracts from cached raw bytes
    without touching the network.
    """
    # load the language model while the first pages are on their way
    warm = threading.Thread(target=warm_up, name="tipnlp-langid-warmup", daemon=True)
    warm.start()
    run = FetchRun(
        sources, out_dir, settings, refresh=refresh, from_cache=from_cache, progress=progress
    )
    return build_documents(run, out_dir, settings, source_names=[s.name for s in sources])


def iter_statuses(summary: IngestSummary) -> Iterator[tuple[str, int]]:
    """``(status, count)`` pairs, most frequent first (for printing)."""
    yield from summary.by_status.most_common()
