"""Telling a full disk from other write errors, so that it is said in one clear line.

A full disk shows up in many shapes: ``ENOSPC`` or ``EDQUOT`` from the kernel, or a library's
own short-write message with no errno at all (numpy: "82944 requested and 14272 written").
Whoever writes atomically (a staging folder, a temporary file) checks here *before* removing
what it half-wrote, while the disk is still full, and raises :class:`DiskFullError`: what was
not written, where, and that nothing else changed.
"""

from __future__ import annotations

import errno
import shutil
from pathlib import Path

from quoth.errors import QuothError

FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
NEARLY_FULL_BYTES = 1 << 20
"""Free space below which a write error without an errno is taken for a full disk."""


class DiskFullError(QuothError):
    """A write ran out of disk space; the message names what and where."""


def free_bytes(folder: Path) -> int | None:
    """Space left to an ordinary user on the disk holding ``folder`` (None: cannot tell)."""
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return None


def is_full(error: BaseException, folder: Path) -> bool:
    """Whether ``error`` means the disk holding ``folder`` ran out of space."""
    if not isinstance(error, OSError):
        return False
    if error.errno in FULL_ERRNOS:
        return True
    free = free_bytes(folder)
    return error.errno is None and free is not None and free < NEARLY_FULL_BYTES


def full_error(what: str, folder: Path) -> DiskFullError:
    """The one line said when ``what`` could not be written into ``folder``."""
    free = free_bytes(folder)
    left = "" if free is None else f" ({_size(free)} free once the partial write was removed)"
    return DiskFullError(
        f"{what} was not written: the disk holding {folder} ran out of space{left}. Nothing "
        "was changed; free some space and try again."
    )


def _size(count: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if count < 1024 or unit == "GB":
            return f"{count} {unit}" if unit == "bytes" else f"{count:.1f} {unit}"
        count /= 1024  # type: ignore[assignment]
    return f"{count} bytes"
