"""A full disk during a whole index, a delta reindex and an upload: the previous index keeps
serving, one clear line names what ran out, nothing half-written is left behind, and the same
command succeeds once space is freed. The disk is a real tmpfs of the test's own, mounted small
(root only: the test is skipped, saying so, where mounting is not allowed)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from quoth import runtime
from quoth.bot.conversation import Conversation, Person
from quoth.bot.library import Library
from quoth.cli import app
from quoth.disk import DiskFullError
from quoth.feeds.refresh import follow, refresh_round
from quoth.feeds.store import SqliteFeeds
from quoth.index import Embedder
from quoth.index.store import BUILDS
from quoth.retrieval import AnsweringService

from .conftest import ARTICLES, settings_for
from .web_stand_in import PARAGRAPHS, Entry, Resource, news_page, rss, serving

ROOMY = "8m"
QUESTION = "When did Heydar Aliyev visit Pakistan?"


class SmallDisk:
    """A tmpfs mounted at ``path``; :meth:`resize` grows or shrinks it in place."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def resize(self, size: str) -> None:
        subprocess.run(
            ["mount", "-o", f"remount,size={size}", str(self.path)], check=True, timeout=30
        )

    def shrink_to_used(self, spare: int = 64 * 1024) -> None:
        """Leave ``spare`` bytes free: enough for small files, not for an index build."""
        used = shutil.disk_usage(self.path).used
        self.resize(str(used + spare))


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[SmallDisk]:
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={ROOMY}", "tmpfs", str(mount)],
        capture_output=True,
        timeout=30,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {done.stderr.decode().strip()}")
    try:
        yield SmallDisk(mount)
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False, timeout=30)


def leftovers(index_dir: Path) -> list[Path]:
    """Half-written builds a next start could trip on."""
    return sorted((index_dir / BUILDS).glob(".staging-*"))


def corpus_with_one_more(folder: Path) -> Path:
    """The reference articles and one more: a change a delta reindex writes."""
    folder.mkdir(parents=True, exist_ok=True)
    for article in ARTICLES.glob("*.txt"):
        shutil.copy(article, folder / article.name)
    extra = (ARTICLES / "002_97b8d98da015557d.txt").read_text(encoding="utf-8")
    (folder / "extra.txt").write_text(extra.replace("Pakistan", "Pakistan's"), encoding="utf-8")
    return folder


def test_a_whole_index_on_a_full_disk_says_so_and_succeeds_once_freed(
    small_disk: SmallDisk, monkeypatch: pytest.MonkeyPatch
) -> None:
    index_dir = small_disk.path / "index"
    monkeypatch.setenv("QUOTH_INDEX_DIR", str(index_dir))
    monkeypatch.setenv("QUOTH_CORPUS_DIR", str(ARTICLES))
    small_disk.resize("96k")
    runner = CliRunner()
    failed = runner.invoke(app, ["index"])
    assert failed.exit_code == 1
    message = " ".join(failed.output.split())
    assert "The new index was not written" in message and "ran out of space" in message
    assert str(index_dir) in message and "Traceback" not in failed.output
    assert not leftovers(index_dir) and not (index_dir / "current").exists()
    small_disk.resize(ROOMY)
    done = runner.invoke(app, ["index"])
    assert done.exit_code == 0, done.output
    asked = runner.invoke(app, ["ask", "--json", QUESTION])
    assert asked.exit_code == 0 and "1996" in asked.output


def test_a_delta_on_a_full_disk_leaves_the_previous_index_serving(
    small_disk: SmallDisk, tmp_path: Path, embedder: Embedder
) -> None:
    corpus = corpus_with_one_more(tmp_path / "corpus")
    (corpus / "extra.txt").unlink()
    settings = settings_for(small_disk.path / "index", corpus)
    runtime.reindex(settings, embedder)
    service = runtime.open_service(settings, embedder)
    before = (settings.index_dir / "current").resolve()
    corpus_with_one_more(corpus)
    small_disk.shrink_to_used()
    with pytest.raises(DiskFullError, match="ran out of space"):
        runtime.reindex(settings, embedder, previous=service.index)
    assert (settings.index_dir / "current").resolve() == before
    assert not leftovers(settings.index_dir)
    assert "1996" in service.answer(QUESTION).quotes[0].sentence  # still serving
    restarted = runtime.open_service(settings, embedder)  # a next start reads the old build
    assert len(restarted.index.articles) == 5
    small_disk.resize(ROOMY)
    index, report = runtime.reindex(settings, embedder, previous=service.index)
    assert report.added == ["extra"] and len(index.articles) == 6


async def test_an_upload_on_a_full_disk_is_refused_in_one_line(
    small_disk: SmallDisk, service: AnsweringService, tmp_path: Path
) -> None:
    corpus = small_disk.path / "corpus"
    corpus.mkdir()
    settings = settings_for(tmp_path / "unused", corpus, moderator_ids=[7])
    conversation = Conversation(Library(settings, service))
    small_disk.shrink_to_used(spare=8 * 1024)
    reports: list[str] = []

    async def fetch() -> bytes:
        return ("A sentence about the harbour. " * 2000).encode()

    async def report(text: str) -> None:
        reports.append(text)

    moderator = Person("telegram", 7, moderator=True)
    reply = await conversation.add_file(moderator, "harbour.txt", None, fetch, report)
    assert reply.text.startswith("harbour.txt was not written") and "ran out of space" in reply.text
    assert not list(corpus.iterdir()) and not reports  # no temporary left, no reindex started
    small_disk.resize(ROOMY)  # saved once there is room (no reindex: the service is shared)
    saved = conversation.library.save_upload("harbour.txt", await fetch())
    assert saved.path == corpus / "harbour.txt" and saved.path.is_file()


def test_a_feed_round_on_a_full_disk_retries_its_entry_next_round(
    small_disk: SmallDisk, tmp_path: Path
) -> None:
    corpus = small_disk.path / "corpus"
    corpus.mkdir()
    store = SqliteFeeds(tmp_path / "feeds.sqlite3")  # the state lives elsewhere: only the
    settings = settings_for(tmp_path / "unused", corpus, fetch_allow_private=True)
    options = runtime.feed_settings(settings, corpus)  # article files run out of room
    with serving() as site:
        link = site.page("/news/bridge", news_page("Bridge", PARAGRAPHS, "x", "2026-11-24"))
        site.resources["/feed.rss"] = Resource(rss("News", [Entry("Bridge", link)]), "text/xml")
        follow(store, site.url("/feed.rss"), settings.fetch_limits())
        (small_disk.path / "filler").write_bytes(bytes(64 * 1024))  # never an empty tmpfs:
        small_disk.shrink_to_used(spare=0)  # size 0 would mean no limit at all
        [report] = refresh_round(store, options) or []
        assert not report.added and len(report.failed) == 1
        assert "ran out of space" in report.failed[0][1]
        assert not list(corpus.iterdir())  # no half-written article or temporary
        small_disk.resize(ROOMY)
        [again] = refresh_round(store, options) or []
    assert len(again.added) == 1 and not again.failed
