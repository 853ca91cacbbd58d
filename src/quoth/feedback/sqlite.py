"""The feedback store in a SQLite file (standard library; WAL, so readers never wait)."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from quoth.feedback import FeedbackStoreError
from quoth.feedback.sql import SqlFeedback
from quoth.state_sql import Rows, Statement, run_in_sqlite
from quoth.tables import feedback_tables as schema

SCHEMA_VERSION = 1


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
        """Create the tables (the same as PostgreSQL's); a file from before votes existed
        has its log under an older name, renamed here."""
        tables = {row[0] for row in self._db.execute("SELECT name FROM sqlite_master")}
        statements = [s for group in schema("text").values() for s in group]
        if "gaps" in tables and "quoth_gaps" not in tables:
            statements[:0] = ["ALTER TABLE gaps RENAME TO quoth_gaps", "DROP INDEX gaps_last_seen"]
        body = ";\n".join(statements)
        self._db.executescript(f"BEGIN; {body}; PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;")

    def _run(self, statements: Sequence[Statement]) -> Rows:
        return run_in_sqlite(self._db, self._lock, statements)

    def _time(self, moment: datetime) -> object:
        return moment.isoformat()

    def close(self) -> None:
        with self._lock:
            self._db.close()
