"""Articles by link: fetched from a real local web server, extracted, kept in the corpus
folder, refreshed; and the rules that keep the fetcher from reaching the host's network."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from quoth import runtime
from quoth.bot.library import Library
from quoth.cli import app
from quoth.corpus.formats import parse_article
from quoth.index import Embedder
from quoth.web.fetch import FetchError, FetchLimits, fetch_page, normalise_link
from quoth.web.links import link_file_name, read_front_matter, refresh_links, save_link

from .conftest import settings_for
from .web_stand_in import PARAGRAPHS, Resource, Site, news_page, serving

OPEN = FetchLimits(timeout_s=5, max_bytes=200_000, allow_private=True)
CHUNKING = (3, 2)
TITLE = "Port Meridian votes for a lifting bridge"
CANONICAL = "https://meridian-daily.example/news/lifting-bridge"


@pytest.fixture
def site() -> Iterator[Site]:
    with serving() as running:
        yield running


def bridge_page(site: Site, path: str = "/news/bridge?ref=home", extra: str = "") -> str:
    paragraphs = [*PARAGRAPHS, extra] if extra else PARAGRAPHS
    return site.page(path, news_page(TITLE, paragraphs, CANONICAL, "2026-11-24"))


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "localhost", "[::1]", "10.1.2.3", "169.254.169.254", "192.168.0.10"]
)
def test_private_and_local_addresses_are_refused(host: str) -> None:
    with pytest.raises(FetchError, match=r"private or local address.*QUOTH_FETCH_ALLOW_PRIVATE"):
        fetch_page(f"http://{host}:9/page", FetchLimits(timeout_s=2))


def test_the_article_is_kept_without_the_page_around_it(site: Site, tmp_path: Path) -> None:
    url = bridge_page(site)
    saved = save_link(tmp_path, url, OPEN, CHUNKING)
    assert saved.outcome == "added" and saved.title == TITLE and saved.passages >= 3
    assert saved.path.name == link_file_name(normalise_link(url))
    assert saved.doc_id.startswith("web-127-0-0-1-bridge-")
    stored = parse_article(saved.path, saved.path.read_bytes())
    assert stored.meta == {
        "title": TITLE,
        "url": CANONICAL,
        "published": "2026-11-24",
        "source": "Meridian Daily",
    }
    assert "lifting bridge" in stored.text and "Ostra Works consortium" in stored.text
    for boilerplate in ("cookies", "Subscribe", "ADVERTISEMENT", "harbourfan", "Read more", "©"):
        assert boilerplate not in stored.text, boilerplate
    front = read_front_matter(saved.path)
    assert front["link"] == url and front["etag"].startswith('"')

    again = save_link(tmp_path, url + "#comments", OPEN, CHUNKING)  # the same link
    assert (again.outcome, again.path) == ("unchanged", saved.path)
    bridge_page(site, extra="The council will publish the final design drawings in March.")
    changed = save_link(tmp_path, url, OPEN, CHUNKING)
    assert changed.outcome == "updated" and "design drawings" in changed.path.read_text()
    assert [p.name for p in tmp_path.iterdir()] == [saved.path.name]


def test_bad_links_get_one_clear_line(site: Site, tmp_path: Path) -> None:
    site.resources["/report.pdf"] = Resource(b"%PDF-1.7", content_type="application/pdf")
    site.resources["/huge"] = Resource(b"<html>" + b"x" * 300_000, content_type="text/html")
    site.resources["/loop"] = Resource(b"", status=301, headers={"Location": "/loop"})
    site.resources["/empty"] = Resource(b"<html><body><nav>Home</nav><p>Hi.</p></body></html>")
    expected = {
        site.url("/report.pdf"): "was not added: it is a damaged PDF",
        site.url("/huge"): "larger than 195 KB",
        site.url("/loop"): "redirects more than 5 times",
        site.url("/empty"): "no article text",
        site.url("/missing"): "answered 404",
        "ftp://example.com/file": "not a web link",
        "https://user:secret@example.com/": "user name or password",
        "http://no-such-host.invalid/": "Cannot find the site",
    }
    for url, message in expected.items():
        with pytest.raises(FetchError, match=re.escape(message)):
            save_link(tmp_path, url, OPEN, CHUNKING)
    closed = Site(port=1)  # nothing listens there
    with pytest.raises(FetchError, match=r"Could not reach 127\.0\.0\.1"):
        save_link(tmp_path, closed.url("/"), OPEN, CHUNKING)
    assert list(tmp_path.iterdir()) == []  # nothing half-added


def test_refresh_asks_the_site_and_rewrites_only_what_changed(site: Site, tmp_path: Path) -> None:
    first = save_link(tmp_path, bridge_page(site), OPEN, CHUNKING)
    other = save_link(tmp_path, bridge_page(site, "/news/other"), OPEN, CHUNKING)
    before = first.path.read_bytes()
    report = refresh_links(tmp_path, OPEN, CHUNKING)
    assert report.checked == 2 and sorted(report.not_modified) == sorted(
        [first.doc_id, other.doc_id]
    )
    assert site.downloads["/news/bridge?ref=home"] == 1  # the site answered 304
    bridge_page(site, "/news/other", extra="The ferry timetable will be posted on the quays.")
    del site.resources["/news/bridge?ref=home"]
    report = refresh_links(tmp_path, OPEN, CHUNKING)
    assert report.changed == [other.doc_id] and report.failed[0][0] == first.doc_id
    assert "answered 404" in report.failed[0][1]
    assert first.path.read_bytes() == before  # a failing site keeps its last good copy


def test_add_and_refresh_from_the_command_line(
    site: Site, tmp_path: Path, corpus_copy: Path
) -> None:
    env = {
        "QUOTH_CORPUS_DIR": str(corpus_copy),
        "QUOTH_INDEX_DIR": str(tmp_path / "index"),
        "QUOTH_FETCH_ALLOW_PRIVATE": "true",
    }
    runner = CliRunner()
    url = bridge_page(site)
    added = runner.invoke(app, ["add", url, site.url("/missing")], env=env)
    assert added.exit_code == 1, added.output  # one link failed, the other was added
    assert f"Added: “{TITLE}”" in added.stdout and "answered 404" in added.stderr
    asked = runner.invoke(app, ["ask", "How much will the new bridge cost?", "--json"], env=env)
    assert "48 million euros" in asked.stdout
    bridge_page(site, extra="The council will publish the final design drawings in March.")
    refreshed = runner.invoke(app, ["refresh"], env=env)
    assert refreshed.exit_code == 0, refreshed.output
    assert "1 changed, 0 unchanged" in refreshed.stdout
    assert "(0 new, 1 changed, 0 removed, 5 unchanged)" in refreshed.stdout
    refused = runner.invoke(app, ["add", url], env={**env, "QUOTH_FETCH_ALLOW_PRIVATE": "false"})
    assert refused.exit_code == 1 and "private or local" in refused.stderr


async def test_serve_refreshes_linked_articles_on_its_schedule(
    site: Site, corpus_copy: Path, tmp_path: Path, embedder: Embedder
) -> None:
    settings = settings_for(
        tmp_path / "idx", corpus_copy, fetch_allow_private=True, refresh_hours=0.5 / 3600
    )
    saved = save_link(corpus_copy, bridge_page(site), OPEN, CHUNKING)
    runtime.reindex(settings, embedder)
    library = Library(settings, runtime.open_service(settings, embedder))
    refreshing = asyncio.create_task(library.refresh_periodically())
    try:
        bridge_page(site, extra="The council will publish the final design drawings in March.")
        for _ in range(240):
            articles = library.service.index.articles
            linked = next((a for a in articles if a.id == saved.doc_id), None)
            if linked is not None and "design drawings" in linked.text:
                break
            await asyncio.sleep(0.25)
        else:
            raise AssertionError("the changed page never reached the index")
    finally:
        refreshing.cancel()
