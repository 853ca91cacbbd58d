"""The followed feeds and their entries, in the state database: one SQL for SQLite (the file
of ``QUOTH_FEEDBACK_FILE``) and PostgreSQL (``QUOTH_DATABASE_URL``, where its tables come
with quoth's schema migrations), behind :class:`FeedStore`.

A refresh round is taken by one process at a time (:meth:`FeedStore.refresh_turn`): an
advisory lock in PostgreSQL, a file lock beside the SQLite file; and a feed is due only when
its last check is older than the refresh interval, so replicas that all wake up on the
interval refresh each feed once between them.
"""

from __future__ import annotations

import contextlib
import fcntl
import sqlite3
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from quoth.feeds import EntryState, Feed, FeedError
from quoth.state_sql import Rows, Statement, run_in_postgres, run_in_sqlite
from quoth.tables import feed_tables as schema

MAX_ERROR_CHARS = 300


_FEEDS = """
SELECT f.url, f.title, f.added_at, f.last_checked, f.last_error, f.failures, f.etag,
       f.last_modified, (SELECT count(*) FROM quoth_feed_entries e
                         WHERE e.feed = f.url AND e.doc_id IS NOT NULL)
FROM quoth_feeds f
"""


class FeedStore(ABC):
    """Feeds and entries; each backend supplies a transaction, a time format and a lock."""

    @abstractmethod
    def _run(self, statements: Sequence[Statement]) -> Rows:
        """Run the statements in one transaction; the rows each returned (or [])."""

    @abstractmethod
    def _time(self, moment: datetime) -> object: ...

    @abstractmethod
    def refresh_turn(self) -> contextlib.AbstractContextManager[bool]:
        """Within it, True when this process holds the refresh turn (no other refreshes)."""

    @abstractmethod
    def close(self) -> None: ...

    def _one(self, query: str, *params: Any) -> list[tuple[Any, ...]]:
        return self._run([(query, params)])[0]

    def add(self, url: str, title: str) -> bool:
        """Follow a feed; False when it was followed already."""
        rows = self._one(
            "INSERT INTO quoth_feeds (url, title, added_at) VALUES (%s, %s, %s) "
            "ON CONFLICT (url) DO NOTHING RETURNING url",
            url, title, self._time(datetime.now(UTC)),
        )  # fmt: skip
        return bool(rows)

    def remove(self, url: str) -> list[str] | None:
        """Stop following; the ids of the articles it added, or None when it was not followed."""
        found, added, _, _ = self._run(
            [
                ("SELECT url FROM quoth_feeds WHERE url = %s", (url,)),
                (
                    "SELECT doc_id FROM quoth_feed_entries WHERE feed = %s AND doc_id IS NOT NULL",
                    (url,),
                ),
                ("DELETE FROM quoth_feed_entries WHERE feed = %s", (url,)),
                ("DELETE FROM quoth_feeds WHERE url = %s", (url,)),
            ]
        )
        return [str(row[0]) for row in added] if found else None

    def feeds(self) -> list[Feed]:
        return [_feed(row) for row in self._one(_FEEDS + " ORDER BY f.added_at, f.url")]

    def feed(self, url: str) -> Feed | None:
        rows = self._one(_FEEDS + " WHERE f.url = %s", url)
        return _feed(rows[0]) if rows else None

    def due(self, interval_s: float) -> list[Feed]:
        """Feeds not checked within ``interval_s`` (slightly less: a timer that fires a little
        early must not skip a round)."""
        before = self._time(datetime.now(UTC) - timedelta(seconds=interval_s * 0.9))
        rows = self._one(
            _FEEDS + " WHERE f.last_checked IS NULL OR f.last_checked < %s ORDER BY f.url", before
        )
        return [_feed(row) for row in rows]

    def record_check(
        self,
        url: str,
        *,
        error: str | None = None,
        title: str | None = None,
        validators: tuple[str | None, str | None] | None = None,
    ) -> None:
        """How a refresh of the feed went: a failure counts one more in a row; a success
        resets the count and, with ``validators``, keeps the feed's ETag / Last-Modified."""
        now = self._time(datetime.now(UTC))
        if error is not None:
            self._one(
                "UPDATE quoth_feeds SET last_checked = %s, last_error = %s, "
                "failures = failures + 1 WHERE url = %s",
                now, error[:MAX_ERROR_CHARS], url,
            )  # fmt: skip
            return
        etag, modified = validators or (None, None)
        self._one(
            "UPDATE quoth_feeds SET last_checked = %s, last_error = NULL, failures = 0, "
            "title = coalesce(%s, title), etag = %s, last_modified = %s WHERE url = %s",
            now, title, etag, modified, url,
        )  # fmt: skip

    def entries(self, url: str) -> dict[str, EntryState]:
        rows = self._one(
            "SELECT key, link, version, doc_id, text_hash, attempts, error "
            "FROM quoth_feed_entries WHERE feed = %s",
            url,
        )
        return {
            str(key): EntryState(str(link), str(version), doc_id, text_hash, int(attempts), error)
            for key, link, version, doc_id, text_hash, attempts, error in rows
        }

    def record_entry(self, url: str, key: str, state: EntryState) -> None:
        self._one(
            "INSERT INTO quoth_feed_entries VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (feed, key) DO UPDATE SET link = excluded.link, "
            "version = excluded.version, doc_id = excluded.doc_id, "
            "text_hash = excluded.text_hash, attempts = excluded.attempts, "
            "error = excluded.error, seen_at = excluded.seen_at",
            url, key, state.link, state.version, state.doc_id, state.text_hash, state.attempts,
            (state.error or "")[:MAX_ERROR_CHARS] or None, self._time(datetime.now(UTC)),
        )  # fmt: skip

    def has_text(self, text_hash: str) -> str | None:
        """The article any feed added with this text, if one did."""
        rows = self._one(
            "SELECT doc_id FROM quoth_feed_entries WHERE text_hash = %s AND doc_id IS NOT NULL "
            "LIMIT 1",
            text_hash,
        )
        return str(rows[0][0]) if rows else None


