"""What moderators do, independent of the chat platform: add, remove, reindex, inspect.

Every chat adapter calls these, so Telegram and Discord cannot drift apart in what a
moderator may do or in how safely it is done.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import TYPE_CHECKING, Protocol

from quoth import metrics, runtime
from quoth.config import Settings
from quoth.corpus.formats import SUPPORTED_SUFFIXES, ArticleFormatError
from quoth.corpus.loader import article_id, build_article
from quoth.corpus.writing import UPLOAD_PREFIX, remove_article_files, write_atomically
from quoth.database import DatabaseError
from quoth.errors import QuothError
from quoth.feedback import REASONS, FeedbackStore
from quoth.health import DATABASE_OK, Heartbeat
from quoth.index import BuildReport, IndexBusyError, IndexStoreError
from quoth.memory import release_free_memory
from quoth.retrieval import Answer, AnsweringService
from quoth.retrieval.refusal import load_refusal
from quoth.state import SharedState
from quoth.state.local import LocalState
from quoth.terminal import describe_build

if TYPE_CHECKING:
    from quoth.feeds import Feed
    from quoth.feeds.refresh import FeedReport
    from quoth.feeds.store import FeedStore
    from quoth.index import Embedder
    from quoth.index.reader import IndexReader
    from quoth.web.links import RefreshReport, SavedLink

    class Build(Protocol):
        """:func:`quoth.runtime.reindex` or :func:`quoth.runtime.merge`."""

        def __call__(
            self, settings: Settings, embedder: Embedder, *, previous: IndexReader
        ) -> tuple[IndexReader, BuildReport] | None: ...


log = logging.getLogger("quoth.library")

_SAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]+")
MAX_NAME_CHARS = 100
DATABASE_PROBE_S = 3.0
"""How long the database may take to answer ``SELECT 1`` before it counts as down."""
DATABASE_PROBE_INTERVAL_S = 5.0


class ModerationError(QuothError):
    """A moderator's request cannot be carried out; the message says why, in one line."""


@dataclass(frozen=True, slots=True)
class SavedUpload:
    doc_id: str
    path: Path
    replaced: bool


def safe_file_name(name: str) -> str:
    """Reduce an uploaded file name to a plain name inside the corpus folder.

    Any directory part is dropped (both separators), unsafe characters become ``-``, and a
    name that would be hidden or has an unsupported type is refused.
    """
    base = PurePosixPath(PureWindowsPath(name).name).name
    stem, dot, suffix = base.rpartition(".")
    if not dot or f".{suffix.lower()}" not in SUPPORTED_SUFFIXES:
        kinds = ", ".join(SUPPORTED_SUFFIXES)
        raise ModerationError(f"Only {kinds} files can be added, not {base or 'this file'}.")
    clean = _SAFE_NAME.sub("-", stem).strip("-.")[: MAX_NAME_CHARS - len(suffix) - 1]
    if not clean:
        raise ModerationError(f"The file name {base!r} has no usable characters.")
    return f"{clean}.{suffix.lower()}"


