"""Followed feeds against a real local web server: RSS and Atom files written here, pages
behind their links; what a refresh adds, skips, updates and retries; feeds that are not
feeds; the cap; replicas over PostgreSQL taking turns; the command line."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from quoth.cli import app
from quoth.feeds import FeedError
from quoth.feeds.refresh import (
    FAILURES_REPORTED,
    FeedSettings,
    describe_feeds,
    follow,
    refresh_round,
)
from quoth.feeds.store import FeedStore, PostgresFeeds, SqliteFeeds
from quoth.web.fetch import FetchLimits
from quoth.web.links import linked_files, read_front_matter

from .conftest import fresh_database
from .web_stand_in import Entry, Resource, Site, atom, news_page, rss, serving

LIMITS = FetchLimits(timeout_s=5, max_bytes=200_000, allow_private=True)
PLACES = ["Port Meridian", "Vellby", "Ostra", "Kaldhavn", "Marnet", "Sudvik"]


def story(number: int, extra: str = "") -> list[str]:
    """Paragraphs of a news story of its own (distinct text, so no two are duplicates)."""
    place = PLACES[number % len(PLACES)]
    paragraphs = [
        f"The town council of {place} approved plan number {number} on Tuesday, after a "
        f"debate that lasted {number + 2} hours and drew a crowd of residents to the hall.",
        f"The plan sets aside {number * 3 + 4} million euros for new school buildings in "
        f"{place}, the mayor said, and the first of them is to open in {2027 + number}.",
        f"Opponents of plan {number} argued that the money should go to the roads first, but "
        f"they lost the vote by {number + 1} seats, according to the published minutes.",
    ]
    return [*paragraphs, extra] if extra else paragraphs


@pytest.fixture
def site() -> Iterator[Site]:
    with serving() as running:
        yield running


@pytest.fixture
def store(tmp_path: Path) -> Iterator[FeedStore]:
    feeds = SqliteFeeds(tmp_path / "state.sqlite3")
    yield feeds
    feeds.close()


def publish(site: Site, number: int, extra: str = "") -> Entry:
    path = f"/news/plan-{number}"
    canonical = f"https://meridian-daily.example{path}"
    site.page(
        path, news_page(f"Plan {number} approved", story(number, extra), canonical, "2026-11-24")
    )
    return Entry(f"Plan {number} approved", site.url(path))


def options(corpus: Path, max_entries: int = 50) -> FeedSettings:
    corpus.mkdir(exist_ok=True)
    return FeedSettings(corpus, LIMITS, (3, 2), max_entries)


def serve_feed(site: Site, entries: list[Entry], path: str = "/feed.rss") -> str:
    site.resources[path] = Resource(rss("Meridian Daily", entries), "application/rss+xml")
    return site.url(path)


def test_refresh_adds_new_entries_once_updates_changed_ones_and_retries_failures(
    site: Site, store: FeedStore, tmp_path: Path
) -> None:
    settings = options(tmp_path / "corpus")
    first, second = publish(site, 1), publish(site, 2)
    url = serve_feed(site, [second, first])
    followed = follow(store, url, LIMITS)
    assert (followed.url, followed.title, len(followed.items)) == (url, "Meridian Daily", 2)
    with pytest.raises(FeedError, match="followed already"):
        follow(store, url, LIMITS)

    [report] = refresh_round(store, settings) or []
    assert len(report.added) == 2 and not report.failed
    files = linked_files(settings.corpus)
    assert len(files) == 2
    front = read_front_matter(files[0])
    assert front["feed"] == url and front["title"].startswith("Plan ")

    [again] = refresh_round(store, settings) or []  # nothing new: the site says 304
    assert again.not_modified and not again.added
    assert site.hits["/feed.rss"] == 3 and site.downloads["/feed.rss"] == 2

    third = publish(site, 3)
    missing = Entry("Plan 4 approved", site.url("/news/plan-4"))  # its page is not up yet
    copy = Entry("Plan 1 approved again", site.url("/news/plan-1-copy"))
    site.resources["/news/plan-1-copy"] = site.resources["/news/plan-1"]  # same text
    changed = publish(site, 2, "The council will review plan 2 again in the autumn.")
    changed.updated = "2026-11-25T10:00:00Z"
    serve_feed(site, [missing, copy, third, changed, first])
    [report] = refresh_round(store, settings) or []
    assert [doc.split("-")[-2] for doc in report.added] == ["3"]
    assert [doc.split("-")[-2] for doc in report.updated] == ["2"]
    assert report.duplicates == 1
    assert report.failed == [(missing.link, "127.0.0.1 answered 404 for that link.")]
    assert site.downloads["/news/plan-1"] == 1  # an unchanged entry is not fetched again
    assert len(linked_files(settings.corpus)) == 3

    publish(site, 4)  # the failed entry is retried: the feed is read again, not a 304
    [retried] = refresh_round(store, settings) or []
    assert not retried.not_modified and len(retried.added) == 1 and not retried.failed
    [feed] = store.feeds()
    assert feed.articles == 4 and feed.failures == 0 and feed.last_checked is not None

    removed = store.remove(url)
    assert removed is not None and len(removed) == 4
    assert len(linked_files(settings.corpus)) == 4  # the articles stay unless asked
    assert store.feeds() == [] and store.remove(url) is None


def test_atom_feed_found_from_its_page_with_relative_links(
    site: Site, store: FeedStore, tmp_path: Path
) -> None:
    publish(site, 5)
    entries = [Entry("Plan 5 approved", "/news/plan-5")]
    site.resources["/atom.xml"] = Resource(atom("Vellby Post", entries), "application/atom+xml")
    page = site.page(
        "/",
        '<html><head><link rel="alternate" type="application/atom+xml" href="/atom.xml">'
        "</head><body><p>Front page</p></body></html>",
    )
    followed = follow(store, page, LIMITS)
    assert followed.url == site.url("/atom.xml") and followed.title == "Vellby Post"
    assert [item.link for item in followed.items] == [site.url("/news/plan-5")]
    [report] = refresh_round(store, options(tmp_path / "corpus")) or []
    assert len(report.added) == 1


BOMB = (
    b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "aaaaaaaaaa">'
    b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>'
    b"<rss><channel><title>&c;</title></channel></rss>"
)


def test_feeds_that_are_not_feeds_get_one_clear_line(
    site: Site, store: FeedStore, tmp_path: Path
) -> None:
    deep = b"<rss>" + b"<x>" * 500 + b"</x>" * 500 + b"</rss>"
    bodies = {
        "/text": (b"just some words", "text/plain", "not well-formed XML"),
        "/page": (b"<html><body><p>No feed here</p></body></html>", "text/html", "names no RSS"),
        "/bomb": (BOMB, "application/xml", "declares XML entities"),
        "/deep": (deep, "application/rss+xml", "nests deeper than 32 levels"),
        "/huge": (b"<rss>" + b" " * 300_000 + b"</rss>", "application/rss+xml", "larger than"),
        "/svg": (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "text/xml", "not an RSS or Atom"),
        "/image": (b"\x89PNG", "image/png", "not a feed (it is image/png)"),
    }
    for path, (body, kind, message) in bodies.items():
        site.resources[path] = Resource(body, content_type=kind)
        with pytest.raises(FeedError, match=re.escape(message)) as caught:
            follow(store, site.url(path), LIMITS)
        assert "\n" not in str(caught.value)
    with pytest.raises(FeedError, match="private or local address"):
        follow(store, "http://10.1.2.3/feed.xml", FetchLimits(timeout_s=2))
    assert store.feeds() == []

    # a followed feed that breaks: counted, reported, its articles kept
    settings = options(tmp_path / "corpus")
    url = serve_feed(site, [publish(site, 6)])
    follow(store, url, LIMITS)
    refresh_round(store, settings)
    site.resources["/feed.rss"] = Resource(BOMB, "application/rss+xml")
    for _ in range(FAILURES_REPORTED):
        [report] = refresh_round(store, settings) or []
    assert report.error is not None and report.failures == FAILURES_REPORTED
    text = describe_feeds(store.feeds())
    assert f"⚠️ failed {FAILURES_REPORTED}× in a row: That feed declares XML entities" in text
    assert "1 article added" in text and len(linked_files(settings.corpus)) == 1


def test_a_feed_of_ten_thousand_entries_adds_a_few_each_refresh(
    site: Site, store: FeedStore, tmp_path: Path
) -> None:
    for number in range(7, 12):
        publish(site, number)
    entries = [Entry(f"Plan {n}", site.url(f"/news/plan-{n}")) for n in range(7, 10_007)]
    url = serve_feed(site, entries)  # about 1.4 MB
    limits = FetchLimits(timeout_s=10, allow_private=True)  # the default size limit, 5 MB
    follow(store, url, limits)
    settings = FeedSettings(tmp_path, limits, (3, 2), max_entries=3)
    [report] = refresh_round(store, settings) or []
    assert len(report.added) == 3 and report.capped == 10_000 - 3
    [report] = refresh_round(store, settings) or []  # the rest waits: not a 304
    assert len(report.added) == 2 and len(report.failed) == 1 and report.capped == 10_000 - 6


def test_two_replicas_over_postgres_refresh_each_feed_once(
    site: Site, postgres_url: str, tmp_path: Path
) -> None:
    url_db = fresh_database(postgres_url, "quoth_feeds")
    replicas = [PostgresFeeds(url_db), PostgresFeeds(url_db)]
    feed = serve_feed(site, [publish(site, 12)])
    follow(replicas[0], feed, LIMITS)
    assert [f.url for f in replicas[1].feeds()] == [feed]  # the other replica knows it
    settings = options(tmp_path / "corpus")
    outcomes: list[object] = []
    start = threading.Barrier(2)

    def round_on(store: FeedStore) -> None:
        start.wait()
        outcomes.append(refresh_round(store, settings, due_within_s=1800))

    threads = [threading.Thread(target=round_on, args=(store,)) for store in replicas]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    refreshed = [o for o in outcomes if o]  # None: the other held the turn; []: nothing due
    assert len(refreshed) == 1 and len(refreshed[0]) == 1  # type: ignore[arg-type]
    assert site.downloads["/feed.rss"] == 2  # following it, and one refresh
    assert len(linked_files(settings.corpus)) == 1
    assert refresh_round(replicas[1], settings, due_within_s=1800) == []  # not due again


def test_feeds_from_the_command_line(site: Site, tmp_path: Path, corpus_copy: Path) -> None:
    env = {
        "QUOTH_CORPUS_DIR": str(corpus_copy),
        "QUOTH_INDEX_DIR": str(tmp_path / "index"),
        "QUOTH_FEEDBACK_FILE": str(tmp_path / "state.sqlite3"),
        "QUOTH_FETCH_ALLOW_PRIVATE": "true",
    }
    runner = CliRunner()
    url = serve_feed(site, [publish(site, 13)])
    added = runner.invoke(app, ["feeds", "add", url], env=env)
    assert added.exit_code == 0, added.output
    assert "Following “Meridian Daily”" in added.stdout and "1 article added" in added.stdout
    asked = runner.invoke(app, ["ask", "How many hours did the debate on plan 13 last?"], env=env)
    assert "15 hours" in asked.stdout
    listed = runner.invoke(app, ["feeds", "list"], env=env)
    assert "Meridian Daily" in listed.stdout and "1 article added" in listed.stdout
    serve_feed(site, [publish(site, 14), publish(site, 13)])
    refreshed = runner.invoke(app, ["feeds", "refresh"], env=env)
    assert refreshed.exit_code == 0, refreshed.output
    assert "1 article added" in refreshed.stdout and "(1 new, 0 changed" in refreshed.stdout
    removed = runner.invoke(app, ["feeds", "remove", url, "--with-articles"], env=env)
    assert removed.exit_code == 0 and "removed its 2 articles" in removed.stdout
    assert linked_files(corpus_copy) == []
    missing = runner.invoke(app, ["feeds", "remove", url], env=env)
    assert missing.exit_code == 1 and "not followed" in missing.stderr
