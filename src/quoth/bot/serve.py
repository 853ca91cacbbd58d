"""Run the chat adapters of one process over one loaded index, until a stop signal.

Telegram and Discord share the answering service, the library (so a reindex asked for on
one platform serves both) and the heartbeat; each adapter only connects and disconnects.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Sequence
from typing import Protocol

from quoth import metrics
from quoth.bot.library import Library
from quoth.health import keep_beating

log = logging.getLogger("quoth.serve")


class ConnectionLostError(Exception):
    """A platform's connection ended for good while serving; the message says which."""


class ChatAdapter(Protocol):
    """One chat platform's connection; ``start`` returns once it receives messages."""

    platform: str

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def wait_closed(self) -> None:
        """Return if the connection ends for good on its own (a fatal error)."""
        ...


async def serve_until_stopped(library: Library, adapters: Sequence[ChatAdapter]) -> None:
    """Start every adapter, beat while all run, stop them all on SIGTERM/SIGINT.

    If an adapter's connection ends by itself the others are stopped too and its error
    propagates, so a supervisor (Docker's restart policy) restarts a whole, healthy process.
    """
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    started: list[ChatAdapter] = []
    heartbeat: asyncio.Task[None] | None = None
    index_gauges = metrics.watch_index(lambda: library.service.index, library.index_version)
    exporter = None
    if library.settings.metrics_port is not None:
        exporter = metrics.serve_on_port(library.settings.metrics_port, library.settings.replica)
    follower = asyncio.create_task(library.follow_published())
    refresher = asyncio.create_task(library.refresh_periodically())
    feeder = asyncio.create_task(library.refresh_feeds_periodically())
    prober = asyncio.create_task(library.watch_database())
    library.discard_torn_uploads()
    try:
        for adapter in adapters:
            await adapter.start()
            started.append(adapter)
        platform = "+".join(adapter.platform for adapter in adapters)
        log.info("serving on %s", platform)
        heartbeat = asyncio.create_task(
            keep_beating(library.settings.health_file, lambda: library.heartbeat(platform))
        )
        watchers = [asyncio.create_task(adapter.wait_closed()) for adapter in adapters]
        stopping = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait([stopping, *watchers], return_when=asyncio.FIRST_COMPLETED)
        for task in [stopping, *watchers]:
            task.cancel()
        for adapter, watcher in zip(adapters, watchers, strict=True):
            if watcher in done:
                error = None if watcher.cancelled() else watcher.exception()
                log.error("%s connection ended", adapter.platform, exc_info=error)
                reason = f": {error}" if error else ""
                raise ConnectionLostError(f"The {adapter.platform} connection ended{reason}")
        log.info("stopping")
    finally:
        metrics.unwatch(index_gauges)
        if exporter is not None:
            exporter.shutdown()
            exporter.server_close()
        for task in (follower, refresher, feeder, prober):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if heartbeat is not None:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
        for adapter in reversed(started):
            try:
                await adapter.stop()
            except Exception:
                log.exception("error while stopping %s", adapter.platform)
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        library.state.close()
