"""Wiring settings to the library: the few calls every front end makes at start and reindex.

Front ends (CLI, Telegram, Discord) stay thin by going through these functions instead of
assembling corpus, index and retrieval pieces themselves.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Awaitable, Callable
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from quoth.config import Settings
from quoth.corpus import CorpusError, LoadedCorpus, load_corpus
from quoth.feedback import FeedbackStore
from quoth.index import (
    BuildReport,
    Chunking,
    Embedder,
    IndexBusyError,
    IndexData,
    IndexNotFoundError,
    IndexStoreError,
    build_index,
    load_embedder,
    load_index,
)
from quoth.index.builder import BuildProgress, stored_corpus
from quoth.index.layered import LayeredIndex
from quoth.index.loading import StoredIndex
from quoth.index.reader import IndexReader
from quoth.memory import release_free_memory
from quoth.retrieval import AnsweringService, RetrievalOptions
from quoth.retrieval.refusal import load_refusal
from quoth.retrieval.rerank import PACKAGED_RERANKERS, Reranker, load_reranker
from quoth.state import SharedState
from quoth.state.local import LocalState

os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
if TYPE_CHECKING:
    from quoth.feeds.refresh import FeedSettings
    from quoth.feeds.store import FeedStore
    from quoth.retrieval.crosslingual import CrossLingual

log = logging.getLogger(__name__)
FIRST_BUILD_WAIT_S = 3600.0


def sample_corpus_dir() -> Path:
    """quoth's own user guide, indexed when no corpus is configured."""
    return Path(str(resources.files("quoth") / "sample_corpus"))


def corpus_dir(settings: Settings, override: Path | None = None) -> Path:
    return override or settings.corpus_dir or sample_corpus_dir()


def retrieval_options(settings: Settings) -> RetrievalOptions:
    return RetrievalOptions(
        top_k=settings.top_k,
        candidates=settings.candidates,
        mode=settings.retrieval_mode,
        fusion=settings.fusion,
        rerank_candidates=settings.rerank_candidates,
        read_further=settings.read_further,
        min_score=settings.min_score,
        min_claim=settings.min_claim,
        max_question_chars=settings.max_question_chars,
    )


def chunking(settings: Settings) -> Chunking:
    return Chunking(settings.passage_sentences, settings.passage_overlap)


def open_service(settings: Settings, embedder: Embedder | None = None) -> AnsweringService:
    """Load the embedder, reranker and current index; a clear error when there is no index."""
    embedder = embedder or embedder_for(settings)
    return serving(settings, open_index(settings, embedder.name), embedder)


def open_index(settings: Settings, model: str) -> IndexReader:
    """The published index, from the configured backend: PostgreSQL when
    QUOTH_DATABASE_URL is set, else the folder of files."""
    if settings.database_url is not None:
        from quoth.index.postgres import PostgresIndex

        return PostgresIndex(settings.database_url.get_secret_value(), model)
    return load_index(settings.index_dir, model)


def open_state(settings: Settings) -> SharedState:
    """What the serving processes share: in the process, or in the database when set."""
    if settings.database_url is None:
        return LocalState(settings.rate_limit_per_minute, settings.context_minutes * 60)
    from quoth.state.postgres import PostgresState

    return PostgresState(
        settings.database_url.get_secret_value(),
        settings.rate_limit_per_minute,
        context_s=settings.context_minutes * 60,
    )


def open_feedback(settings: Settings) -> FeedbackStore:
    """The unanswered-questions log: in the database when set, else a SQLite file."""
    if settings.database_url is not None:
        from quoth.feedback.postgres import PostgresFeedback

        return PostgresFeedback(settings.database_url.get_secret_value())
    from quoth.feedback.sqlite import SqliteFeedback

    return SqliteFeedback(settings.feedback_file)


def open_feeds(settings: Settings) -> FeedStore:
    """The followed feeds: in the database when set, else beside the feedback tables."""
    from quoth.feeds.store import PostgresFeeds, SqliteFeeds

    if settings.database_url is not None:
        return PostgresFeeds(settings.database_url.get_secret_value())
    return SqliteFeeds(settings.feedback_file)


