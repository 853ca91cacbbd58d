"""PostgreSQL connections and quoth's schema, shared by the index backend and replica state.

Every process keeps one connection pool per database URL: answers run in worker threads,
and a single shared connection would make them queue behind each other. The schema is
created and upgraded by quoth itself, one numbered step at a time, under a lock, so every
replica can run :func:`migrate` at start.
"""

from __future__ import annotations

import atexit
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from quoth.errors import QuothError
from quoth.tables import feed_tables, feedback_tables

if TYPE_CHECKING:
    from psycopg import Connection
    from psycopg_pool import ConnectionPool

POOL_MAX = 8
"""Connections a process may hold: above the worker threads that answer at once."""
POOL_WAIT_S = 5.0
"""Longest a query waits for a free connection before it fails (rather than hang)."""
CONNECTION_OPTIONS = {
    "autocommit": True,
    "connect_timeout": 5,
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
}
"""A new connection gives up after 5 s; an idle one whose server vanished (a failover, a
cut network) is noticed by TCP keepalives within about 25 s instead of the kernel's hours."""


class DatabaseError(QuothError):
    """The database cannot be reached or used; the message names QUOTH_DATABASE_URL."""


def first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError:
        raise DatabaseError(
            "QUOTH_DATABASE_URL needs PostgreSQL support: pip install 'quoth[postgres]'."
        ) from None
    return psycopg


def connect(url: str, autocommit: bool = True) -> Connection[Any]:
    """One connection of its own (locks that must die with the process, LISTEN)."""
    psycopg = _psycopg()
    try:
        conn: Connection[Any] = psycopg.connect(url, autocommit=autocommit)
    except psycopg.Error as error:
        raise DatabaseError(f"Cannot connect to QUOTH_DATABASE_URL: {first_line(error)}") from None
    return conn


@contextmanager
def connection(url: str) -> Iterator[Connection[Any]]:
    conn = connect(url)
    try:
        yield conn
    finally:
        conn.close()


_pools: dict[str, ConnectionPool[Any]] = {}
_pools_lock = threading.Lock()


def shared_pool(url: str) -> ConnectionPool[Any]:
    """This process's pool for ``url``, opened (and the schema migrated) on first use."""
    with _pools_lock:
        pool = _pools.get(url)
        if pool is not None:
            return pool
        with connection(url) as conn:
            migrate(conn)
        from psycopg_pool import ConnectionPool

        pool = ConnectionPool(
            url,
            min_size=1,
            max_size=POOL_MAX,
            kwargs=CONNECTION_OPTIONS,
            timeout=POOL_WAIT_S,
            check=ConnectionPool.check_connection,  # a restarted server's dead connections
            open=False,
            name="quoth",
        )
        try:
            pool.open(wait=True, timeout=10)
        except Exception as error:
            pool.close()
            raise DatabaseError(
                f"Cannot connect to QUOTH_DATABASE_URL: {first_line(error)}"
            ) from None
        _pools[url] = pool
        return pool


def ping(url: str) -> None:
    """``SELECT 1`` on a pooled connection: raises when the database does not answer."""
    with shared_pool(url).connection() as conn:
        conn.execute("SELECT 1")


@atexit.register
def close_pools() -> None:
    with _pools_lock:
        for pool in _pools.values():
            pool.close()
        _pools.clear()


def _step_index(conn: Connection[Any]) -> None:
    conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    conn.execute(
        """CREATE TABLE IF NOT EXISTS quoth_versions (
            id bigserial PRIMARY KEY,
            manifest jsonb NOT NULL,
            published_at timestamptz NOT NULL DEFAULT now(),
            current boolean NOT NULL DEFAULT false)"""
    )


def _step_replica_state(conn: Connection[Any]) -> None:
    conn.execute(
        """CREATE TABLE IF NOT EXISTS quoth_updates (
            platform text NOT NULL,
            update_id bigint NOT NULL,
            owner int NOT NULL,
            done boolean NOT NULL DEFAULT false,
            claimed_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (platform, update_id))"""
    )
    conn.execute(
        """CREATE TABLE IF NOT EXISTS quoth_rate (
            key text PRIMARY KEY,
            tat timestamptz NOT NULL)"""
    )
    conn.execute(
        """CREATE TABLE IF NOT EXISTS quoth_counters (
            name text PRIMARY KEY,
            value bigint NOT NULL DEFAULT 0,
            since timestamptz NOT NULL DEFAULT now())"""
    )


def _step_vector_search(conn: Connection[Any]) -> None:
    """How each version's vectors are searched (index kind, lists, probes)."""
    conn.execute(
        "ALTER TABLE quoth_versions ADD COLUMN IF NOT EXISTS search jsonb NOT NULL DEFAULT '{}'"
    )


def _step_feedback(conn: Connection[Any]) -> None:
    """The unanswered-questions log (quoth.feedback): no user ids."""
    for statement in feedback_tables("timestamptz")["quoth_gaps"]:
        conn.execute(statement)


def _step_votes(conn: Connection[Any]) -> None:
    """Answers shown (their buttons refer to them) and votes on them (quoth.feedback)."""
    tables = feedback_tables("timestamptz")
    for statement in tables["quoth_answers"] + tables["quoth_votes"]:
        conn.execute(statement)


def _step_segments(conn: Connection[Any]) -> None:
    """The index's segments (quoth.index.postgres): tables shared by the versions naming them."""
    conn.execute(
        """CREATE TABLE IF NOT EXISTS quoth_segments (
            name text PRIMARY KEY,
            search jsonb NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now())"""
    )


def _step_feeds(conn: Connection[Any]) -> None:
    """Followed feeds and what each added (quoth.feeds.store)."""

    for statement in feed_tables("timestamptz"):
        conn.execute(statement)


def _step_context(conn: Connection[Any]) -> None:
    """Each conversation's last turns (quoth.state.postgres), keyed by a hash of who and
    where, so a follow-up reaching another replica is read in its context."""
    conn.execute(
        """CREATE TABLE IF NOT EXISTS quoth_context (
            conversation text PRIMARY KEY,
            turns jsonb NOT NULL,
            updated_at timestamptz NOT NULL DEFAULT now())"""
    )
    conn.execute(
        "CREATE INDEX IF NOT EXISTS quoth_context_updated_at ON quoth_context (updated_at)"
    )


STEPS: list[Callable[[Connection[Any]], None]] = [
    _step_index,
    _step_replica_state,
    _step_vector_search,
    _step_feedback,
    _step_votes,
    _step_segments,
    _step_feeds,
    _step_context,
]
SCHEMA_VERSION = len(STEPS)


def migrate(conn: Connection[Any]) -> None:
    """Create or upgrade quoth's schema; safe to run from every replica at every start."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('quoth-schema'))")
        conn.execute("CREATE TABLE IF NOT EXISTS quoth_schema (version int NOT NULL)")
        row = conn.execute("SELECT version FROM quoth_schema").fetchone()
        current = 0 if row is None else int(row[0])
        if current > SCHEMA_VERSION:
            raise DatabaseError(
                f"The database holds quoth schema {current}, newer than this quoth's "
                f"({SCHEMA_VERSION}): upgrade quoth."
            )
        for step in STEPS[current:]:
            step(conn)
        if row is None:
            conn.execute("INSERT INTO quoth_schema VALUES (%s)", (SCHEMA_VERSION,))
        elif current < SCHEMA_VERSION:
            conn.execute("UPDATE quoth_schema SET version = %s", (SCHEMA_VERSION,))
