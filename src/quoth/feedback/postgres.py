"""The feedback store in the PostgreSQL database replicas share (its tables come with
quoth's schema migrations in :mod:`quoth.database`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from quoth.database import shared_pool
from quoth.feedback.sql import SqlFeedback, Statement


class PostgresFeedback(SqlFeedback):
    def __init__(self, url: str) -> None:
        self._pool = shared_pool(url)

    def _run(self, statements: Sequence[Statement]) -> list[list[tuple[Any, ...]]]:
        with self._pool.connection() as conn, conn.transaction():
            found = []
            for query, params in statements:
                cursor = conn.execute(query, params)
                found.append(cursor.fetchall() if cursor.description else [])
            return found

    def _time(self, moment: datetime) -> object:
        return moment

    def close(self) -> None:
        pass  # the pool belongs to the process
