"""Exact search of a small collection with NumPy alone: every vector scanned, in memory.

Below :data:`quoth.index.vectors.CODES_FROM` vectors the whole float32 matrix is under
1.5 MB and one matrix product scans it in a fraction of a millisecond. Serving such a
collection without FAISS keeps its libraries (its own OpenBLAS and SWIG wrappers) out of
the process: a bot over a few dozen articles never loads them, nor does a reindex of them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt

from quoth.index.embedder import Vectors


class FlatScan:
    """Inner-product search over every stored vector (normalised: cosine similarity)."""

    kind = "flat"

    def __init__(self, vectors: Vectors) -> None:
        self._vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if self._vectors.ndim != 2:
            raise ValueError("a flat scan needs a matrix of vectors")

    @classmethod
    def load(cls, path: Path) -> FlatScan:
        """Read the matrix whole: small by construction, so nothing to map lazily."""
        return cls(np.load(path, allow_pickle=False))

    @property
    def size(self) -> int:
        return len(self._vectors)

    def search(
        self, queries: Vectors, k: int, exclude: npt.NDArray[np.int64] | None = None
    ) -> tuple[Vectors, npt.NDArray[np.int64]]:
        """The ``k`` best rows per query, best first (equal scores: the lower row first);
        ``exclude``: rows never returned, so ``k`` live rows still come. Where fewer than
        ``k`` rows are live the rest is padded as FAISS pads: score -inf, row -1."""
        queries = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self._dimension)
        k = max(0, min(k, self.size))
        if k == 0:
            empty = np.zeros((len(queries), 0))
            return empty.astype(np.float32), empty.astype(np.int64)
        every = queries @ self._vectors.T
        if exclude is not None and len(exclude):
            wanted = np.asarray(exclude, dtype=np.int64)
            every[:, wanted[(wanted >= 0) & (wanted < self.size)]] = -np.inf
        top = np.argpartition(-every, k - 1, axis=1)[:, :k] if k < self.size else None
        scores = np.empty((len(queries), k), dtype=np.float32)
        rows = np.empty((len(queries), k), dtype=np.int64)
        for i, scored in enumerate(every):
            candidates = np.arange(self.size) if top is None else top[i]
            order = np.lexsort((candidates, -scored[candidates]))
            rows[i], scores[i] = candidates[order], scored[candidates[order]]
        rows[np.isneginf(scores)] = -1  # excluded: fewer live rows than asked for
        return scores, rows

    @property
    def _dimension(self) -> int:
        return int(self._vectors.shape[1])

    def save(self, path: Path) -> None:
        with path.open("wb") as out:  # a handle: np.save would add ".npy" to a path
            np.save(out, self._vectors, allow_pickle=False)

    def centroids(self) -> Vectors | None:
        """A flat scan has no cells."""
        return None

    def cells_of_rows(self) -> npt.NDArray[np.int64] | None:
        return None
