"""Statements run in one transaction on the state database, a SQLite file or PostgreSQL.

The feedback store and the feed store write the same SQL to both (``%s`` placeholders) and
run it through these two functions, so a transaction means the same thing in both stores.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from typing import Any

Statement = tuple[str, tuple[Any, ...]]
"""A query with ``%s`` placeholders and its parameters."""
Rows = list[list[tuple[Any, ...]]]


def run_in_sqlite(
    db: sqlite3.Connection, lock: threading.Lock, statements: Sequence[Statement]
) -> Rows:
    """One connection shared by threads (hence the lock); BEGIN IMMEDIATE takes the write lock
    up front, so two processes never deadlock upgrading a read."""
    with lock:
        db.execute("BEGIN IMMEDIATE")
        try:
            found = [
                db.execute(query.replace("%s", "?"), params).fetchall()
                for query, params in statements
            ]
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        return found


def run_in_postgres(pool: Any, statements: Sequence[Statement]) -> Rows:
    """A connection from the process's pool (``psycopg_pool.ConnectionPool``) for the
    transaction; statements that return nothing give an empty list."""
    with pool.connection() as conn, conn.transaction():
        found = []
        for query, params in statements:
            cursor = conn.execute(query, params)
            found.append(cursor.fetchall() if cursor.description else [])
        return found
