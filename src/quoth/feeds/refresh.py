"""Turn followed feeds' new and changed entries into articles in the corpus folder.

Each entry's page is fetched through the link fetcher and kept as a linked article that
records its feed (:func:`quoth.web.links.store_page`); what became of each entry is kept in
the feed store, so the next refresh adds only what is new, fetches again only an entry the
feed changed, and retries an entry that failed. One failing entry or feed never stops the
others. The caller reindexes once for the whole round.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from quoth.disk import DiskFullError
from quoth.feeds import EntryState, Feed, FeedError
from quoth.feeds.reader import FeedDocument, FeedItem, read_feed
from quoth.feeds.store import FeedStore
from quoth.web.fetch import FetchError, FetchLimits, fetch_page, normalise_link
from quoth.web.links import linked_path, store_page

log = logging.getLogger("quoth.feeds")
FAILURES_REPORTED = 3
"""Refreshes in a row a feed may fail before moderators are told (in /feeds and the log)."""


def counted(number: int, noun: str) -> str:
    """``1 article``, ``2 articles``: moderators read these counts in the chat."""
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


@dataclass(slots=True)
class FeedReport:
    """One feed's refresh: articles added and updated, entries that failed, the feed's error."""

    url: str
    not_modified: bool = False
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    duplicates: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    """(entry link, why) for entries to retry next time."""
    capped: int = 0
    """New entries left for the next refresh (``QUOTH_FEED_MAX_ENTRIES``)."""
    error: str | None = None
    failures: int = 0
    """Refreshes in a row this feed has failed, this one included."""

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated)


@dataclass(frozen=True, slots=True)
class FeedSettings:
    corpus: Path
    limits: FetchLimits
    chunking: tuple[int, int]
    max_entries: int


def refresh_feed(store: FeedStore, feed: Feed, settings: FeedSettings) -> FeedReport:
    """Read one feed (conditionally) and add its new entries; never raises for the feed's or
    an entry's failure: both are recorded and reported."""
    report = FeedReport(feed.url)
    try:
        document = read_feed(feed.url, settings.limits, feed.etag, feed.last_modified)
    except FeedError as error:
        store.record_check(feed.url, error=str(error))
        report.error, report.failures = str(error), feed.failures + 1
        log.warning("feed %s failed (%d in a row): %s", feed.url, report.failures, error)
        return report
    if document is None:
        report.not_modified = True
        store.record_check(feed.url, validators=(feed.etag, feed.last_modified))
        return report
    _add_entries(store, feed, document, settings, report)
    done = not report.failed and not report.capped
    # validators only once every entry is in: a 304 next time would skip what is left
    store.record_check(
        feed.url,
        title=document.title,
        validators=(document.etag, document.last_modified) if done else None,
    )
    return report


def _add_entries(
    store: FeedStore,
    feed: Feed,
    document: FeedDocument,
    settings: FeedSettings,
    report: FeedReport,
) -> None:
    known = store.entries(feed.url)
    fetched = 0
    for item in document.items:
        state = known.get(item.key)
        if state is not None and state.error is None and state.version == item.version:
            continue  # added (or a duplicate) and unchanged since
        if fetched >= settings.max_entries:
            report.capped += 1
            continue
        fetched += 1
        store.record_entry(feed.url, item.key, _entry(store, feed, item, state, settings, report))