def feed_settings(settings: Settings, corpus: Path) -> FeedSettings:
    from quoth.feeds.refresh import FeedSettings

    return FeedSettings(
        corpus,
        settings.fetch_limits(),
        (settings.passage_sentences, settings.passage_overlap),
        settings.feed_max_entries,
    )


async def follow_published(settings: Settings, serve: Callable[[int], Awaitable[None]]) -> None:
    """Call ``serve`` with each index version another replica publishes (with a database;
    a folder of files has one writer, this process, so there is nothing to follow)."""
    if settings.database_url is None:
        return
    from quoth.index.postgres import watch_versions

    await watch_versions(settings.database_url.get_secret_value(), serve)


def serving(settings: Settings, index: IndexReader, embedder: Embedder) -> AnsweringService:
    """The answering service over ``index``, with the reranker and refusal decision set."""
    reranker = reranker_for(settings)
    service = AnsweringService(
        index,
        embedder,
        retrieval_options(settings),
        reranker,
        load_refusal(settings.index_dir, reranker),
        crosslingual_for(settings),
    )
    service.prepare(index)
    release_free_memory()
    return service


def crosslingual_for(settings: Settings) -> CrossLingual | None:
    """Questions in other languages (QUOTH_OTHER_LANGUAGES): the multilingual embedder and
    its vector cache, kept in the index folder (on each replica, like the build cache)."""
    if not settings.other_languages:
        return None
    from quoth.index.multilingual_cache import VectorCache
    from quoth.index.multilingual_embedder import MODEL_NAME, MultilingualEmbedder
    from quoth.retrieval.crosslingual import CrossLingual

    cache = VectorCache(settings.index_dir / "crosslingual", MODEL_NAME)
    return CrossLingual(MultilingualEmbedder(settings.threads), cache)


def embedder_for(settings: Settings) -> Embedder:
    return load_embedder(
        settings.model, settings.embedding_backend, settings.onnx_dir, settings.threads
    )


def other_rerankers(settings: Settings, service: AnsweringService) -> dict[str, AnsweringService]:
    """The packaged rerankers ``service`` does not use, each over the same index and with its
    own refusal decision: what ``quoth eval --compare`` sets beside the configured one."""
    current = service.reranker.name if service.reranker is not None else None
    others = {}
    for name in PACKAGED_RERANKERS:
        if name != current:
            reranker = load_reranker(name, settings.threads)
            refusal = load_refusal(settings.index_dir, reranker)
            others[name] = AnsweringService(
                service.index, service.embedder, service.options, reranker, refusal
            )
    return others


def reranker_for(settings: Settings) -> Reranker | None:
    if settings.retrieval_mode != "rerank":
        return None
    return load_reranker(settings.reranker, settings.threads)


def open_or_build_service(settings: Settings) -> AnsweringService:
    """Like :func:`open_service`, but a first start with no index builds one from the corpus."""
    embedder = embedder_for(settings)
    try:
        return open_service(settings, embedder)
    except IndexNotFoundError:
        log.warning(
            "No index in %s yet: building one from %s", settings.index_dir, corpus_dir(settings)
        )
    try:
        index, report = reindex(settings, embedder)
    except IndexBusyError:
        if settings.database_url is None:
            raise
        log.warning("Another replica is building the first index; waiting for it")
        return serving(settings, wait_for_first_index(settings, embedder.name), embedder)
    log.info("Built the index: %d articles, %d passages", report.articles, report.passages)
    return serving(settings, index, embedder)


