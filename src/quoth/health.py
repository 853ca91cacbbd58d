"""Liveness for container health checks, without calling Telegram or Discord on each probe.

The serving process writes a small heartbeat file from its event loop every few seconds.
``quoth health`` reads it: a fresh heartbeat proves the loop still runs (a blocked or dead loop
stops writing), and the file says an index is loaded and how big it is.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel, ValidationError

from quoth.errors import QuothError

HEARTBEAT_SECONDS = 10.0
DATABASE_OK = "ok"
STALE_AFTER_SECONDS = 45.0


class HealthError(QuothError):
    """Not healthy; the message says why, in one line, for the operator reading probe logs."""


class Heartbeat(BaseModel):
    pid: int
    written: float
    platform: str
    articles: int
    passages: int
    database: str | None = None
    """``ok``, or why the database (QUOTH_DATABASE_URL) is down; None without one."""


def write_heartbeat(path: Path, beat: Heartbeat) -> None:
    """Atomic replace, so a probe never reads half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    partial.write_text(beat.model_dump_json())
    partial.replace(path)


async def keep_beating(
    path: Path, describe: Callable[[], Heartbeat], interval: float = HEARTBEAT_SECONDS
) -> None:
    """Run for the life of the bot; removes the file when cancelled (a clean shutdown)."""
    try:
        while True:
            write_heartbeat(path, describe())
            await asyncio.sleep(interval)
    finally:
        with contextlib.suppress(OSError):
            path.unlink()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def check_health(path: Path, now: float | None = None) -> Heartbeat:
    """The heartbeat if the server is up, loaded and recent; else :class:`HealthError`."""
    try:
        beat = Heartbeat.model_validate(json.loads(path.read_text()))
    except FileNotFoundError:
        raise HealthError(f"No heartbeat at {path}: quoth serve is not running (yet).") from None
    except (OSError, ValueError, ValidationError):
        raise HealthError(f"The heartbeat file {path} is unreadable.") from None
    age = (now if now is not None else time.time()) - beat.written
    if age > STALE_AFTER_SECONDS:
        raise HealthError(f"The last heartbeat is {age:.0f} s old: the bot loop is stuck.")
    if not _alive(beat.pid):
        raise HealthError(f"The serving process {beat.pid} is gone.")
    if beat.passages <= 0:
        raise HealthError("The index is empty.")
    if beat.database not in (None, DATABASE_OK):
        raise HealthError(f"The database is down: {beat.database}")
    return beat
