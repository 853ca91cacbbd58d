"""The feedback store in a SQLite file (standard library; WAL, so readers never wait)."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from quoth.feedback import FeedbackStoreError
from quoth.feedback.sql import SqlFeedback, Statement

SCHEMA = [
    # 1: the unanswered-questions log (named "gaps" before the answers and votes came)
    """
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
    """,
    # 2: answers shown and votes on them; the same table names as in PostgreSQL
    """
    ALTER TABLE gaps RENAME TO quoth_gaps;
    CREATE TABLE quoth_answers (
        id text PRIMARY KEY,
        key text NOT NULL,
        question text NOT NULL,
        quotes text NOT NULL,
        index_version text NOT NULL,
        platform text NOT NULL,
        chat_kind text NOT NULL,
        next_offset integer,
        shown_at text NOT NULL
    );
    CREATE INDEX quoth_answers_shown_at ON quoth_answers (shown_at);
    CREATE TABLE quoth_votes (
        answer_id text NOT NULL REFERENCES quoth_answers (id),
        voter text NOT NULL,
        vote text NOT NULL,
        reason text,
        voted_at text NOT NULL,
        PRIMARY KEY (answer_id, voter)
    );
    CREATE INDEX quoth_votes_voted_at ON quoth_votes (voted_at);
    """,
]


class SqliteFeedback(SqlFeedback):
    def __init__(self, path: Path) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA busy_timeout=5000")
            self._migrate()
        except (OSError, sqlite3.Error) as error:
            raise FeedbackStoreError(
                f"Cannot open the feedback file {path} (QUOTH_FEEDBACK_FILE): {error}"
            ) from None
        self._lock = threading.Lock()  # one connection, used from answering threads

    def _migrate(self) -> None:
        """Numbered steps, the step reached kept in SQLite's own ``user_version``."""
        current = int(self._db.execute("PRAGMA user_version").fetchone()[0])
        for number, step in enumerate(SCHEMA[current:], start=current + 1):
            self._db.executescript(f"BEGIN; {step} PRAGMA user_version = {number}; COMMIT;")

    def _run(self, statements: Sequence[Statement]) -> list[list[tuple[Any, ...]]]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                found = [
                    self._db.execute(query.replace("%s", "?"), params).fetchall()
                    for query, params in statements
                ]
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
            return found

    def _time(self, moment: datetime) -> object:
        return moment.isoformat()

    def close(self) -> None:
        with self._lock:
            self._db.close()
