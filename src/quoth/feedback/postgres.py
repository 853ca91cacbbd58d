"""The feedback store in the PostgreSQL database replicas share (its tables come with
quoth's schema migrations in :mod:`quoth.database`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from quoth.database import shared_pool
from quoth.feedback.sql import SqlFeedback
from quoth.state_sql import Rows, Statement, run_in_postgres


class PostgresFeedback(SqlFeedback):
    def __init__(self, url: str) -> None:
        self._pool = shared_pool(url)

    def _run(self, statements: Sequence[Statement]) -> Rows:
        return run_in_postgres(self._pool, statements)

    def _time(self, moment: datetime) -> object:
        return moment

    def close(self) -> None:
        pass  # the pool belongs to the process
