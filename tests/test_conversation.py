"""The platform-neutral conversation layer, with plain calls: what a person asking and a
moderator are told, and what changes, whichever chat they use."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from quoth.bot.conversation import (
    NOT_A_MODERATOR,
    REINDEX_RUNNING,
    REINDEX_STARTED,
    Conversation,
    Person,
)
from quoth.bot.library import Library, ModerationError
from quoth.index import Embedder
from quoth.retrieval import AnsweringService

from .conftest import settings_for

ANN = Person("telegram", 7, moderator=False)
MOD = Person("discord", 8, moderator=True)


class Reports:
    """Collects what a background reindex reports, and lets a test wait for it."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self._arrived = asyncio.Event()

    async def __call__(self, text: str) -> None:
        self.texts.append(text)
        self._arrived.set()

    async def next(self) -> str:
        await asyncio.wait_for(self._arrived.wait(), 120)
        self._arrived.clear()
        return self.texts[-1]


async def no_file() -> bytes:
    raise AssertionError("a refused upload must not be downloaded")


async def test_asking_answers_counts_and_limits(service: AnsweringService, tmp_path: Path) -> None:
    settings = settings_for(tmp_path / "unused", rate_limit_per_minute=2)
    conversation = Conversation(Library(settings, service))
    first = await conversation.ask(ANN, "Which Turkish naval ship arrived in Karachi?", "private")
    assert first.answer is not None and "Büyükada" in first.answer.quotes[0].sentence
    blank = await conversation.ask(ANN, "   ", "private")
    assert blank.answer is None and blank.private and "type a question" in blank.text
    slow = await conversation.ask(ANN, "Who is the president of Azerbaijan?", "private")
    assert slow.answer is None and slow.private and slow.text.startswith("You're asking quickly")
    other = await conversation.ask(Person("discord", 7), "Who leads Azerbaijan?", "slash")
    assert other.answer is not None  # the same number on another platform is another person
    counts = conversation.library.state.counters()
    # a blank or slowed-down question is no answer; the others end in one of the three states
    assert counts.answered + counts.closest + counts.refused == 2
    asked = await conversation.ask(MOD, "What did Aliyev say about Pakistan?", "slash")
    broad = asked.answer
    assert broad is not None and broad.next_offset is not None and asked.answer_id
    more = (await conversation.more(MOD, asked.answer_id)).answer
    shown = {quote.sentence for quote in broad.quotes}
    assert more is not None and more.quotes
    assert not shown & {quote.sentence for quote in more.quotes}


async def test_only_moderators_change_anything(
    service: AnsweringService, corpus_copy: Path, tmp_path: Path
) -> None:
    settings = settings_for(tmp_path / "index", corpus_copy)
    conversation = Conversation(Library(settings, service))
    before = sorted(p.name for p in corpus_copy.iterdir())
    reports = Reports()
    replies = [
        conversation.stats(ANN),
        await conversation.reindex(ANN, reports),
        await conversation.add_file(ANN, "x.txt", 10, no_file, reports),
        await conversation.remove(ANN, before[0].rsplit(".", 1)[0], reports),
    ]
    assert all(r.text == NOT_A_MODERATOR and r.private for r in replies)
    assert sorted(p.name for p in corpus_copy.iterdir()) == before
    assert not reports.texts


async def test_a_moderator_adds_updates_and_removes_an_article(
    service: AnsweringService,
    corpus_copy: Path,
    shared_index_dir: Path,
    tmp_path: Path,
    embedder: Embedder,
) -> None:
    index_dir = tmp_path / "index"
    shutil.copytree(shared_index_dir, index_dir, symlinks=True)
    settings = settings_for(index_dir, corpus_copy, max_upload_bytes=4096)
    library = Library(settings, service)
    conversation = Conversation(library)
    reports = Reports()
    article = b"Garden notes\n\nThe conversation garden grows exactly eleven white roses."

    async def fetch() -> bytes:
        return article

    async def broken() -> bytes:
        raise ModerationError("Could not fetch the file.")

    too_big = await conversation.add_file(MOD, "big.txt", 5000, no_file, reports)
    assert too_big.text == "That file is too large; the limit is 4 KB."
    failed = await conversation.add_file(MOD, "garden.txt", 100, broken, reports)
    assert failed.text == "Could not fetch the file."
    wrong_type = await conversation.add_file(MOD, "garden.png", 100, fetch, reports)
    assert wrong_type.text.startswith("Only ") and not reports.texts

    added = await conversation.add_file(MOD, "garden.txt", len(article), fetch, reports)
    assert added.text == "Added garden. Indexing it now…"
    assert (await reports.next()).startswith("Indexed 6 articles (1 new")
    answer = await conversation.ask(MOD, "How many white roses grow in the garden?", "slash")
    assert answer.answer is not None and "eleven white roses" in answer.answer.quotes[0].sentence
    assert conversation.article("garden") is not None

    article = article.replace(b"eleven", b"twelve")
    updated = await conversation.add_file(MOD, "garden.txt", len(article), fetch, reports)
    assert updated.text == "Updated garden. Indexing it now…"
    assert "1 changed" in await reports.next()

    assert (await conversation.remove(MOD, "", reports)).text.startswith("Usage: /remove ID")
    missing = await conversation.remove(MOD, "no-such-article", reports)
    assert missing.private and "No article with id" in missing.text
    removed = await conversation.remove(MOD, "garden", reports)
    assert removed.text == "Removed garden. Reindexing…"
    assert "1 removed" in await reports.next()
    assert conversation.article("garden") is None
    assert "articles: 5" in conversation.stats(MOD).text


async def test_one_reindex_at_a_time(
    service: AnsweringService, shared_index_dir: Path, tmp_path: Path
) -> None:
    index_dir = tmp_path / "index"
    shutil.copytree(shared_index_dir, index_dir, symlinks=True)
    conversation = Conversation(Library(settings_for(index_dir), service))
    reports = Reports()
    assert (await conversation.reindex(MOD, reports)).text == REINDEX_STARTED
    assert (await conversation.reindex(MOD, reports)).text == REINDEX_RUNNING
    assert (await reports.next()).startswith("Indexed 5 articles")


@pytest.fixture(autouse=True)
def _serve_the_shared_index_again(service: AnsweringService) -> object:
    """Tests here swap the session's service to their own index; put the shared one back."""
    index, refusal = service.index, service.refusal
    yield None
    service.swap(index)
    service.refusal = refusal
