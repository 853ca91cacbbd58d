"""Shared state of replicas, in the PostgreSQL database they serve the index from.

A replica proves it is alive by holding a session advisory lock on its own random number for
as long as its process lives; PostgreSQL drops the lock the moment the process dies. An
update claimed by a replica whose lock is gone was never answered, so the next delivery of
it (Telegram re-delivers what was not acknowledged) is taken over, and answered once.

Rate limits use GCRA (one timestamp per user, updated in one statement): a user may ask the
per-minute budget at once, then one question each 60/budget seconds, whichever replica
receives the questions.
"""

from __future__ import annotations

import json
import logging
import random
import threading
from datetime import UTC, datetime
from typing import Any

from quoth.database import connect, first_line, shared_pool
from quoth.retrieval.followup import CONTEXT_TURNS, Turn
from quoth.state import Claim, Counters

log = logging.getLogger("quoth.state")

LIVENESS_LOCKS = 0x71756F74
"""First key of the replicas' liveness locks (the second is the replica's number)."""
KEEP_UPDATES_DAYS = 2
"""Telegram keeps an unacknowledged update for 24 hours; claims outlive that."""
PRUNE_EVERY = 1000

_CLAIM = """
INSERT INTO quoth_updates AS u (platform, update_id, owner) VALUES (%(platform)s, %(id)s, %(me)s)
ON CONFLICT (platform, update_id) DO UPDATE SET owner = excluded.owner, claimed_at = now()
WHERE NOT u.done AND u.owner <> excluded.owner AND NOT EXISTS (
    SELECT 1 FROM pg_locks AS l
    WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
      AND l.classid = %(locks)s::int8::oid AND l.objid = u.owner::int8::oid)
RETURNING xmax = 0
"""
"""Returns a row when this process may answer: true when it inserted the claim (xmax is 0 on
a freshly inserted row), false when it took over a dead replica's."""

_ACQUIRE = """
INSERT INTO quoth_rate AS r (key, tat) VALUES (%(key)s, now() + %(step)s * interval '1 second')
ON CONFLICT (key) DO UPDATE SET tat = greatest(r.tat, now()) + %(step)s * interval '1 second'
WHERE greatest(r.tat, now()) + %(step)s * interval '1 second'
      <= now() + %(window)s * interval '1 second'
RETURNING tat
"""


_REMEMBER = """
INSERT INTO quoth_context AS c (conversation, turns, updated_at)
VALUES (%(key)s, jsonb_build_array(%(turn)s::jsonb), now())
ON CONFLICT (conversation) DO UPDATE SET updated_at = now(), turns = (
    SELECT coalesce(jsonb_agg(t.turn ORDER BY t.n), '[]'::jsonb) FROM (
        SELECT turn, n FROM jsonb_array_elements(
            CASE WHEN c.updated_at >= now() - %(ttl)s * interval '1 second'
                 THEN c.turns || jsonb_build_array(%(turn)s::jsonb)
                 ELSE jsonb_build_array(%(turn)s::jsonb) END
        ) WITH ORDINALITY AS a(turn, n)
        ORDER BY n DESC LIMIT %(keep)s) AS t)
"""
"""Appends one turn in one statement, keeping the last few (and none gone stale)."""


