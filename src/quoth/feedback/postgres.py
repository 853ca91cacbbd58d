"""The feedback store in the PostgreSQL database replicas share (same table as SQLite's)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from quoth.database import shared_pool
from quoth.feedback import Gap, merge_gaps, question_key


class PostgresFeedback:
    def __init__(self, url: str) -> None:
        self._pool = shared_pool(url)  # the schema (quoth_gaps) comes with the migrations

    def _execute(self, query: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        with self._pool.connection() as conn:
            cursor = conn.execute(query, params)
            return cursor.fetchall() if cursor.description else []

    def record_gap(self, question: str, reason: str, platform: str, chat_kind: str) -> None:
        self._execute(
            "INSERT INTO quoth_gaps AS g VALUES (%s, %s, %s, %s, %s, 1, now(), now()) "
            "ON CONFLICT (key, reason, platform, chat_kind) DO UPDATE SET "
            "count = g.count + 1, last_seen = excluded.last_seen, question = excluded.question",
            (question_key(question), reason, platform, chat_kind, question),
        )

    def gaps(self, days: int, limit: int, offset: int = 0) -> list[Gap]:
        since = datetime.now(UTC) - timedelta(days=days)
        rows = self._execute(
            "SELECT key, reason, platform, chat_kind, question, count, first_seen, last_seen "
            "FROM quoth_gaps WHERE last_seen >= %s ORDER BY key, last_seen",
            (since,),
        )
        return merge_gaps(rows, limit, offset)

    def prune(self, retention_days: int) -> int:
        before = datetime.now(UTC) - timedelta(days=retention_days)
        with self._pool.connection() as conn:
            deleted = conn.execute("DELETE FROM quoth_gaps WHERE last_seen < %s", (before,))
            return int(deleted.rowcount)

    def close(self) -> None:
        pass  # the pool belongs to the process