def _entry(
    store: FeedStore,
    feed: Feed,
    item: FeedItem,
    state: EntryState | None,
    settings: FeedSettings,
    report: FeedReport,
) -> EntryState:
    attempts = (state.attempts if state is not None else 0) + 1
    existing = linked_path(settings.corpus, item.link)
    if state is None and existing is not None:
        report.duplicates += 1  # already an article: linked by hand, or by another feed
        return EntryState(item.link, item.version, None, None, attempts, None)
    try:
        page = fetch_page(item.link, settings.limits)
        assert page.body is not None  # no validators were sent
        saved = store_page(
            settings.corpus,
            item.link,
            page,
            settings.chunking,
            feed=feed.url,
            fields={"title": item.title, "published": item.published},
            known_text=store.has_text,
        )
    except (FetchError, DiskFullError, OSError) as error:  # retried at the next round
        report.failed.append((item.link, str(error)))
        return EntryState(item.link, item.version, None, None, attempts, str(error))
    if saved.outcome == "duplicate":
        report.duplicates += 1
        return EntryState(item.link, item.version, None, saved.text_hash, attempts, None)
    if saved.outcome == "added":
        report.added.append(saved.doc_id)
    elif saved.outcome == "updated":
        report.updated.append(saved.doc_id)
    return EntryState(item.link, item.version, saved.doc_id, saved.text_hash, attempts, None)


def describe_feeds_refresh(reports: list[FeedReport]) -> str:
    """One line for the round, then one per feed that added, failed or was capped."""
    added = sum(len(r.added) for r in reports)
    updated = sum(len(r.updated) for r in reports)
    lines = [
        f"Checked {counted(len(reports), 'feed')}: {counted(added, 'article')} added, "
        f"{updated} updated, {sum(r.not_modified for r in reports)} unchanged (the site said so), "
        f"{sum(r.error is not None for r in reports)} failed."
    ]
    for report in reports:
        if report.error is not None:
            lines.append(f"Feed {report.url} failed ({report.failures} in a row): {report.error}")
            continue
        parts = []
        if report.added:
            parts.append(f"added {', '.join(report.added)}")
        if report.updated:
            parts.append(f"updated {', '.join(report.updated)}")
        if report.duplicates:
            parts.append(f"{report.duplicates} already present")
        if report.capped:
            parts.append(f"{report.capped} more next time (QUOTH_FEED_MAX_ENTRIES)")
        parts.extend(f"failed {link}: {why} (retried next time)" for link, why in report.failed)
        if parts:
            lines.append(f"Feed {report.url}: " + "; ".join(parts))
    return "\n".join(lines)


def follow(store: FeedStore, url: str, limits: FetchLimits) -> FeedDocument:
    """Check that ``url`` is a readable feed (or a page naming one) and follow it; the
    entries are added by the refresh that follows. Raises :class:`FeedError`."""
    if store.feed(normalise_link(url)) is not None:
        raise FeedError(f"That feed is followed already: {normalise_link(url)}")
    document = read_feed(url, limits)
    assert document is not None  # no validators were sent
    title = document.title or document.url
    if not store.add(document.url, title):
        raise FeedError(f"That feed is followed already: {document.url}")
    return document


def refresh_round(
    store: FeedStore, settings: FeedSettings, due_within_s: float | None = None
) -> list[FeedReport] | None:
    """Refresh every followed feed (``due_within_s``: only those not checked within it), or
    None when another process is refreshing them right now."""
    with store.refresh_turn() as mine:
        if not mine:
            return None
        feeds = store.feeds() if due_within_s is None else store.due(due_within_s)
        return [refresh_feed(store, feed, settings) for feed in feeds]


def describe_feeds(feeds: list[Feed], now: datetime | None = None) -> str:
    """The followed feeds as moderators read them, in the chat and on the command line."""
    if not feeds:
        return "No feeds are followed. Follow one with /follow URL (an RSS or Atom feed)."
    now = now or datetime.now(UTC)
    lines = [f"Followed feeds ({len(feeds)}):"]
    for feed in feeds:
        checked = "not checked yet"
        if feed.last_checked is not None:
            minutes = max(0, int((now - feed.last_checked).total_seconds() // 60))
            checked = f"checked {minutes} min ago"
        line = (
            f"• {feed.title} — {feed.url}\n  {counted(feed.articles, 'article')} added, {checked}"
        )
        if feed.last_error:
            warn = "⚠️ " if feed.failures >= FAILURES_REPORTED else ""
            line += f"\n  {warn}failed {feed.failures}× in a row: {feed.last_error}"
        lines.append(line)
    return "\n".join(lines)
