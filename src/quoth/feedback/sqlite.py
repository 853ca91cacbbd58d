"""The feedback store in a SQLite file (standard library; WAL, so readers never wait)."""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from quoth.feedback import FeedbackStoreError, Gap, merge_gaps, question_key

SCHEMA = """
CREATE TABLE IF NOT EXISTS gaps (
    key text NOT NULL,
    reason text NOT NULL,
    platform text NOT NULL,
    chat_kind text NOT NULL,
    question text NOT NULL,
    count integer NOT NULL,
    first_seen text NOT NULL,
    last_seen text NOT NULL,
    PRIMARY KEY (key, reason, platform, chat_kind)
);
CREATE INDEX IF NOT EXISTS gaps_last_seen ON gaps (last_seen);
"""


class SqliteFeedback:
    def __init__(self, path: Path) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA busy_timeout=5000")
            self._db.executescript(SCHEMA)
        except (OSError, sqlite3.Error) as error:
            raise FeedbackStoreError(
                f"Cannot open the feedback file {path} (QUOTH_FEEDBACK_FILE): {error}"
            ) from None
        self._lock = threading.Lock()  # one connection, used from answering threads

    def record_gap(self, question: str, reason: str, platform: str, chat_kind: str) -> None:
        now = datetime.now(UTC).isoformat()
        with self._lock:
            self._db.execute(
                "INSERT INTO gaps VALUES (?, ?, ?, ?, ?, 1, ?, ?) "
                "ON CONFLICT (key, reason, platform, chat_kind) DO UPDATE SET "
                "count = count + 1, last_seen = excluded.last_seen, question = excluded.question",
                (question_key(question), reason, platform, chat_kind, question, now, now),
            )

    def gaps(self, days: int, limit: int, offset: int = 0) -> list[Gap]:
        since = (datetime.now(UTC) - timedelta(days=days)).isoformat()
        with self._lock:
            rows = self._db.execute(
                "SELECT key, reason, platform, chat_kind, question, count, first_seen, last_seen "
                "FROM gaps WHERE last_seen >= ? ORDER BY key, last_seen",
                (since,),
            ).fetchall()
        return merge_gaps(rows, limit, offset)

    def prune(self, retention_days: int) -> int:
        before = (datetime.now(UTC) - timedelta(days=retention_days)).isoformat()
        with self._lock:
            return self._db.execute("DELETE FROM gaps WHERE last_seen < ?", (before,)).rowcount

    def close(self) -> None:
        with self._lock:
            self._db.close()