class PostgresState:
    def __init__(
        self, url: str, limit_per_minute: int, window_s: float = 60.0, context_s: float = 900.0
    ) -> None:
        self._context_s = context_s
        self._pool = shared_pool(url)
        self.owner = random.randint(1, 2**31 - 1)
        self._step = window_s / limit_per_minute
        self._window = window_s
        self._finished = 0
        self._lock = threading.Lock()
        self._url = url
        self._liveness = self._hold_liveness_lock()
        self._prune()

    def _hold_liveness_lock(self) -> Any:
        conn = connect(self._url)
        conn.execute("SELECT pg_advisory_lock(%s::int4, %s::int4)", (LIVENESS_LOCKS, self.owner))
        return conn

    def _ensure_alive(self) -> None:
        """Before claiming: if the database lost this replica's lock (a restart, a dropped
        connection), others would take its updates over while it answers them; take it
        again first."""
        import psycopg

        with self._lock:
            try:
                self._liveness.execute("SELECT 1")
            except psycopg.Error:
                log.warning("the liveness connection was lost; holding the lock again")
                self._liveness.close()
                self._liveness = self._hold_liveness_lock()

    def _execute(self, query: str, params: dict[str, Any] | tuple[Any, ...]) -> list[Any]:
        with self._pool.connection() as conn:
            cursor = conn.execute(query, params)
            return cursor.fetchall() if cursor.description else []

    def acquire(self, key: str) -> float:
        params = {"key": key, "step": self._step, "window": self._window}
        if self._execute(_ACQUIRE, params):
            return 0.0
        rows = self._execute(
            "SELECT extract(epoch FROM tat - now()) FROM quoth_rate WHERE key = %s", (key,)
        )
        ahead = float(rows[0][0]) if rows else self._window
        return max(0.1, ahead + self._step - self._window)

    def claim_update(self, platform: str, update_id: int) -> Claim:
        self._ensure_alive()
        params = {"platform": platform, "id": update_id, "me": self.owner, "locks": LIVENESS_LOCKS}
        claimed = self._execute(_CLAIM, params)
        if claimed:
            return Claim.MINE if claimed[0][0] else Claim.TAKEN_OVER
        rows = self._execute(
            "SELECT done FROM quoth_updates WHERE platform = %s AND update_id = %s",
            (platform, update_id),
        )
        return Claim.DONE if rows and rows[0][0] else Claim.BUSY

    def finish_update(self, platform: str, update_id: int) -> None:
        self._execute(
            "UPDATE quoth_updates SET done = true WHERE platform = %s AND update_id = %s",
            (platform, update_id),
        )
        with self._lock:
            self._finished += 1
            due = self._finished % PRUNE_EVERY == 0
        if due:
            self._prune()

    def _prune(self) -> None:
        self._execute(
            "DELETE FROM quoth_updates WHERE claimed_at < now() - %s * interval '1 day'",
            (KEEP_UPDATES_DAYS,),
        )
        self._execute(
            "DELETE FROM quoth_rate WHERE tat < now() - %s * interval '1 second'", (self._window,)
        )
        self._execute(
            "DELETE FROM quoth_context WHERE updated_at < now() - %s * interval '1 second'",
            (self._context_s,),
        )

    def count_answer(self, outcome: str) -> None:
        self._execute(
            "INSERT INTO quoth_counters AS c (name, value) VALUES (%s, 1) "
            "ON CONFLICT (name) DO UPDATE SET value = c.value + 1",
            (outcome,),
        )

    def counters(self) -> Counters:
        rows = self._execute("SELECT name, value, since FROM quoth_counters", ())
        values = {name: int(value) for name, value, _ in rows}
        since = min((row[2] for row in rows), default=datetime.now(UTC))
        return Counters(
            values.get("answered", 0),
            values.get("refused", 0),
            since,
            "all replicas",
            values.get("closest", 0),
        )

    def context(self, conversation: str) -> list[Turn]:
        rows = self._execute(
            "SELECT turns FROM quoth_context WHERE conversation = %s"
            " AND updated_at >= now() - %s * interval '1 second'",
            (conversation, self._context_s),
        )
        return [Turn.from_json(turn) for turn in rows[0][0]] if rows else []

    def remember(self, conversation: str, turn: Turn) -> None:
        if self._context_s <= 0:
            return
        params = {
            "key": conversation,
            "turn": json.dumps(turn.to_json(), ensure_ascii=False),
            "ttl": self._context_s,
            "keep": CONTEXT_TURNS,
        }
        self._execute(_REMEMBER, params)

    def forget(self, conversation: str) -> None:
        self._execute("DELETE FROM quoth_context WHERE conversation = %s", (conversation,))

    def close(self) -> None:
        try:
            self._liveness.close()
        except Exception as error:  # closing must not hide why we are closing
            log.warning("closing the liveness connection: %s", first_line(error))
