"""Embedding, the on-disk index and its atomic publication."""

from quoth.index.builder import BuildReport, Chunking, build_index
from quoth.index.embedder import Embedder, ModelError
from quoth.index.embedders import load_embedder
from quoth.index.errors import (
    IndexBusyError,
    IndexCorruptError,
    IndexMismatchError,
    IndexNotFoundError,
    IndexStoreError,
)
from quoth.index.loading import load_index
from quoth.index.store import ArticleRecord, IndexData

__all__ = [
    "ArticleRecord",
    "BuildReport",
    "Chunking",
    "Embedder",
    "IndexBusyError",
    "IndexCorruptError",
    "IndexData",
    "IndexMismatchError",
    "IndexNotFoundError",
    "IndexStoreError",
    "ModelError",
    "build_index",
    "load_embedder",
    "load_index",
]
