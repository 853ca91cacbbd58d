"""Shared state of a single process: kept in memory, gone with the process (as is the need
for it: a restarted single process starts over with the platform's re-deliveries)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from datetime import UTC, datetime

from quoth.state import OUTCOMES, Claim, Counters
from quoth.state.ratelimit import SlidingWindowLimiter

REMEMBERED_UPDATES = 10_000
"""Update ids kept to spot re-deliveries; Telegram re-delivers within minutes, not thousands
of updates later."""


class LocalState:
    def __init__(self, limit_per_minute: int) -> None:
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

    def close(self) -> None:
        pass
