"""The heartbeat behind ``quoth health``: fresh, alive and loaded, or a one-line reason."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from quoth.health import HealthError, Heartbeat, check_health, keep_beating, write_heartbeat


def beat(**changes: object) -> Heartbeat:
    values: dict[str, object] = {
        "pid": os.getpid(), "written": time.time(), "platform": "telegram",
        "articles": 5, "passages": 120,
    }  # fmt: skip
    return Heartbeat.model_validate({**values, **changes})


def test_fresh_heartbeat_is_healthy(tmp_path: Path) -> None:
    write_heartbeat(tmp_path / "h.json", beat())
    assert check_health(tmp_path / "h.json").passages == 120


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"written": time.time() - 600}, "stuck"),
        ({"passages": 0}, "empty"),
    ],
)
def test_unhealthy_states_name_the_reason(
    tmp_path: Path, changes: dict[str, object], reason: str
) -> None:
    write_heartbeat(tmp_path / "h.json", beat(**changes))
    with pytest.raises(HealthError, match=reason):
        check_health(tmp_path / "h.json")


def test_dead_process_and_missing_or_broken_file(tmp_path: Path) -> None:
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True, check=True)  # fmt: skip
    write_heartbeat(tmp_path / "h.json", beat(pid=int(finished.stdout)))
    with pytest.raises(HealthError, match="gone"):
        check_health(tmp_path / "h.json")
    with pytest.raises(HealthError, match="not running"):
        check_health(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{half")
    with pytest.raises(HealthError, match="unreadable"):
        check_health(tmp_path / "bad.json")


async def test_heartbeat_refreshes_and_is_removed_on_shutdown(tmp_path: Path) -> None:
    path = tmp_path / "h.json"
    task = asyncio.create_task(keep_beating(path, beat, interval=0.01))
    await asyncio.sleep(0.05)
    first = check_health(path).written
    await asyncio.sleep(0.05)
    assert check_health(path).written > first
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not path.exists()
