"""Polite, defensive HTTP fetching.

One ``Fetcher`` serves a whole run from many threads.  For every URL it:

* accepts only the configured schemes (http, https);
* obeys robots.txt (``urllib.robotparser``, fetched once per host, including
  its Crawl-delay when that is slower than our own rate limit);
* keeps to a per-host rate limit and a per-host concurrency limit;
* sends the project's User-Agent and, when it knows them, the validators of
  the last response (If-None-Match / If-Modified-Since), so unchanged pages
  cost a ``304``;
* retries timeouts, connection errors, 429 and 5xx with exponential backoff,
  honouring ``Retry-After`` up to a cap;
* follows redirects itself, re-checking scheme and robots on every hop, and
  calls a cycle or too many hops ``redirect_loop``;
* checks the content type before reading the body and stops reading once the
  size cap is passed (``too_large``), so a huge page is never held in memory.

Connections come from trafilatura's pool, whose sockets reject non-public peer
addresses after connecting (so DNS rebinding cannot get round it);
``settings.fetch.allow_private_addresses`` turns that off for tests that serve
pages from 127.0.0.1.  Failures raise ``FetchError`` with a short reason code
that becomes the ``status`` of the failure row.
"""

from __future__ import annotations

import email.utils
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urljoin, urlsplit
from urllib.robotparser import RobotFileParser

import urllib3
from trafilatura.downloads import create_pool
from urllib3.exceptions import (
    ConnectTimeoutError,
    DecodeError,
    LocationParseError,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    SSLError,
)

from tipnlp.errors import FetchError
from tipnlp.settings import FetchSettings

#: Media types a page may have (HTML, plain text, PDF).
PAGE_TYPES: frozenset[str] = frozenset(
    {"text/html", "application/xhtml+xml", "text/plain", "application/pdf", "text/markdown"}
)
#: Media types of sitemaps and feeds.
FEED_TYPES: frozenset[str] = frozenset(
    {
        "application/xml",
        "text/xml",
        "application/rss+xml",
        "application/atom+xml",
        "application/rdf+xml",
        "application/x-gzip",
        "application/gzip",
        "application/octet-stream",
        "text/plain",
        "text/html",
    }
)
RETRY_STATUSES: frozenset[int] = frozenset({429, 500, 502, 503, 504})
REDIRECT_STATUSES: frozenset[int] = frozenset({301, 302, 303, 307, 308})
_CHUNK = 64 * 1024


@dataclass
class Response:
    """A fetched resource (``status`` 200-299) or a ``304 Not Modified``."""

    url: str
    final_url: str
    status: int
    body: bytes = b""
    content_type: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    fetched_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def not_modified(self) -> bool:
        """True for a 304 answer to a conditional request."""
        return self.status == 304