def wait_for_first_index(
    settings: Settings, model: str, timeout_s: float = FIRST_BUILD_WAIT_S
) -> IndexReader:
    """Replicas started together on an empty database: one builds, the others wait for its
    publication instead of failing."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return open_index(settings, model)
        except IndexNotFoundError:
            if time.monotonic() > deadline:
                raise
            time.sleep(2)


def previous_index(settings: Settings, model: str) -> StoredIndex | None:
    """The current index if it can lend vectors to a rebuild; a damaged one lends nothing."""
    try:
        return load_index(settings.index_dir, model)
    except IndexStoreError:
        return None


def rebuild(
    settings: Settings,
    embedder: Embedder,
    source: Path | None = None,
    previous: IndexReader | None = None,
    progress: BuildProgress | None = None,
    layered: bool = True,
) -> tuple[StoredIndex, BuildReport]:
    """Rebuild the local index folder from the corpus, re-embedding only changed articles.

    ``previous`` (the index being served) lends its vectors to unchanged articles; with a
    database, the local build folder is that cache. ``layered``: False writes one whole
    build (a merge) even when a delta would do.
    """
    if not isinstance(previous, (IndexData, LayeredIndex)):
        previous = previous_index(settings, embedder.name)
    known = {article.path: article for article in previous.articles} if previous else None
    corpus = load_corpus(corpus_dir(settings, source), known)
    return build_index(
        corpus, embedder, settings.index_dir, chunking(settings), previous, progress, layered
    )


def reindex(
    settings: Settings,
    embedder: Embedder,
    source: Path | None = None,
    previous: IndexReader | None = None,
    progress: BuildProgress | None = None,
    layered: bool = True,
) -> tuple[IndexReader, BuildReport]:
    """Rebuild, then publish where the configured backend serves from (with a database,
    under a lock that every replica shares).

    Usually only a delta over the current base is written and published; when the report
    says ``merge_due``, call :func:`merge` next (a serving process does it in the
    background: the delta already serves)."""
    if settings.database_url is None:
        return rebuild(settings, embedder, source, previous, progress, layered)
    from quoth.index.postgres import publish, reindex_lock

    url = settings.database_url.get_secret_value()
    with reindex_lock(url):
        built, report = rebuild(settings, embedder, source, previous, progress, layered)
        publish(url, built)
    return open_index(settings, embedder.name), report


def merge(
    settings: Settings, embedder: Embedder, previous: IndexReader | None = None
) -> tuple[IndexReader, BuildReport] | None:
    """Fold the current base and delta into one new base, published like any version.

    Exactly the articles of the local build are merged (the corpus folder is not read, so a
    file added meanwhile waits for its own reindex and report); vectors are copied, not
    embedded. With a database, None when another replica published a different version
    since this one's build: the local build is not what serves, and is left as it is."""
    if settings.database_url is None:
        return _merge_folder(settings, embedder, previous)
    from quoth.index.postgres import publish, published_articles, reindex_lock

    url = settings.database_url.get_secret_value()
    with reindex_lock(url):
        local = previous_index(settings, embedder.name)
        if local is None or published_articles(url) != local.manifest.articles:
            log.info("merge skipped: the database serves another version than this build")
            return None
        built, report = _merge_folder(settings, embedder, local)
        publish(url, built)
    return open_index(settings, embedder.name), report


def _restamped(stored: LoadedCorpus, source: Path, previous: StoredIndex) -> LoadedCorpus:
    """``stored`` with each article whose file is still as indexed taking the file's current
    stamp (size and time), so that later reindexes stop reading it; an article whose file
    changed since stays as stored (a merge folds the served version, not the folder)."""
    try:
        known = {record.path: record for record in previous.articles}
        on_disk = {a.path: a for a in load_corpus(source, known).articles}
    except CorpusError:
        return stored
    articles = []
    for article in stored.articles:
        found = on_disk.get(article.path)
        same = found is not None and found.id == article.id and found.hash == article.hash
        articles.append(found if same and found is not None else article)
    return LoadedCorpus(articles)


def _merge_folder(
    settings: Settings, embedder: Embedder, previous: IndexReader | None
) -> tuple[StoredIndex, BuildReport]:
    if not isinstance(previous, (IndexData, LayeredIndex)):
        previous = previous_index(settings, embedder.name)
    if previous is None:
        raise IndexNotFoundError(f"No index in {settings.index_dir} to merge.")
    manifest = previous.manifest  # the build's own splitting, whatever the settings say now
    return build_index(
        _restamped(stored_corpus(previous), corpus_dir(settings), previous),
        embedder,
        settings.index_dir,
        Chunking(manifest.passage_sentences, manifest.passage_overlap),
        previous,
        layered=False,
    )