class Library:
    """The corpus folder and the live index behind one answering service."""

    def __init__(
        self,
        settings: Settings,
        service: AnsweringService,
        state: SharedState | None = None,
        feedback: FeedbackStore | None = None,
    ) -> None:
        self.settings = settings
        self.service = service
        self.state = state or LocalState(
            settings.rate_limit_per_minute, settings.context_minutes * 60
        )
        self.feedback = feedback or runtime.open_feedback(settings)
        self.started = time.time()
        self._reindex_lock = asyncio.Lock()
        self._background: set[asyncio.Task[None]] = set()
        self._merging: asyncio.Task[None] | None = None
        self._feeds: FeedStore | None = None
        self.database_status: str | None = None
        """What the last database probe said (see :meth:`check_database`)."""

    @property
    def reindexing(self) -> bool:
        """A reindex runs, or is started and about to (its task has not run yet)."""
        return self._reindex_lock.locked() or bool(self._background)

    def _writable_corpus(self) -> Path:
        corpus = self.settings.corpus_dir
        if corpus is None:
            raise ModerationError(
                "No corpus folder is configured (QUOTH_CORPUS_DIR), so articles cannot be "
                "added or removed from the chat."
            )
        corpus.mkdir(parents=True, exist_ok=True)
        return corpus

    async def reindex_and_describe(self) -> str:
        """Reindex and say how it went, in one message for the moderator who asked.

        Failures that a moderator can act on become the message (the old index keeps
        serving); anything else is a bug and propagates to the adapter's error handler.
        """
        try:
            report = await self.reindex()
        except (QuothError, OSError, ValueError) as error:
            log.error("reindex failed: %s", error)
            first_line = str(error).splitlines()[0] if str(error) else type(error).__name__
            return f"Reindex failed, the old index keeps serving: {first_line}"
        lines = [describe_build(report)]
        for label, ids in (
            ("Added", report.added),
            ("Changed", report.changed),
            ("Removed", report.removed),
        ):
            if ids:
                lines.append(f"{label}: {', '.join(ids[:20])}{' …' if len(ids) > 20 else ''}")
        for skipped in report.skipped[:10]:
            lines.append(f"Skipped {skipped.path}: {skipped.reason}")
        log.info("reindex done: %s", lines[0])
        return "\n".join(lines)

    def reindex_in_background(self, report: Callable[[str], Awaitable[object]]) -> None:
        """Start a reindex without waiting for it; ``report`` gets the outcome message.

        The task is kept referenced until it ends (asyncio holds only weak references), and
        a failure to deliver the report is logged rather than lost.
        """

        async def run() -> None:
            await report(await self.reindex_and_describe())

        task = asyncio.create_task(run())
        self._background.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("could not report a reindex", exc_info=task.exception())

    def upload_reply(self, saved: SavedUpload) -> str:
        """What to tell the moderator right after a saved upload (before its reindex)."""
        verb = "Updated" if saved.replaced else "Added"
        if self.reindexing:
            return f"{verb} {saved.doc_id}. A reindex is running; ask for a reindex when it ends."
        return f"{verb} {saved.doc_id}. Indexing it now…"

    def stats_text(self) -> str:
        lines = [f"{key}: {value}" for key, value in self.describe().items()]
        if self.reindexing:
            lines.append("a reindex is running")
        if self.merging:
            lines.append("the index's recent changes are being merged into its base")
        try:
            failing = self.failing_feeds()
        except QuothError as error:
            failing, lines = [], [*lines, f"feeds: unknown ({error})"]
        for feed in failing:
            lines.append(
                f"⚠️ feed failing {feed.failures}× in a row: {feed.url} ({feed.last_error})"
            )
        return "\n".join(lines)

    @property
    def merging(self) -> bool:
        """A merge of the base and its delta runs in the background."""
        return self._merging is not None

    async def reindex(self) -> BuildReport:
        """Rebuild in a worker thread; questions keep being answered from the old index.

        A refusal calibration stored since the start (``quoth calibrate``) is taken up too.
        When the delta written is due a merge, the merge starts in the background once the
        delta serves; a reindex asked for meanwhile waits for it (both hold the build lock).
        """
        if self._reindex_lock.locked():
            raise IndexBusyError("A reindex is already running.")
        async with self._reindex_lock:
            await self.wait_for_merge()
            watch = metrics.Stopwatch()
            try:
                report = await self._rebuild_and_swap(runtime.reindex)
            except Exception:
                metrics.observe_reindex("delta", None, watch.seconds)
                raise
            assert report is not None  # a reindex always builds
            kind = "delta" if report.layered else "whole"
            metrics.observe_reindex(kind, report, watch.seconds)
            if report.merge_due:
                self._merging = asyncio.create_task(self._merge())
            return report

    async def wait_for_merge(self) -> None:
        """Until a background merge (if one runs) has ended, however it ended."""
        if self._merging is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(self._merging)

    async def _rebuild_and_swap(self, build: Build) -> BuildReport | None:
        """``build`` in a worker thread (from the served index), then serve what it built;
        None (nothing swapped) when the build had nothing to do."""
        embedder, served = self.service.embedder, self.service.index
        built = await asyncio.to_thread(build, self.settings, embedder, previous=served)
        if built is None:
            return None
        index, report = built
        await asyncio.to_thread(self.service.prepare, index)
        self.service.swap(index)
        # a calibration stored since the last start is read too
        self.service.refusal = load_refusal(self.settings.index_dir, self.service.reranker)
        release_free_memory()  # the build's arrays, freed once the old index is dropped
        return report

    async def _merge(self) -> None:
        """Fold the delta into a new base while questions are answered from the delta; a
        failure leaves the layered version serving (the next due reindex tries again)."""
        watch = metrics.Stopwatch()
        try:
            report = await self._rebuild_and_swap(runtime.merge)
            if report is not None:
                metrics.observe_reindex("merge", report, watch.seconds)
                log.info("merged the delta into a new base: %s", describe_build(report))
        except (QuothError, OSError, ValueError) as error:
            metrics.observe_reindex("merge", None, watch.seconds)
            log.error("background merge failed, the layered index keeps serving: %s", error)
        finally:
            self._merging = None

    async def follow_published(self) -> None:
        """Serve every index version published by any replica, within a second of it."""
        await runtime.follow_published(self.settings, self._serve_version)

    async def _serve_version(self, version: int) -> None:
        if version <= getattr(self.service.index, "version", version):
            return  # this process published it, or already serves it
        try:
            index = await asyncio.to_thread(
                runtime.open_index, self.settings, self.service.embedder.name
            )
        except (IndexStoreError, DatabaseError, OSError) as error:
            log.error("cannot serve index version %d: %s", version, error)
            return
        if getattr(index, "version", 0) > getattr(self.service.index, "version", 0):
            await asyncio.to_thread(self.service.prepare, index)
            self.service.swap(index)
            log.info("now serving index version %d", getattr(index, "version", version))

    def save_upload(self, file_name: str, data: bytes) -> SavedUpload:
        """Validate an uploaded article completely, then write it into the corpus folder."""
        corpus = self._writable_corpus()
        name = safe_file_name(file_name)
        if len(data) > self.settings.max_upload_bytes:
            raise ModerationError(
                f"{name} is {len(data) // 1024} KB; the limit is "
                f"{self.settings.max_upload_bytes // 1024} KB."
            )
        path = corpus / name
        doc_id = article_id(corpus, path)
        try:
            build_article(doc_id, path, data)
        except ArticleFormatError as error:
            raise ModerationError(f"{name} was not added: it {error}.") from None
        replaced = path.exists()
        write_atomically(path, data)
        return SavedUpload(doc_id, path, replaced)

    def save_link(self, url: str) -> SavedLink:
        """Fetch a page a moderator linked and keep its article in the corpus folder."""
        from quoth.web.links import save_link  # lxml and trafilatura: loaded when first used

        corpus = self._writable_corpus()
        settings = self.settings
        chunking = (settings.passage_sentences, settings.passage_overlap)
        return save_link(corpus, url, settings.fetch_limits(), chunking)

    def refresh_links(self) -> RefreshReport:
        from quoth.web.links import refresh_links

        settings = self.settings
        chunking = (settings.passage_sentences, settings.passage_overlap)
        report = refresh_links(self._writable_corpus(), settings.fetch_limits(), chunking)
        for outcome, ids in (
            ("changed", report.changed),
            ("unchanged", report.unchanged),
            ("not_modified", report.not_modified),
            ("failed", report.failed),
        ):
            metrics.LINK_REFRESHES.labels(outcome).inc(len(ids))
        return report

    # -- feeds -------------------------------------------------------------------------------

    @property
    def feeds(self) -> FeedStore:
        """The followed feeds' store, opened on first use (most bots follow none)."""
        if self._feeds is None:
            self._feeds = runtime.open_feeds(self.settings)
        return self._feeds

    def follow_feed(self, url: str) -> FeedReport:
        """Follow a feed and add its entries at once (the caller reindexes)."""
        from quoth.feeds.refresh import follow, refresh_feed

        corpus = self._writable_corpus()
        document = follow(self.feeds, url, self.settings.fetch_limits())
        feed = self.feeds.feed(document.url)
        assert feed is not None
        with self.feeds.refresh_turn():  # added now, whether or not a round runs elsewhere
            report = refresh_feed(self.feeds, feed, runtime.feed_settings(self.settings, corpus))
        _count_feed(report)
        return report

    def unfollow_feed(self, url: str, with_articles: bool = False) -> list[str]:
        """Stop following; the ids of its articles, which are removed only when asked."""
        from quoth.feeds import FeedError
        from quoth.web.fetch import normalise_link

        added = self.feeds.remove(normalise_link(url))
        if added is None:
            raise FeedError("That feed is not followed; /feeds lists the ones that are.")
        if with_articles:
            for doc_id in added:
                remove_article_files(self._writable_corpus(), doc_id)
        return added

    def refresh_feeds(self, only_due: bool = False) -> list[FeedReport] | None:
        """Refresh the followed feeds (``only_due``: those not checked within the interval);
        None when another process is refreshing them right now."""
        from quoth.feeds.refresh import refresh_round

        options = runtime.feed_settings(self.settings, self._writable_corpus())
        interval = self.settings.feed_interval * 60 if only_due else None
        reports = refresh_round(self.feeds, options, interval)
        for report in reports or []:
            _count_feed(report)
        return reports

    def feeds_text(self) -> str:
        from quoth.feeds.refresh import describe_feeds

        return describe_feeds(self.feeds.feeds())

    def failing_feeds(self) -> list[Feed]:
        from quoth.feeds.refresh import FAILURES_REPORTED

        return [feed for feed in self.feeds.feeds() if feed.failures >= FAILURES_REPORTED]

    async def refresh_feeds_periodically(self) -> None:
        """Every ``QUOTH_FEED_INTERVAL`` minutes: refresh the feeds due (with replicas, the
        one that takes the turn does), then one reindex for all they added. A failure is
        logged; the next round runs."""
        minutes = self.settings.feed_interval
        if minutes <= 0 or self.settings.corpus_dir is None:
            return
        while True:
            await asyncio.sleep(minutes * 60)
            await self.feed_round()

    async def feed_round(self) -> list[FeedReport] | None:
        """One periodic round: the feeds due, then a reindex when they changed anything."""
        from quoth.feeds.refresh import FAILURES_REPORTED, describe_feeds_refresh

        try:
            reports = await asyncio.to_thread(self.refresh_feeds, True)
        except (QuothError, OSError) as error:
            log.error("refreshing feeds failed: %s", error)
            return None
        if not reports:
            return reports
        log.info("%s", describe_feeds_refresh(reports).replace("\n", "; "))
        for report in reports:
            if report.failures >= FAILURES_REPORTED:
                log.error(
                    "feed %s has failed %d times in a row: %s",
                    report.url, report.failures, report.error,
                )  # fmt: skip
        if any(report.changed for report in reports):
            if self.reindexing:
                log.info("feeds changed articles; a reindex is running, the next one takes them")
            else:
                log.info("%s", await self.reindex_and_describe())
        return reports

    async def refresh_periodically(self) -> None:
        """Every ``QUOTH_REFRESH_HOURS``: fetch linked articles again, reindex if any changed
        (only their passages are embedded again). A failure is logged; the next round runs."""
        hours = self.settings.refresh_hours
        if hours <= 0 or self.settings.corpus_dir is None:
            return
        while True:
            await asyncio.sleep(hours * 3600)
            try:
                report = await asyncio.to_thread(self.refresh_links)
            except (QuothError, OSError) as error:
                log.error("refreshing linked articles failed: %s", error)
                continue
            from quoth.web.links import describe_refresh

            log.info("%s", describe_refresh(report).replace("\n", "; "))
            if report.changed and not self.reindexing:
                log.info("%s", await self.reindex_and_describe())

    def remove(self, doc_id: str) -> list[Path]:
        """Delete the files of one article (and its sidecar); ids are matched, never joined."""
        removed = remove_article_files(self._writable_corpus(), doc_id)
        if not removed:
            raise ModerationError(f"No article with id {doc_id!r}. See /sources for the ids.")
        return removed

    def discard_torn_uploads(self) -> list[Path]:
        """Delete temporaries left by uploads killed mid-write (see :func:`write_atomically`).

        Called once when serving starts: only this process writes uploads, so any temporary
        present then belongs to a write that can never finish.
        """
        corpus = self.settings.corpus_dir
        if corpus is None or not corpus.is_dir():
            return []
        torn = sorted(corpus.glob(f"{UPLOAD_PREFIX}*"))
        for path in torn:
            with contextlib.suppress(OSError):
                path.unlink()
        if torn:
            log.warning("removed %d unfinished upload(s) from %s", len(torn), corpus)
        return torn

    def heartbeat(self, platform: str) -> Heartbeat:
        index = self.service.index
        return Heartbeat(
            pid=os.getpid(),
            written=time.time(),
            platform=platform,
            articles=len(index.articles),
            passages=index.live_passages,
            database=self.database_status,
        )

    async def check_database(self) -> str | None:
        """Probe the database (``SELECT 1`` within :data:`DATABASE_PROBE_S`) and keep what it
        says for the heartbeat and metrics; one log line when it goes down and when it is
        back, never a traceback. None without a database."""
        url = self.settings.database_url
        if url is None:
            return None
        from quoth.database import first_line, ping

        try:
            async with asyncio.timeout(DATABASE_PROBE_S):
                await asyncio.to_thread(ping, url.get_secret_value())
            status = DATABASE_OK
        except TimeoutError:
            status = f"no answer within {DATABASE_PROBE_S:.0f} s"
        except Exception as error:
            status = first_line(error)
        was = self.database_status
        if status != DATABASE_OK and was in (None, DATABASE_OK):
            log.error("the database is down: %s", status)
            metrics.DATABASE_DOWN.inc()
        elif status == DATABASE_OK and was not in (None, DATABASE_OK):
            log.warning("the database is back")
        metrics.DATABASE_UP.set(1 if status == DATABASE_OK else 0)
        self.database_status = status
        return status

    async def watch_database(self, interval: float = DATABASE_PROBE_INTERVAL_S) -> None:
        """For the life of the serving process: :meth:`check_database` every ``interval``."""
        if self.settings.database_url is None:
            return
        while True:
            await self.check_database()
            await asyncio.sleep(interval)

    def record(self, answer: Answer) -> None:
        """Count an answer (for /stats); called off the event loop, its failures logged by
        the caller: a database hiccup must not cost the user the answer."""
        self.state.count_answer(answer.state.outcome)

    def index_version(self) -> str:
        """Which index an answer came from: the published version number with a database,
        the build time with index files."""
        index = self.service.index
        version = getattr(index, "version", None)
        return str(version) if version is not None else index.built_at.isoformat()

    def describe(self) -> dict[str, str | int]:
        index = self.service.index
        age = datetime.now(UTC) - index.built_at
        counts = self.state.counters()
        return {
            "articles": len(index.articles),
            "passages": index.live_passages,
            "index built": f"{index.built_at:%Y-%m-%d %H:%M} UTC ({_ago(age.total_seconds())})",
            "answered": counts.answered,
            "closest passages only": counts.closest,
            "refused": counts.refused,
            "counted": f"since {counts.since:%Y-%m-%d %H:%M} UTC, by {counts.scope}",
            "votes, last 30 days": self._votes(),
            "up for": _ago(time.time() - self.started).removesuffix(" ago"),
        }

    def _votes(self) -> str:
        try:
            counts = self.feedback.vote_counts(30)
        except Exception:
            log.exception("could not count votes")
            return "unknown (the feedback store failed; see the log)"
        reasons = ", ".join(f"{REASONS[r]} {n}" for r, n in counts.reasons.items() if r in REASONS)
        return f"👍 {counts.up} · 👎 {counts.down}" + (f" ({reasons})" if reasons else "")


def _count_feed(report: FeedReport) -> None:
    if report.error is not None:
        outcome = "failed"
    elif report.not_modified:
        outcome = "not_modified"
    else:
        outcome = "changed" if report.changed else "unchanged"
    metrics.FEED_REFRESHES.labels(outcome).inc()
    for kind, count in (
        ("added", len(report.added)),
        ("updated", len(report.updated)),
        ("duplicate", report.duplicates),
        ("failed", len(report.failed)),
    ):
        metrics.FEED_ENTRIES.labels(kind).inc(count)


def _ago(seconds: float) -> str:
    seconds = max(0, int(seconds))
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit} ago"
    return f"{seconds} s ago"
