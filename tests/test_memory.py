"""Freed heap memory goes back to the system, so a server's RSS is what it uses."""

from __future__ import annotations

import platform
from pathlib import Path

import numpy as np
import pytest

from quoth.memory import release_free_memory


def resident_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


@pytest.mark.skipif(platform.system() != "Linux" or not platform.libc_ver()[0], reason="glibc")
def test_freed_heap_memory_is_returned() -> None:
    # 100 kB blocks come from the heap, not from mmap; keeping the last one alive pins the
    # top of the heap, so without a trim the freed blocks below it stay resident.
    blocks = [np.ones(100_000 // 8) for _ in range(2_000)]
    pinned = blocks.pop()
    del blocks
    before = resident_mb()
    assert release_free_memory()
    after = resident_mb()
    assert before - after > 100, (before, after)
    assert pinned.sum() == len(pinned)
