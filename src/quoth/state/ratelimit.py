"""Per-user question budget, so one chatty user cannot monopolise a small server."""

from __future__ import annotations

import time
from collections import defaultdict, deque
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

Key = TypeVar("Key", bound=Hashable)


class SlidingWindowLimiter(Generic[Key]):
    """At most ``limit`` events per ``window`` seconds per key."""

    def __init__(
        self, limit: int, window: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._events: dict[Key, deque[float]] = defaultdict(deque)

    def acquire(self, key: Key) -> float:
        """Record an event and return 0, or return the seconds to wait without recording."""
        now = self._clock()
        events = self._events[key]
        while events and now - events[0] >= self.window:
            events.popleft()
        if len(events) >= self.limit:
            return self.window - (now - events[0])
        events.append(now)
        return 0.0
