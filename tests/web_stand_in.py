"""A local web site for link tests: pages that look like real news pages (navigation, a
cookie banner, ads, related links, comments, a footer around the article), served over real
HTTP on 127.0.0.1 with ETag / Last-Modified, redirects and the odd broken answer."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PARAGRAPHS = [
    "The harbour council of Port Meridian voted on Tuesday to replace the old swing bridge "
    "over the Vell canal with a lifting bridge, ending a dispute that had lasted six years.",
    "The new bridge will cost 48 million euros and is to open to traffic in the spring of "
    "2029, council chair Ingrid Solvang told reporters after the vote.",
    "Fishing crews had complained that the swing bridge, built in 1911, jammed open twice "
    "last winter and left the northern quays cut off for days.",
    "Construction will be carried out by the Ostra Works consortium, which won the tender "
    "ahead of two foreign bidders, according to the council's published minutes.",
    "During the works a ferry will run every twenty minutes between the two quays, free of "
    "charge for residents of the harbour district.",
]


def news_page(title: str, paragraphs: list[str], canonical: str, date: str) -> str:
    body = "\n".join(f"<p>{p}</p>" for p in paragraphs)
    return f"""<!DOCTYPE html>
<html lang="en"><head>
<meta charset="utf-8"><title>{title} | Meridian Daily</title>
<link rel="canonical" href="{canonical}">
<meta property="og:site_name" content="Meridian Daily">
<meta property="og:title" content="{title}">
<meta property="article:published_time" content="{date}T08:30:00+00:00">
<script>window.dataLayer = [{{"event": "pageview"}}];</script>
</head><body>
<div id="cookie-banner">We use cookies to improve your experience. <button>Accept all</button></div>
<header><a href="/">Meridian Daily</a>
<nav><ul><li><a href="/news">News</a></li><li><a href="/sport">Sport</a></li>
<li><a href="/weather">Weather</a></li>
<li><a href="/subscribe">Subscribe for 1 euro</a></li></ul></nav>
</header>
<div class="ad-slot">ADVERTISEMENT: Summer sale! Up to 70% off garden furniture.</div>
<main><article>
<h1>{title}</h1>
<div class="byline">By Tomas Reyes · {date}</div>
{body}
</article>
<aside class="related"><h3>Read more</h3><ul>
<li><a href="/a">Ten things to do in Port Meridian this weekend</a></li>
<li><a href="/b">Weather warning: storms expected on the coast</a></li></ul></aside>
<section class="comments"><h3>3 comments</h3>
<div class="comment"><p>About time! That bridge was a disgrace. - harbourfan</p></div>
<div class="comment"><p>Who is paying for this? Not me I hope. - Gregor77</p></div>
</section></main>
<footer><p>© 2026 Meridian Daily. All rights reserved.</p>
<a href="/privacy">Privacy policy</a> <a href="/terms">Terms</a></footer>
</body></html>"""


@dataclass
class Resource:
    body: bytes
    content_type: str = "text/html; charset=utf-8"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha256(self.body).hexdigest()[:16] + '"'


@dataclass
class Site:
    """Paths and what they answer; ``hits`` counts requests, ``downloads`` full answers."""

    port: int = 0
    resources: dict[str, Resource] = field(default_factory=dict)
    hits: dict[str, int] = field(default_factory=dict)
    downloads: dict[str, int] = field(default_factory=dict)

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def page(self, path: str, html: str) -> str:
        self.resources[path] = Resource(html.encode())
        return self.url(path)


def _handler(site: Site) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            site.hits[self.path] = site.hits.get(self.path, 0) + 1
            resource = site.resources.get(self.path)
            if resource is None:
                self.send_error(404)
                return
            if resource.status == 200 and self.headers.get("If-None-Match") == resource.etag:
                self.send_response(304)
                self.send_header("ETag", resource.etag)
                self.end_headers()
                return
            self.send_response(resource.status)
            self.send_header("Content-Type", resource.content_type)
            self.send_header("Content-Length", str(len(resource.body)))
            if resource.status == 200:
                self.send_header("ETag", resource.etag)
            for name, value in resource.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(resource.body)
            site.downloads[self.path] = site.downloads.get(self.path, 0) + 1

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@contextmanager
def serving() -> Iterator[Site]:
    site = Site()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(site))
    site.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Entry:
    """One feed entry; ``updated`` changes when the site edits it."""

    title: str
    link: str
    updated: str = "2026-11-24T08:30:00Z"
    summary: str = ""


def rss(title: str, entries: list[Entry]) -> bytes:
    """An RSS 2.0 document, newest entry first."""
    items = "".join(
        f"<item><title>{e.title}</title><link>{e.link}</link><guid>{e.link}</guid>"
        f"<pubDate>{_rfc822(e.updated)}</pubDate><description>{e.summary}</description></item>"
        for e in entries
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        f"<title>{title}</title><link>https://meridian-daily.example/</link>"
        f"<description>News</description>{items}</channel></rss>"
    ).encode()


def atom(title: str, entries: list[Entry]) -> bytes:
    """An Atom 1.0 document with relative links (resolved against the feed's address)."""
    items = "".join(
        f'<entry><title>{e.title}</title><link href="{e.link}"/><id>tag:{e.link}</id>'
        f"<updated>{e.updated}</updated><summary>{e.summary}</summary></entry>"
        for e in entries
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>{title}</title><id>tag:feed</id><updated>2026-11-24T08:30:00Z</updated>"
        f"{items}</feed>"
    ).encode()


def _rfc822(moment: str) -> str:
    from datetime import datetime
    from email.utils import format_datetime

    return format_datetime(datetime.fromisoformat(moment.replace("Z", "+00:00")))
