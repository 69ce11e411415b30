"""A real HTTP server on 127.0.0.1 for the scrape tests, with a request log.

The site has a sitemap index, RSS and Atom feeds, an empty feed, robots.txt
that disallows /private/, ETag support (so conditional GETs can be checked),
and misbehaving pages: slow, 500-then-200, 429 with Retry-After, a redirect
loop, a 50 MB page streamed lazily, a 404, an image, broken HTML.  Page texts
are written for these tests.
"""

from __future__ import annotations

import hashlib
import importlib.util
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tipnlp.settings import FetchSettings, ScrapeSettings, Settings

REPO = Path(__file__).resolve().parents[2]


def _load_pdf_maker() -> Callable[..., bytes]:
    spec = importlib.util.spec_from_file_location(
        "make_sample_pdf", REPO / "corpora" / "make_sample_pdf.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.minimal_pdf  # type: ignore[no-any-return]


minimal_pdf = _load_pdf_maker()


def page(title: str, body: str, lang: str = "en") -> bytes:
    """An HTML page with navigation, cookie banner and footer around the article."""
    paras = "".join(f"<p>{p.strip()}</p>" for p in body.strip().split("\n\n"))
    return f"""<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8">
<title>{title}</title><meta name="author" content="Dana Whitfield">
<meta property="article:published_time" content="2024-03-05T10:00:00Z"></head>
<body><nav><a href="/">Home</a> <a href="/news/">News</a> <a href="/law/">Laws</a></nav>
<div class="cookie-banner">We use cookies to improve your experience. Accept all.</div>
<article><h1>{title}</h1>{paras}</article>
<footer>Copyright 2024 Example Monitor. All rights reserved. Contact us.</footer>
</body></html>""".encode()


STATUTE = """
Section 1. In this Act, "trafficking in persons" means the recruitment, transportation,
transfer, harbouring or receipt of persons by means of threat, force, coercion or deception
for the purpose of exploitation.

Section 2. Any person who commits trafficking in persons shall be guilty of an offence and
shall be punished by imprisonment for not less than 8 years and a fine.

Section 3. Victims of trafficking shall be provided with shelter, medical care, counselling
and legal aid, and shall not be prosecuted for acts they were compelled to commit.
"""

SPANISH = """
La policía nacional detuvo ayer a cuatro personas acusadas de trata de personas con fines de
explotación laboral en una finca agrícola del sur del país.

Según la fiscalía, las víctimas eran obligadas a trabajar jornadas de catorce horas sin
salario y con sus documentos retenidos por los empleadores.

Las autoridades trasladaron a las once víctimas a un albergue especializado donde reciben
atención médica, psicológica y asesoría jurídica gratuita.
"""

STORY = """
Prosecutors in the northern province charged five people on Monday with trafficking
dozens of workers from neighbouring countries to fishing boats, where they were held
in debt bondage for months without pay, according to court documents seen by reporters.

The workers were recruited with promises of factory jobs and high wages, but on arrival
their passports were confiscated and they were told they owed large recruitment fees
that could only be repaid by working at sea, the indictment says.

A labour inspection in February found twenty-three men living in cramped quarters below
deck. Police rescued the men and placed them in a government shelter, where they receive
medical care, counselling and help to return home if they wish.

The defendants face up to fifteen years in prison if convicted. A lawyer for two of the
accused said they would plead not guilty and that the charges were exaggerated.

Rights groups welcomed the case but said the province still lacks enough labour
inspectors and interpreters to identify victims on the hundreds of vessels in its ports.
"""

OTHER_STORY = """
The city council approved a new budget for public transport on Thursday, adding three
bus lines to the eastern districts and extending night services on weekends.

Officials said the plan would be funded by a small increase in parking fees and by a
grant from the regional government for cleaner vehicles.

Residents of the outer neighbourhoods have long complained about infrequent buses and
crowded trains during rush hours, according to a survey published last spring.

The first new line is expected to open in September, once drivers have been hired and
trained, the transport department said in a statement.
"""


@dataclass
class Hit:
    """One request the server saw."""

    path: str
    status: int
    headers: dict[str, str]
    at: float = field(default_factory=time.monotonic)


@dataclass
class Site:
    """The server's routes and what it logged; tests change ``pages`` between runs."""

    base: str = ""
    pages: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    log: list[Hit] = field(default_factory=list)
    counters: dict[str, int] = field(default_factory=dict)
    huge_bytes_sent: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        return self.base + path

    def hits(self, path: str) -> list[Hit]:
        return [h for h in self.log if h.path == path]

    def clear(self) -> None:
        with self.lock:
            self.log.clear()


def _build_pages(site: Site) -> None:
    story_b = (
        STORY.replace("on Monday", "on Monday, officials said,").replace(
            "reporters.", "this newspaper."
        )
        + "\n\nThis report was updated with comment from the defence."
    )
    rss_items = "".join(
        f"<item><title>{t}</title><link>{site.url(p)}</link></item>"
        for t, p in (("Five charged", "/news/story-a.html"), ("Five charged", "/news/story-b.html"))
    )
    site.pages.update(
        {
            "/robots.txt": ("text/plain", b"User-agent: *\nDisallow: /private/\n"),
            "/sitemap.xml": (
                "application/xml",
                f"""<?xml version="1.0" encoding="UTF-8"?>
<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
<sitemap><loc>{site.url("/sitemap-laws.xml")}</loc></sitemap>
<sitemap><loc>{site.url("/sitemap-misc.xml")}</loc></sitemap>
</sitemapindex>""".encode(),
            ),
            "/sitemap-laws.xml": (
                "application/xml",
                f"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
<url><loc>{site.url("/law/act.html")}</loc></url>
<url><loc>{site.url("/law/act.pdf")}</loc></url>
<url><loc>{site.url("/private/draft.html")}</loc></url>
</urlset>""".encode(),
            ),
            "/sitemap-misc.xml": (
                "application/xml",
                f"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
<url><loc>{site.url("/news/es.html")}</loc></url>
<url><loc>{site.url("/broken.html")}</loc></url>
<url><loc>{site.url("/notes.txt")}</loc></url>
</urlset>""".encode(),
            ),
            "/feed.rss": (
                "application/rss+xml",
                f"""<?xml version="1.0"?><rss version="2.0"><channel><title>News</title>
{rss_items}</channel></rss>""".encode(),
            ),
            "/feed.atom": (
                "application/atom+xml",
                f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Council</title><id>urn:x</id>
<updated>2024-03-05T10:00:00Z</updated>
<entry><title>Budget</title><id>urn:y</id><updated>2024-03-05T10:00:00Z</updated>
<link href="{site.url("/news/council.html")}"/></entry></feed>""".encode(),
            ),
            "/empty.rss": (
                "application/rss+xml",
                b'<?xml version="1.0"?><rss version="2.0"><channel><title>Quiet</title>'
                b"</channel></rss>",
            ),
            "/law/act.html": ("text/html; charset=utf-8", page("Anti-Trafficking Act", STATUTE)),
            "/law/act.pdf": (
                "application/pdf",
                minimal_pdf(
                    [
                        "Part I. Definitions. Exploitation includes forced labour and servitude.",
                        "Part II. Offences. Trafficking in persons is punishable by imprisonment "
                        "of up to 20 years.",
                    ]
                ),
            ),
            "/private/draft.html": ("text/html", page("Draft", STATUTE)),
            "/news/es.html": (
                "text/html; charset=utf-8",
                page("Detienen a cuatro personas por trata", SPANISH, lang="es"),
            ),
            "/news/story-a.html": ("text/html; charset=utf-8", page("Five charged", STORY)),
            "/news/story-b.html": ("text/html; charset=utf-8", page("Five charged", story_b)),
            "/news/council.html": ("text/html; charset=utf-8", page("Budget", OTHER_STORY)),
            "/broken.html": ("text/html", b"<html><body><div><p\x00\x01 \xff\xfe<<<</"),
            "/notes.txt": (
                "text/plain; charset=utf-8",
                b"Field notes\n\nShelter staff reported that funding cuts left only two "
                b"counsellors for forty victims of trafficking.\n",
            ),
            "/image.png": ("image/png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64),
            "/ok.html": ("text/html; charset=utf-8", page("Budget", OTHER_STORY)),
        }
    )


class _Handler(BaseHTTPRequestHandler):
    site: Site
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def _send(
        self,
        status: int,
        body: bytes = b"",
        ctype: str = "text/html",
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if body:
            self.wfile.write(body)
        self._log(status)

    def _log(self, status: int) -> None:
        with self.site.lock:
            self.site.log.append(Hit(self.path, status, dict(self.headers.items())))

    def _count(self, key: str) -> int:
        with self.site.lock:
            self.site.counters[key] = self.site.counters.get(key, 0) + 1
            return self.site.counters[key]

    def do_GET(self) -> None:
        path = self.path
        site = self.site
        if path == "/slow.html":
            time.sleep(1.5)
            self._send(200, page("Slow", OTHER_STORY))
        elif path == "/flaky.html":
            if self._count(path) == 1:
                self._send(500, b"oops")
            else:
                self._send(200, page("Flaky", "The server recovered after one error."))
        elif path == "/limited.html":
            if self._count(path) == 1:
                self._send(429, b"slow down", headers={"Retry-After": "1"})
            else:
                self._send(200, page("Limited", "The server asked us to wait one second."))
        elif path == "/loop-a":
            self._send(302, headers={"Location": "/loop-b"})
        elif path == "/loop-b":
            self._send(302, headers={"Location": "/loop-a"})
        elif path == "/always-500.html":
            self._send(503, b"down")
        elif path == "/huge.html":
            self._huge()
        elif path in site.pages:
            ctype, body = site.pages[path]
            etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
            if self.headers.get("If-None-Match") == etag:
                self._send(304, headers={"ETag": etag})
            else:
                self._send(200, body, ctype, headers={"ETag": etag})
        else:
            self._send(404, b"not found")

    def _huge(self) -> None:
        """50 MB, generated as it is sent; stops when the client hangs up."""
        total = 50 * 1024 * 1024
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self._log(200)
        chunk = b"<p>" + b"x" * (64 * 1024 - 7) + b"</p>"
        sent = 0
        try:
            self.wfile.write(b"c\r\n<html><body>\r\n")
            while sent < total:
                self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                sent += len(chunk)
                with self.site.lock:
                    self.site.huge_bytes_sent = sent
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.close_connection = True


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients hanging up (timeouts, size cap) are expected here."""
        return None


@pytest.fixture
def site() -> Iterator[Site]:
    """A fresh site served on 127.0.0.1 (random port) for one test."""
    state = Site()
    handler = type("Handler", (_Handler,), {"site": state})
    server = _QuietServer(("127.0.0.1", 0), handler)
    state.base = f"http://127.0.0.1:{server.server_address[1]}"
    _build_pages(state)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Test settings: loopback allowed (tests only), fast timeouts and backoff."""
    return Settings(
        cache_dir=tmp_path / "cache",
        fetch=FetchSettings(
            allow_private_addresses=True,
            timeout_s=0.5,
            retries=2,
            backoff_s=0.05,
            max_retry_after_s=2.0,
            rate_limit_per_host=0,
            concurrency=4,
            concurrency_per_host=4,
            max_bytes=1_000_000,
        ),
        scrape=ScrapeSettings(part_size=4),
    )