def media_type(content_type: str | None) -> str | None:
    """``text/html`` from ``text/html; charset=utf-8`` (lower-cased)."""
    if not content_type:
        return None
    return content_type.split(";", 1)[0].strip().lower() or None


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date)."""
    if not value:
        return None
    value = value.strip()
    # isdigit() alone accepts "²" and other Unicode digits float() refuses.
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = now if now is not None else time.time()
    return max(0.0, when.timestamp() - current)


class _HostGate:
    """Per-host rate limit (minimum spacing of request starts) and concurrency."""

    def __init__(self, interval: float, concurrency: int) -> None:
        self.interval = interval
        self.slots = threading.BoundedSemaphore(max(1, concurrency))
        self._lock = threading.Lock()
        self._next = 0.0

    def wait_turn(self, sleep: Callable[[float], None]) -> None:
        """Block until this host may receive the next request."""
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + self.interval
        if start > now:
            sleep(start - now)


class Fetcher:
    """Fetches URLs politely; share one instance between threads."""

    def __init__(
        self, settings: FetchSettings, *, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self.settings = settings
        self._sleep = sleep
        self._pool = create_pool(
            ssrf_protection=not settings.allow_private_addresses,
            maxsize=max(1, settings.concurrency_per_host),
            block=False,
        )
        self._gates: dict[str, _HostGate] = {}
        self._robots: dict[str, RobotFileParser | None] = {}
        self._robots_locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()
        self.requests = 0

    def close(self) -> None:
        """Close pooled connections."""
        self._pool.clear()

    # ------------------------------------------------------------------ public

    def fetch(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        accept: frozenset[str] = PAGE_TYPES,
    ) -> Response:
        """GET ``url`` following redirects; raise ``FetchError`` on any failure.

        ``etag``/``last_modified`` make the request conditional; a 304 comes
        back as a ``Response`` with ``not_modified`` set and no body.
        """
        headers = {
            "User-Agent": self.settings.user_agent,
            "Accept": "text/html,application/xhtml+xml,application/pdf,text/plain;q=0.9,"
            "application/xml;q=0.8,*/*;q=0.5",
            "Accept-Encoding": "gzip, deflate",
        }
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        current = url
        seen = {url}
        for _hop in range(self.settings.max_redirects + 1):
            self._check_allowed(url, current)
            resp, location = self._get(url, current, headers, accept)
            if location is None:
                assert resp is not None
                return resp
            nxt = urljoin(current, location)
            if nxt in seen:
                raise FetchError(url, "redirect_loop", f"{current} redirects back to {nxt}")
            seen.add(nxt)
            current = nxt
        raise FetchError(url, "redirect_loop", f"more than {self.settings.max_redirects} redirects")

    # ----------------------------------------------------------------- helpers

    def _check_allowed(self, url: str, current: str) -> None:
        """Scheme and robots.txt checks for one hop."""
        parts = urlsplit(current)
        if parts.scheme.lower() not in self.settings.allowed_schemes:
            raise FetchError(url, "bad_scheme", f"scheme {parts.scheme or '(none)'!r} not fetched")
        if not parts.netloc:
            raise FetchError(url, "bad_input", "URL has no host")
        if self.settings.respect_robots and not self._robots_allow(url, current):
            raise FetchError(url, "robots", f"robots.txt of {parts.netloc} disallows {current}")

    def _gate(self, netloc: str) -> _HostGate:
        with self._lock:
            gate = self._gates.get(netloc)
            if gate is None:
                rate = self.settings.rate_limit_per_host
                interval = 1.0 / rate if rate > 0 else 0.0
                gate = _HostGate(interval, self.settings.concurrency_per_host)
                self._gates[netloc] = gate
            return gate

    def _robots_allow(self, url: str, current: str) -> bool:
        parts = urlsplit(current)
        host = f"{parts.scheme.lower()}://{parts.netloc.lower()}"
        with self._lock:
            lock = self._robots_locks.setdefault(host, threading.Lock())
        with lock:
            if host not in self._robots:
                self._robots[host] = self._load_robots(url, host)
            parser = self._robots[host]
        if parser is None:
            return True
        return parser.can_fetch(self.settings.user_agent, current)

    def _load_robots(self, url: str, host: str) -> RobotFileParser | None:
        """Fetch and parse ``host``/robots.txt; None means everything is allowed.

        Per RFC 9309: a 4xx answer allows everything, a 5xx answer disallows
        everything; a network failure is the page's failure too.
        """
        robots_url = host + "/robots.txt"
        headers = {"User-Agent": self.settings.user_agent}
        current = robots_url
        resp: Response | None = None
        for _hop in range(self.settings.max_redirects + 1):
            try:
                resp, location = self._get(url, current, headers, frozenset(), any_type=True)
            except FetchError as exc:
                if exc.reason.startswith("http_4") or exc.reason in ("too_large", "not_text"):
                    return None
                if exc.reason.startswith("http_5"):
                    parser = RobotFileParser()
                    parser.parse(["User-agent: *", "Disallow: /"])
                    return parser
                raise
            if location is None:
                break
            current = urljoin(current, location)
        if resp is None:
            return None
        parser = RobotFileParser(robots_url)
        parser.parse(resp.body.decode("utf-8", errors="replace").splitlines())
        delay = parser.crawl_delay(self.settings.user_agent)
        if delay:
            gate = self._gate(urlsplit(host).netloc)
            gate.interval = max(gate.interval, float(delay))
        return parser

    def _get(
        self,
        url: str,
        current: str,
        headers: dict[str, str],
        accept: frozenset[str],
        *,
        any_type: bool = False,
    ) -> tuple[Response | None, str | None]:
        """One GET with retries: ``(response, None)`` or ``(None, redirect_location)``."""
        s = self.settings
        netloc = urlsplit(current).netloc.lower()
        gate = self._gate(netloc)
        timeout = urllib3.Timeout(connect=s.timeout_s, read=s.timeout_s)
        last_reason, last_detail = "connection", ""
        for attempt in range(s.retries + 1):
            delay = s.backoff_s * (2**attempt)
            with gate.slots:
                gate.wait_turn(self._sleep)
                with self._lock:
                    self.requests += 1
                try:
                    raw = self._pool.request(
                        "GET",
                        current,
                        headers=headers,
                        redirect=False,
                        retries=False,
                        preload_content=False,
                        timeout=timeout,
                    )
                except NameResolutionError as exc:
                    raise FetchError(url, "dns", f"cannot resolve {netloc}") from exc
                except NewConnectionError as exc:
                    if "non-public" in str(exc) or "SSRF" in str(exc):
                        raise FetchError(
                            url, "private_address", f"{netloc} is not a public address"
                        ) from exc
                    last_reason, last_detail = "connection", str(exc.__class__.__name__)
                    raw = None
                except (ConnectTimeoutError, ReadTimeoutError, TimeoutError):
                    last_reason, last_detail = "timeout", f"no answer within {s.timeout_s:g}s"
                    raw = None
                except (ProtocolError, SSLError, OSError) as exc:
                    last_reason, last_detail = "connection", exc.__class__.__name__
                    raw = None
                except (LocationParseError, ValueError) as exc:
                    raise FetchError(url, "bad_input", str(exc)) from exc
                if raw is not None:
                    try:
                        result = self._handle(url, current, raw, accept, any_type)
                    except _Retry as retry:
                        raw.close()  # unread bytes must not go back to the pool
                        last_reason, last_detail = retry.reason, retry.detail
                        if retry.wait is not None:
                            delay = min(retry.wait, s.max_retry_after_s)
                    except BaseException:
                        raw.close()
                        raise
                    else:
                        if result[0] is not None and result[0].body:
                            raw.release_conn()  # fully read: the connection can be reused
                        else:
                            raw.close()
                        return result
            if attempt < s.retries:
                self._sleep(min(delay, s.max_retry_after_s))
        raise FetchError(url, last_reason, last_detail + f" after {s.retries + 1} attempt(s)")

    def _handle(
        self,
        url: str,
        current: str,
        raw: urllib3.BaseHTTPResponse,
        accept: frozenset[str],
        any_type: bool,
    ) -> tuple[Response | None, str | None]:
        """Turn one raw response into a result, a redirect, a retry or an error."""
        s = self.settings
        status = raw.status
        if status in REDIRECT_STATUSES:
            location = raw.headers.get("Location")
            if not location:
                raise FetchError(url, f"http_{status}", "redirect without Location")
            return None, location
        if status in RETRY_STATUSES:
            wait = parse_retry_after(raw.headers.get("Retry-After"))
            raise _Retry(f"http_{status}", f"HTTP {status} at {current}", wait)
        etag = raw.headers.get("ETag")
        last_modified = raw.headers.get("Last-Modified")
        if status == 304:
            return Response(url, current, 304, etag=etag, last_modified=last_modified), None
        if status >= 400 or status < 200:
            raise FetchError(url, f"http_{status}", f"HTTP {status} at {current}")
        ctype = raw.headers.get("Content-Type")
        mtype = media_type(ctype)
        if not any_type and mtype is not None and mtype not in accept:
            raise FetchError(url, "not_text", f"content type {mtype}")
        length = raw.headers.get("Content-Length")
        if length and length.isdigit() and int(length) > s.max_bytes:
            raise FetchError(url, "too_large", f"Content-Length {length} > {s.max_bytes} bytes")
        body = self._read_capped(url, raw)
        return (
            Response(
                url,
                current,
                status,
                body=body,
                content_type=ctype,
                etag=etag,
                last_modified=last_modified,
            ),
            None,
        )

    def _read_capped(self, url: str, raw: urllib3.BaseHTTPResponse) -> bytes:
        """Read the (decoded) body, stopping as soon as it passes the size cap."""
        s = self.settings
        chunks: list[bytes] = []
        size = 0
        deadline = time.monotonic() + max(10 * s.timeout_s, 1.0)
        try:
            for chunk in raw.stream(_CHUNK, decode_content=True):
                size += len(chunk)
                if size > s.max_bytes:
                    raise FetchError(url, "too_large", f"more than {s.max_bytes} bytes")
                if time.monotonic() > deadline:
                    raise _Retry("timeout", "body still arriving after the time limit", None)
                chunks.append(chunk)
        except ReadTimeoutError as exc:
            raise _Retry("timeout", f"body stalled for {s.timeout_s:g}s", None) from exc
        except (ProtocolError, OSError) as exc:
            raise _Retry(
                "connection", f"connection broken ({exc.__class__.__name__})", None
            ) from exc
        except DecodeError as exc:
            raise FetchError(url, "bad_encoding", "cannot decode compressed body") from exc
        return b"".join(chunks)


class _Retry(Exception):
    """Internal: this attempt failed in a way worth retrying."""

    def __init__(self, reason: str, detail: str, wait: float | None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.detail = detail
        self.wait = wait
