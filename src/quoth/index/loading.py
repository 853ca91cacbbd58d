"""Opening what the folder of files serves: one build, or a base build and a delta layered
over it. A floor above both the store (which writes and reads one build) and the layered
index (which reads two), so that neither imports the other."""

from __future__ import annotations

from pathlib import Path
from typing import TypeAlias

import numpy as np

from quoth.index.layered import LayeredIndex
from quoth.index.store import (
    BUILDS,
    IndexData,
    check_compatible,
    current_build,
    load_build,
    read_manifest,
)

StoredIndex: TypeAlias = IndexData | LayeredIndex
"""What the folder of files serves: one build, or a base build and a delta over it."""


def load_index(index_dir: Path, model: str) -> StoredIndex:
    """Load the current build (and, for a delta, the base it layers on), refusing a foreign
    or damaged one with a clear message."""
    build = current_build(index_dir)
    manifest = read_manifest(build)
    check_compatible(manifest, model)
    if manifest.base is None:
        return load_build(build, manifest)
    # In the builds folder, not beside ``current``: a copy made by a tool that follows links
    # holds the current build as a folder of its own.
    base_folder = index_dir / BUILDS / manifest.base
    base_manifest = read_manifest(base_folder)
    check_compatible(base_manifest, model)
    base = load_build(base_folder, base_manifest)
    delta = load_build(build, manifest, base)
    return LayeredIndex(base, delta, np.asarray(manifest.removed_articles, dtype=np.int64))
