"""Writing article files into the corpus folder that a running bot and a reindex read."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

UPLOAD_PREFIX = ".upload-"
"""Temporaries are hidden files: the corpus loader never reads a half-written article."""


def write_atomically(path: Path, data: bytes) -> None:
    """The file appears complete or not at all, even if the process is killed mid-write."""
    descriptor, temporary = tempfile.mkstemp(prefix=UPLOAD_PREFIX, dir=path.parent)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        Path(temporary).replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            Path(temporary).unlink()
        raise
