"""Shared state of a single process: kept in memory, gone with the process (as is the need
for it: a restarted single process starts over with the platform's re-deliveries)."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from datetime import UTC, datetime

from quoth.retrieval.followup import CONTEXT_TURNS, Turn
from quoth.state import OUTCOMES, Claim, Counters
from quoth.state.ratelimit import SlidingWindowLimiter

REMEMBERED_UPDATES = 10_000
"""Update ids kept to spot re-deliveries; Telegram re-delivers within minutes, not thousands
of updates later."""
REMEMBERED_CONVERSATIONS = 10_000
"""Conversations whose last turns are kept; past that the least recently active is dropped
(its next question is read as sent), so a flood of chats cannot grow the process."""


class LocalState:
    def __init__(
        self,
        limit_per_minute: int,
        context_s: float = 900.0,
        conversations: int = REMEMBERED_CONVERSATIONS,
    ) -> None:
        self._context_s = context_s
        self._most = conversations
        self._contexts: OrderedDict[str, tuple[float, tuple[Turn, ...]]] = OrderedDict()
        self._limiter = SlidingWindowLimiter[str](limit_per_minute)
        self._updates: OrderedDict[tuple[str, int], bool] = OrderedDict()
        self._lock = threading.Lock()  # counters are bumped from answering threads
        self._counts = dict.fromkeys(OUTCOMES, 0)
        self._since = datetime.now(UTC)

    def acquire(self, key: str) -> float:
        with self._lock:
            return self._limiter.acquire(key)

    def claim_update(self, platform: str, update_id: int) -> Claim:
        key = (platform, update_id)
        with self._lock:
            done = self._updates.get(key)
            if done is not None:
                return Claim.DONE if done else Claim.BUSY
            self._updates[key] = False
            while len(self._updates) > REMEMBERED_UPDATES:
                self._updates.popitem(last=False)
            return Claim.MINE

    def finish_update(self, platform: str, update_id: int) -> None:
        with self._lock:
            self._updates[(platform, update_id)] = True

    def count_answer(self, outcome: str) -> None:
        with self._lock:
            self._counts[outcome] += 1

    def counters(self) -> Counters:
        counts = self._counts
        return Counters(
            counts["answered"], counts["refused"], self._since, "this process", counts["closest"]
        )

    def context(self, conversation: str) -> list[Turn]:
        with self._lock:
            kept = self._contexts.get(conversation)
            if kept is None:
                return []
            if time.monotonic() - kept[0] > self._context_s:
                del self._contexts[conversation]
                return []
            return list(kept[1])

    def remember(self, conversation: str, turn: Turn) -> None:
        if self._context_s <= 0:
            return
        now = time.monotonic()
        with self._lock:
            kept = self._contexts.pop(conversation, None)
            turns = kept[1] if kept is not None and now - kept[0] <= self._context_s else ()
            self._contexts[conversation] = (now, (*turns, turn)[-CONTEXT_TURNS:])
            while len(self._contexts) > self._most:
                self._contexts.popitem(last=False)

    def forget(self, conversation: str) -> None:
        with self._lock:
            self._contexts.pop(conversation, None)

    def close(self) -> None:
        pass
