"""Feeds moderators follow: RSS and Atom feeds whose new entries become articles.

What is followed, and what each feed added, is kept in the state database (the SQLite file
or PostgreSQL, :mod:`quoth.feeds.store`), so a restart or another replica knows it; the
articles themselves are linked-article files in the corpus folder (:mod:`quoth.web.links`),
like any other link. :mod:`quoth.feeds.reader` reads a feed safely,
:mod:`quoth.feeds.refresh` turns its new entries into articles.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from quoth.errors import QuothError


class FeedError(QuothError):
    """A feed cannot be followed or read as it is; the message says why, in one line."""


@dataclass(frozen=True, slots=True)
class Feed:
    """A followed feed and how its refreshes went."""

    url: str
    title: str
    added_at: datetime
    last_checked: datetime | None
    last_error: str | None
    failures: int
    """Refreshes in a row that failed (0 after one that worked)."""
    etag: str | None
    last_modified: str | None
    articles: int
    """Articles it added that are still recorded."""


@dataclass(frozen=True, slots=True)
class EntryState:
    """What a feed's entry became: an article (``doc_id``), a duplicate of one already there
    (``doc_id`` None, no error), or a failure to retry (``error``)."""

    link: str
    version: str
    doc_id: str | None
    text_hash: str | None
    attempts: int
    error: str | None
