"""Vector search behind one small interface; the index type is chosen by corpus size.

Exact (flat) search costs a scan of every vector: about 0.5 ms at 10k vectors on 2 cores and
a few milliseconds at 100k, but over 100 ms at 1M. Beyond :data:`FLAT_LIMIT` vectors quoth
builds an HNSW graph, whose search stays around a millisecond. On the benchmark's clustered
news-like vectors (~90k) HNSW with M=32 reached recall@10 of only 0.80 at efSearch 128 and
0.89 at 256, so exact search is kept up to 200k vectors.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import faiss
import numpy as np
import numpy.typing as npt

from quoth.index.embedder import Vectors

FLAT_LIMIT = 200_000
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 256


class VectorIndex(Protocol):
    """Inner-product search over normalised vectors (so scores are cosine similarities)."""

    kind: str

    @property
    def size(self) -> int: ...

    def search(self, queries: Vectors, k: int) -> tuple[Vectors, npt.NDArray[np.int64]]: ...

    def save(self, path: Path) -> None: ...


class FaissIndex:
    """A FAISS index of either kind; the kinds differ only in how they are built and tuned."""

    def __init__(self, index: faiss.Index, kind: str) -> None:
        self._index = index
        self.kind = kind

    @property
    def size(self) -> int:
        return int(self._index.ntotal)

    def search(self, queries: Vectors, k: int) -> tuple[Vectors, npt.NDArray[np.int64]]:
        k = min(k, self.size)
        if k <= 0:
            empty = np.zeros((len(queries), 0))
            return empty.astype(np.float32), empty.astype(np.int64)
        scores, ids = self._index.search(np.ascontiguousarray(queries, dtype=np.float32), k)
        return scores, ids

    def save(self, path: Path) -> None:
        faiss.write_index(self._index, str(path))

    def set_ef_search(self, ef: int) -> None:
        if self.kind == "hnsw":
            faiss.ParameterSpace().set_index_parameter(self._index, "efSearch", ef)


def choose_kind(count: int) -> str:
    return "flat" if count <= FLAT_LIMIT else "hnsw"


def build_vector_index(vectors: Vectors, kind: str = "flat") -> FaissIndex:
    """Factory: build the index type named in the manifest."""
    dimension = vectors.shape[1]
    index: faiss.Index
    if kind == "hnsw":
        graph = faiss.IndexHNSWFlat(dimension, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        graph.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        graph.hnsw.efSearch = HNSW_EF_SEARCH
        index = graph
    elif kind == "flat":
        index = faiss.IndexFlatIP(dimension)
    else:
        raise ValueError(f"unknown vector index kind {kind!r}")
    if len(vectors):
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return FaissIndex(index, kind)


def load_vector_index(path: Path, kind: str) -> FaissIndex:
    """Memory-map the stored vectors: pages load on demand and the kernel may drop them."""
    index = faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC | faiss.IO_FLAG_READ_ONLY)
    loaded = FaissIndex(index, kind)
    loaded.set_ef_search(HNSW_EF_SEARCH)
    return loaded
