"""Read one RSS or Atom feed from the web, safely, into the entries quoth may add.

The feed comes through the same guarded fetcher as a link (public addresses only, size and
time limits, conditional requests). Before feedparser sees it, defusedxml checks that it is
XML at all, declares no entities (an XML bomb expands a few bytes into gigabytes), does not
nest absurdly deep and is an RSS or Atom document. A web page given instead of its feed is
searched for the feed it names (``<link rel="alternate">``), as feed readers do.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import urljoin

from quoth.feeds import FeedError
from quoth.web.fetch import HTML_TYPES, FetchError, FetchLimits, Page, fetch_page, normalise_link

FEED_TYPES = (
    "application/rss+xml",
    "application/atom+xml",
    "application/rdf+xml",
    "application/xml",
    "text/xml",
    "text/plain",  # static hosts serve .rss and .atom files as text
)
MAX_DEPTH = 32
"""RSS and Atom nest a few levels; far deeper is an attack on the parser, not a feed."""
_ROOTS = ("rss", "feed", "RDF")


@dataclass(frozen=True, slots=True)
class FeedItem:
    """One entry: ``key`` identifies it across refreshes, ``version`` changes when it does."""

    key: str
    link: str
    title: str | None
    published: str | None
    version: str


@dataclass(frozen=True, slots=True)
class FeedDocument:
    url: str
    """The feed's own address (a web page's named feed, when a page was given)."""
    title: str | None
    items: list[FeedItem]
    etag: str | None
    last_modified: str | None


def read_feed(
    url: str,
    limits: FetchLimits,
    etag: str | None = None,
    last_modified: str | None = None,
) -> FeedDocument | None:
    """The feed at ``url``, or None when the site says it has not changed (304)."""
    page = _fetch(url, limits, etag, last_modified)
    if page.body is None:
        return None
    if page.content_type in HTML_TYPES and not _looks_like_xml(page.body):
        named = discover_feed(page.body, page.url)
        if named is None:
            raise FeedError("That is a web page, not a feed, and it names no RSS or Atom feed.")
        page = _fetch(named, limits)
        assert page.body is not None
        if page.content_type in HTML_TYPES and not _looks_like_xml(page.body):
            raise FeedError("The feed that page names is a web page too, not a feed.")
    return parse_feed(page.body or b"", page.url, page.etag, page.last_modified)


def _fetch(
    url: str, limits: FetchLimits, etag: str | None = None, modified: str | None = None
) -> Page:
    try:
        return fetch_page(url, limits, etag, modified, accept=(*FEED_TYPES, *HTML_TYPES))
    except FetchError as error:
        raise FeedError(str(error).replace("That link", "That address")) from None


def _looks_like_xml(body: bytes) -> bool:
    head = body[:512].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return head.startswith((b"<?xml", b"<rss", b"<feed", b"<rdf:rdf"))


def discover_feed(html: bytes, base: str) -> str | None:
    """The first RSS or Atom feed a page names in its head."""
    from selectolax.lexbor import LexborHTMLParser

    tree = LexborHTMLParser(html)
    for node in tree.css('link[rel="alternate"]'):
        kind = (node.attributes.get("type") or "").lower()
        href = node.attributes.get("href")
        if href and kind in ("application/rss+xml", "application/atom+xml"):
            try:
                return normalise_link(urljoin(base, href))
            except FetchError:
                continue
    return None


def check_xml(body: bytes) -> None:
    """Refuse what is not a well-formed, entity-free, shallow RSS or Atom document."""
    from xml.etree.ElementTree import ParseError

    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import iterparse

    depth = 0
    root: str | None = None
    try:
        for event, element in iterparse(io.BytesIO(body), events=("start", "end")):
            if event == "end":
                depth -= 1
                element.clear()
                continue
            depth += 1
            if root is None:
                root = str(element.tag).rsplit("}", 1)[-1]
                if root not in _ROOTS:
                    raise FeedError(f"That is XML but not an RSS or Atom feed (it is <{root}>).")
            if depth > MAX_DEPTH:
                raise FeedError(f"That feed nests deeper than {MAX_DEPTH} levels; not read.")
    except DefusedXmlException:
        raise FeedError("That feed declares XML entities (an XML bomb?); not read.") from None
    except ParseError as error:
        raise FeedError(f"That feed is not well-formed XML ({error}).") from None
    if root is None:
        raise FeedError("That feed is empty.")


def parse_feed(
    body: bytes, url: str, etag: str | None = None, last_modified: str | None = None
) -> FeedDocument:
    """Entries with a web link, in the feed's order (newest first, as feeds list them)."""
    import feedparser

    check_xml(body)
    parsed: Any = feedparser.parse(io.BytesIO(body), response_headers={"content-location": url})
    items: list[FeedItem] = []
    seen: set[str] = set()
    for entry in parsed.entries:
        item = _item(entry, url)
        if item is not None and item.key not in seen:
            seen.add(item.key)
            items.append(item)
    title = str(parsed.feed.get("title") or "").strip() or None
    return FeedDocument(url, title, items, etag, last_modified)


def _item(entry: Any, base: str) -> FeedItem | None:
    raw = str(entry.get("link") or "").strip()
    if not raw:
        return None
    try:
        link = normalise_link(urljoin(base, raw))
    except FetchError:
        return None
    title = str(entry.get("title") or "").strip() or None
    # dict.get: feedparser's own get maps a missing "updated" to "published", with a warning
    stamp = dict.get(entry, "published_parsed") or dict.get(entry, "updated_parsed")
    published = date(stamp[0], stamp[1], stamp[2]).isoformat() if stamp else None
    updated = str(dict.get(entry, "updated") or dict.get(entry, "published") or "")
    summary = str(entry.get("summary") or "")
    version = hashlib.sha256("\0".join((link, title or "", updated, summary)).encode())
    return FeedItem(
        key=str(entry.get("id") or link),
        link=link,
        title=title,
        published=published,
        version=version.hexdigest()[:16],
    )
