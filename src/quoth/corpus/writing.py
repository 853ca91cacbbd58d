"""Writing article files into the corpus folder that a running bot and a reindex read."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from quoth.corpus.loader import article_id, iter_article_files

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


def remove_article_files(corpus: Path, doc_id: str) -> list[Path]:
    """Delete the files of one article (and its sidecar); ids are matched, never joined
    into a path. Returns what was deleted (nothing: no such article)."""
    files = [p for p in iter_article_files(corpus) if article_id(corpus, p) == doc_id]
    removed = []
    for path in files:
        for victim in (path, path.with_name(f"{path.stem}.meta.json")):
            if victim.exists():
                victim.unlink()
                removed.append(victim)
    return removed
