"""Writing article files into the corpus folder that a running bot and a reindex read."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from quoth.corpus.loader import article_id, iter_article_files
from quoth.disk import full_error, is_full

UPLOAD_PREFIX = ".upload-"
"""Temporaries are hidden files: the corpus loader never reads a half-written article."""


def write_atomically(path: Path, data: bytes) -> None:
    """The file appears complete or not at all, even if the process is killed mid-write; a
    full disk is said as such (:class:`quoth.disk.DiskFullError`), the temporary removed."""
    try:
        descriptor, temporary = tempfile.mkstemp(prefix=UPLOAD_PREFIX, dir=path.parent)
    except OSError as error:
        if is_full(error, path.parent):
            raise full_error(path.name, path.parent) from error
        raise
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        Path(temporary).replace(path)
    except BaseException as error:
        full = is_full(error, path.parent)  # before the temporary frees its space
        with contextlib.suppress(OSError):
            Path(temporary).unlink()
        if full:
            raise full_error(path.name, path.parent) from error
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