def _when(value: object) -> datetime | None:
    if value is None:
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _feed(row: tuple[Any, ...]) -> Feed:
    url, title, added, checked, error, failures, etag, modified, articles = row
    added_at = _when(added)
    assert added_at is not None
    return Feed(
        str(url), str(title), added_at, _when(checked), error, int(failures), etag, modified,
        int(articles),
    )  # fmt: skip


class SqliteFeeds(FeedStore):
    """In the SQLite file beside the feedback tables (WAL: readers never wait)."""

    def __init__(self, path: Path) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA busy_timeout=5000")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.executescript("BEGIN; " + ";\n".join(schema("text")) + "; COMMIT;")
        except (OSError, sqlite3.Error) as error:
            raise FeedError(
                f"Cannot open the state file {path} (QUOTH_FEEDBACK_FILE): {error}"
            ) from None
        self._lock_path = path.with_name(f"{path.name}.feeds.lock")
        self._lock = threading.Lock()

    def _run(self, statements: Sequence[Statement]) -> Rows:
        return run_in_sqlite(self._db, self._lock, statements)

    def _time(self, moment: datetime) -> object:
        return moment.isoformat()

    @contextlib.contextmanager
    def refresh_turn(self) -> Iterator[bool]:
        """A file lock: a cron ``quoth feeds refresh`` and the bot never refresh at once."""
        with self._lock_path.open("a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def close(self) -> None:
        with self._lock:
            self._db.close()


class PostgresFeeds(FeedStore):
    """In the database replicas share (tables from :mod:`quoth.database`'s migrations)."""

    def __init__(self, url: str) -> None:
        from quoth.database import shared_pool

        self._url = url
        self._pool = shared_pool(url)

    def _run(self, statements: Sequence[Statement]) -> Rows:
        return run_in_postgres(self._pool, statements)

    def _time(self, moment: datetime) -> object:
        return moment

    def close(self) -> None:
        pass  # the pool belongs to the process

    @contextlib.contextmanager
    def refresh_turn(self) -> Iterator[bool]:
        """A session advisory lock on a connection of its own, released if the process dies."""
        from quoth.database import connection

        with connection(self._url) as conn:
            row = conn.execute("SELECT pg_try_advisory_lock(hashtext('quoth-feeds'))").fetchone()
            if not row or not row[0]:
                yield False
                return
            try:
                yield True
            finally:
                conn.execute("SELECT pg_advisory_unlock(hashtext('quoth-feeds'))")
