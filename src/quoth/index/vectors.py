"""Vector search behind one small interface, so the index type can change with corpus size."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import faiss
import numpy as np
import numpy.typing as npt

from quoth.index.embedder import Vectors


class VectorIndex(Protocol):
    """Inner-product search over normalised vectors (so scores are cosine similarities)."""

    kind: str

    @property
    def size(self) -> int: ...

    def search(self, queries: Vectors, k: int) -> tuple[Vectors, npt.NDArray[np.int64]]: ...

    def save(self, path: Path) -> None: ...


class FlatIndex:
    """Exact search: the right choice while a brute-force scan costs a few milliseconds."""

    kind = "flat"

    def __init__(self, index: faiss.Index) -> None:
        self._index = index

    @classmethod
    def build(cls, vectors: Vectors) -> FlatIndex:
        index = faiss.IndexFlatIP(vectors.shape[1])
        if len(vectors):
            index.add(vectors)
        return cls(index)

    @classmethod
    def load(cls, path: Path) -> FlatIndex:
        return cls(faiss.read_index(str(path)))

    @property
    def size(self) -> int:
        return int(self._index.ntotal)

    def search(self, queries: Vectors, k: int) -> tuple[Vectors, npt.NDArray[np.int64]]:
        k = min(k, self.size)
        if k <= 0:
            empty = np.zeros((len(queries), 0))
            return empty.astype(np.float32), empty.astype(np.int64)
        scores, ids = self._index.search(queries, k)
        return scores, ids

    def save(self, path: Path) -> None:
        faiss.write_index(self._index, str(path))


_KINDS = {"flat": FlatIndex}


def build_vector_index(vectors: Vectors, kind: str = "flat") -> VectorIndex:
    """Factory: build the index type named in the manifest."""
    return _KINDS[kind].build(vectors)


def load_vector_index(path: Path, kind: str) -> VectorIndex:
    return _KINDS[kind].load(path)
