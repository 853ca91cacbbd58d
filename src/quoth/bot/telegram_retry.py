"""Every Bot API call goes through PTB's rate limiter; ours also retries network failures.

PTB's ``AIORateLimiter`` waits out flood limits (429 with ``retry_after``) but passes a 5xx, a
dropped connection or a timeout straight to the handler, which would lose the answer. Those
failures mean the request did not take effect, so sending it again is correct: the answer
arrives once, late rather than never. ``getUpdates`` is left alone: the updater has its own
retry loop and an unconfirmed update is simply delivered again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from telegram.error import BadRequest, NetworkError
from telegram.ext import AIORateLimiter

from quoth import metrics

log = logging.getLogger("quoth.telegram")

JSONDict = dict[str, Any]


class RetryingRateLimiter(AIORateLimiter):
    """``AIORateLimiter`` plus up to ``network_retries`` resends after network failures."""

    def __init__(
        self, *, network_retries: int = 6, first_delay: float = 0.5, **options: Any
    ) -> None:
        super().__init__(**options)
        self.network_retries = network_retries
        self.first_delay = first_delay

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | JSONDict | list[JSONDict]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> bool | JSONDict | list[JSONDict]:
        delay = self.first_delay
        for attempt in range(self.network_retries + 1):
            try:
                return await super().process_request(
                    callback, args, kwargs, endpoint, data, rate_limit_args
                )
            except BadRequest:  # a NetworkError subclass, but the request itself is wrong
                raise
            except NetworkError as error:
                if endpoint == "getUpdates" or attempt == self.network_retries:
                    raise
                log.warning("%s failed (%s); retrying in %.1f s", endpoint, error, delay)
                metrics.SEND_RETRIES.labels("telegram").inc()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 8.0)
        raise AssertionError("unreachable")
