"""What the processes serving one bot must agree on: rate limits, updates already handled,
answer counters, and each conversation's last turns (so a follow-up reaching another replica
is read in its context).

One small interface with one module per backend, chosen in :func:`quoth.runtime.open_state`:
:mod:`quoth.state.local` keeps it in the process (one machine, the default),
:mod:`quoth.state.postgres` keeps it in the database every replica shares.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Protocol

from quoth.retrieval.followup import Turn


class Claim(Enum):
    """Who handles an incoming update: this process, nobody (done), or a live peer."""

    MINE = "mine"
    DONE = "done"
    BUSY = "busy"
    TAKEN_OVER = "taken_over"
    """Mine too: claimed by a replica that died before answering it."""


OUTCOMES = ("answered", "closest", "refused")
"""How an answer ended, as /stats counts it: claimed, closest passages only, or refused."""


@dataclass(frozen=True, slots=True)
class Counters:
    answered: int
    refused: int
    since: datetime
    scope: str
    """"this process" or "all replicas": what /stats is counting over."""
    closest: int = 0


class SharedState(Protocol):
    def acquire(self, key: str) -> float:
        """Spend one question of ``key``'s budget and return 0, or return the seconds to
        wait (spending nothing)."""
        ...

    def claim_update(self, platform: str, update_id: int) -> Claim:
        """Take an incoming update unless it was handled, or is being handled by a live
        process: a platform that re-delivers must not get two answers."""
        ...

    def finish_update(self, platform: str, update_id: int) -> None: ...

    def count_answer(self, outcome: str) -> None:
        """Count one answer under its outcome (one of :data:`OUTCOMES`)."""
        ...

    def counters(self) -> Counters: ...

    def context(self, conversation: str) -> list[Turn]:
        """The conversation's last turns (oldest first) that are younger than the context's
        time limit; none for one never seen, forgotten, or gone stale."""
        ...

    def remember(self, conversation: str, turn: Turn) -> None:
        """Add ``turn`` to the conversation, keeping its last few; restarts its clock."""
        ...

    def forget(self, conversation: str) -> None:
        """Drop what is kept of the conversation (``/new``)."""
        ...

    def close(self) -> None: ...
