"""The article in a web page, without the page around it, using trafilatura (a maintained
extractor that drops navigation, ads, comments and footers, and reads the title, date,
site name and canonical address from the page's metadata)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import trafilatura

from quoth.web.fetch import FetchError

MIN_TEXT_CHARS = 200
"""Less than this after extraction is a page without an article (a front page, a login wall)."""

logging.getLogger("trafilatura").setLevel(logging.WARNING)  # it logs every page at INFO


@dataclass(frozen=True, slots=True)
class Extracted:
    title: str | None
    text: str
    url: str
    """The page's canonical address when it names one, else where it was fetched from."""
    published: str | None
    site: str | None


def extract_article(html: bytes, url: str) -> Extracted:
    document = trafilatura.bare_extraction(
        html,
        url=url,
        with_metadata=True,
        include_comments=False,
        include_tables=False,
        favor_precision=True,
    )
    text = (getattr(document, "text", None) or "").strip()
    if len(text) < MIN_TEXT_CHARS:
        raise FetchError("I found no article text on that page.")
    canonical = getattr(document, "url", None) or url
    if not str(canonical).startswith(("http://", "https://")):
        canonical = url
    return Extracted(
        title=getattr(document, "title", None) or None,
        text=text,
        url=str(canonical),
        published=getattr(document, "date", None) or None,
        site=getattr(document, "sitename", None) or getattr(document, "hostname", None),
    )
