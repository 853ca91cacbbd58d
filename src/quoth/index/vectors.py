"""Vector search behind one small interface; the index type is chosen by corpus size.

Exact (flat) search scans every vector: about 0.5 ms at 10k vectors on 2 cores, 11 ms at 90k
and over 100 ms at 1M. Up to :data:`FLAT_LIMIT` vectors every vector is still scanned, but
as 8-bit codes (``sq8``: a quarter of float32, and the scanned file is what a serving process
keeps resident), and the candidates are re-scored with the stored vectors, read by row, so
the results are those of exact search (docs/performance.md has the recall measured).
Collections under :data:`CODES_FROM` vectors stay float32 flat, scanned with NumPy
(:mod:`quoth.index.flat_scan`), so a process serving only such collections never loads
FAISS; the delta of a layered index is scanned whole at any size (it has no cells of its
own), as codes from :data:`CODES_FROM` vectors on, since every question scans it and a
long-lived bot's delta grows between merges (:func:`choose_delta_kind`). Beyond
:data:`FLAT_LIMIT` vectors quoth builds an inverted-file index (IVF): k-means cells, and a
question scans only the cells nearest to it.
On the benchmark's clustered news-like vectors (90k) IVF with 4*sqrt(n) cells reached
recall@10 0.975 against flat while scanning 64 cells in 0.4 ms; HNSW (M 32) reached only
0.89 at efSearch 256. Rebuilds reuse the previous build's cells, so a one-article reindex
does not re-run k-means.

The IVF cells hold 4-bit codes (an eighth of the float32 size, so an eighth of the memory
the scanned cells occupy), and the candidates they yield are re-scored with the stored
vectors, read by row. At 100k passages, recall@10 against exact search: float32 cells 0.988;
8-bit codes 0.973 alone, 0.989 re-scored; 4-bit codes re-scored from 8x the candidates
0.987 (20 MB of codes instead of 39 MB; a search of 20 takes 1.1 ms instead of 0.5 ms). At 1M
passages 4x the candidates gave 0.985 and 8x 0.991 (4.4 ms).
"""

from __future__ import annotations

import math
import sys
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import numpy.typing as npt

from quoth.index.embedder import Vectors
from quoth.index.flat_scan import FlatScan

if TYPE_CHECKING:
    import faiss  # imported where used: see _load_faiss

FLAT_LIMIT = 30_000
CODES_FROM = 1_000
"""Below this many vectors the float32 index is under 1.5 MB: codes would save little."""
TRAINING_POINTS_PER_CELL = 64
KMEANS_ITERATIONS = 10
CODE_TRAINING_POINTS = 10_000
"""The codes need only each dimension's range: a small sample gives it."""
REFINE_FACTOR = 8
"""Candidates fetched from the codes per result returned after exact re-scoring."""
DRIFT_MARGIN = 0.05
"""Rows new to reused centroids whose mean similarity to their nearest centre falls this far
below the known rows' have drifted from the lists: k-means runs again (see :func:`drifted`)."""
DRIFT_MIN_SHARE = 0.05
"""Fewer new rows than this share of the index cannot move recall much: no check."""
DRIFT_SAMPLE = 5_000


class ExactRows(Protocol):
    """Where the exact vectors are read from (:class:`quoth.index.rows.StoredVectors`)."""

    def rows(self, rows: npt.ArrayLike) -> Vectors: ...


class VectorIndex(Protocol):
    """Inner-product search over normalised vectors (so scores are cosine similarities)."""

    kind: str

    @property
    def size(self) -> int: ...

    def search(
        self, queries: Vectors, k: int, exclude: npt.NDArray[np.int64] | None = None
    ) -> tuple[Vectors, npt.NDArray[np.int64]]: ...

    def save(self, path: Path) -> None: ...

    def centroids(self) -> Vectors | None: ...

    def cells_of_rows(self) -> npt.NDArray[np.int64] | None: ...


FLAT_FILE = "passages.flat.npy"
FAISS_FILE = "passages.faiss"
CODED_KINDS = ("sq8", "ivf")
"""The kinds that hold codes, whose candidates are re-scored with the exact vectors."""
_searching_on_one_thread = False


@cache
def _load_faiss() -> None:
    """Import FAISS when a collection first needs it (codes or cells), set as this process
    asked: a flat collection is scanned by :class:`~quoth.index.flat_scan.FlatScan` and never
    loads FAISS's libraries. Every FAISS index is made by the two factories, which call this
    first; the functions below then import the loaded module by name."""
    import faiss

    if _searching_on_one_thread:
        faiss.omp_set_num_threads(1)


class FaissIndex:
    """A FAISS index of any kind; the kinds differ only in how they are built and tuned."""

    def __init__(self, index: faiss.Index, kind: str, exact: ExactRows | None = None) -> None:
        self._index = index
        self.kind = kind
        self._exact = exact if kind in CODED_KINDS else None

    @property
    def size(self) -> int:
        return int(self._index.ntotal)

    def search(
        self, queries: Vectors, k: int, exclude: npt.NDArray[np.int64] | None = None
    ) -> tuple[Vectors, npt.NDArray[np.int64]]:
        """The ``k`` best rows per query; ``exclude``: rows never returned (a layered
        version's removed rows), filtered inside the search so ``k`` live rows still come."""
        k = min(k, self.size)
        if k <= 0:
            empty = np.zeros((len(queries), 0))
            return empty.astype(np.float32), empty.astype(np.int64)
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        params = None
        if exclude is not None and len(exclude):
            params = self._excluding(np.ascontiguousarray(exclude, dtype=np.int64))
        if self._exact is None:
            scores, ids = self._index.search(queries, k, params=params)
            return scores, ids
        _, found = self._index.search(queries, min(self.size, k * REFINE_FACTOR), params=params)
        scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
        ids = np.full((len(queries), k), -1, dtype=np.int64)
        for i, (query, candidates) in enumerate(zip(queries, found, strict=True)):
            candidates = candidates[candidates >= 0]
            exact = self._exact.rows(candidates) @ query
            best = np.argsort(-exact, kind="stable")[:k]
            scores[i, : len(best)], ids[i, : len(best)] = exact[best], candidates[best]
        return scores, ids

    def _excluding(self, rows: npt.NDArray[np.int64]) -> Any:
        """Search parameters that skip ``rows`` (FAISS's stubs do not know these keywords)."""
        import faiss

        batch = faiss.IDSelectorBatch(len(rows), faiss.swig_ptr(rows))
        selector = faiss.IDSelectorNot(batch)
        params: Any
        if self.kind == "ivf":
            params = faiss.SearchParametersIVF(sel=selector, nprobe=self.probes)  # type: ignore[call-arg]
        else:
            params = faiss.SearchParameters(sel=selector)  # type: ignore[call-arg]
        params.keep_alive = (rows, batch, selector)  # the selectors point into these
        return params

    def save(self, path: Path) -> None:
        import faiss

        faiss.write_index(self._index, str(path))

    @property
    def probes(self) -> int:
        """IVF cells scanned per question (0 for a flat index)."""
        import faiss

        return int(faiss.extract_index_ivf(self._index).nprobe) if self.kind == "ivf" else 0

    @probes.setter
    def probes(self, count: int) -> None:
        import faiss

        if self.kind == "ivf":
            faiss.extract_index_ivf(self._index).nprobe = count

    @property
    def cells(self) -> int:
        import faiss

        return int(faiss.extract_index_ivf(self._index).nlist) if self.kind == "ivf" else 0

    def centroids(self) -> Vectors | None:
        """The IVF cells' centres, for the next build to reuse; None for a flat index."""
        import faiss

        if self.kind != "ivf":
            return None
        ivf = faiss.extract_index_ivf(self._index)
        return np.asarray(ivf.quantizer.reconstruct_n(0, ivf.nlist), dtype=np.float32)

    def cells_of_rows(self) -> npt.NDArray[np.int64] | None:
        """The IVF cell each row was filed in, so a rebuild with the same cells can file
        unchanged rows without searching for their nearest centre again; None when flat."""
        import faiss

        if self.kind != "ivf":
            return None
        ivf = faiss.extract_index_ivf(self._index)
        lists = ivf.invlists
        cells = np.full(self.size, -1, dtype=np.int64)
        if lists is None:
            return cells
        for cell in range(ivf.nlist):
            count = lists.list_size(cell)
            if count:
                cells[faiss.rev_swig_ptr(lists.get_ids(cell), count)] = cell
        return cells


def search_on_one_thread() -> None:
    """Make FAISS search on the calling thread only, as a process answering questions wants.

    A question is one query: OpenMP threads gain nothing on it and spin against ONNX Runtime's
    threads for the same two cores. Measured at 10k passages (flat): 0.37 ms a search on one
    thread against 1.4 ms on two, and 0.6 against 3.4 ms right after encoding the question.
    Process-wide, so a reindex inside a serving process also files its vectors on one thread
    (there it has only the changed rows to place); ``quoth index`` keeps every core.
    """
    global _searching_on_one_thread
    _searching_on_one_thread = True
    if "faiss" in sys.modules:  # already loaded: set now; otherwise set when it loads
        import faiss

        faiss.omp_set_num_threads(1)


def choose_kind(count: int) -> str:
    if count < CODES_FROM:
        return "flat"
    return "sq8" if count <= FLAT_LIMIT else "ivf"


def choose_delta_kind(count: int) -> str:
    """A delta is searched whole beside its base's index (cells are the base's), so it is
    flat or 8-bit codes, never IVF."""
    return "flat" if count < CODES_FROM else "sq8"


def cell_count(vectors: int) -> int:
    """4*sqrt(n) cells, with enough points per cell for k-means to be meaningful."""
    return max(1, min(int(4 * math.sqrt(vectors)), vectors // 39))


PROBE_CEILING = 128
"""Past 2,048 cells a fixed number of cells is probed, not a share: the share's scan would
grow with the corpus (n/16 codes a question); the recall this keeps is measured by
``python -m bench --scale 1m`` (its ``ivf_recall_at_10``, docs/performance.md)."""


def probe_count(cells: int) -> int:
    """Cells scanned per question: chosen for recall@10 >= 0.95 (see ``python -m bench``):
    a sixteenth of the cells, at least 32 and at most :data:`PROBE_CEILING`."""
    return min(cells, max(32, min(cells // 16, PROBE_CEILING)))


def _ivf(vectors: Vectors, previous_centroids: Vectors | None) -> faiss.Index:
    import faiss

    count, dimension = vectors.shape
    cells = cell_count(count)
    quantizer = faiss.IndexFlatIP(dimension)
    if previous_centroids is not None and cells / 2 <= len(previous_centroids) <= cells * 2:
        cells = len(previous_centroids)
    else:
        previous_centroids = None
    index = faiss.IndexIVFScalarQuantizer(
        quantizer, dimension, cells, faiss.ScalarQuantizer.QT_4bit, faiss.METRIC_INNER_PRODUCT
    )
    rng = np.random.default_rng(0)
    sample = cells * TRAINING_POINTS_PER_CELL
    if previous_centroids is not None:
        # A filled quantizer is kept as it is: training then only sets the codes' ranges.
        quantizer.add(np.ascontiguousarray(previous_centroids, dtype=np.float32))
        sample = CODE_TRAINING_POINTS
    index.cp.niter = KMEANS_ITERATIONS
    chosen = np.sort(rng.choice(count, min(count, sample), replace=False))
    index.train(np.ascontiguousarray(vectors[chosen], dtype=np.float32))
    index.nprobe = probe_count(cells)
    return index


def _codes(vectors: Vectors) -> faiss.Index:
    """Every vector as 8-bit codes, each dimension's range taken from a sample."""
    import faiss

    count, dimension = vectors.shape
    index = faiss.IndexScalarQuantizer(
        dimension, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
    )
    rng = np.random.default_rng(0)
    chosen = np.sort(rng.choice(count, min(count, CODE_TRAINING_POINTS), replace=False))
    index.train(np.ascontiguousarray(vectors[chosen], dtype=np.float32))
    return index


def _add_filed(index: faiss.Index, vectors: Vectors, cells: npt.NDArray[np.int64]) -> None:
    """Add to an IVF index rows whose cells are known (-1: not known, searched for here)."""
    import faiss

    ivf = faiss.extract_index_ivf(index)
    cells = np.ascontiguousarray(cells, dtype=np.int64).copy()
    unknown = np.flatnonzero(cells < 0)
    if len(unknown):
        _, nearest = ivf.quantizer.search(np.ascontiguousarray(vectors[unknown]), 1)
        cells[unknown] = nearest[:, 0]
    ivf.add_core(len(vectors), faiss.swig_ptr(vectors), None, faiss.swig_ptr(cells))


def build_vector_index(
    vectors: Vectors,
    kind: str = "flat",
    previous_centroids: Vectors | None = None,
    known_cells: npt.NDArray[np.int64] | None = None,
) -> VectorIndex:
    """Factory: build the index type named in the manifest (a flat one without FAISS).

    ``known_cells``: for an IVF index reusing ``previous_centroids``, each row's cell when
    known (-1 where not), which saves the nearest-centre search for unchanged rows."""
    if kind == "flat":
        return FlatScan(vectors)
    _load_faiss()
    import faiss

    index: faiss.Index
    if kind == "ivf":
        if previous_centroids is not None and drifted(vectors, previous_centroids, known_cells):
            previous_centroids = None
        index = _ivf(vectors, previous_centroids)
        if previous_centroids is None or faiss.extract_index_ivf(index).nlist != len(
            previous_centroids
        ):
            known_cells = None
    elif kind == "sq8":
        index, known_cells = _codes(vectors), None
    else:
        raise ValueError(f"unknown vector index kind {kind!r}")
    for start in range(0, len(vectors), 100_000):
        chunk = np.ascontiguousarray(vectors[start : start + 100_000], dtype=np.float32)
        if known_cells is not None:
            _add_filed(index, chunk, known_cells[start : start + 100_000])
        else:
            index.add(chunk)
    return FaissIndex(index, kind)


def drifted(
    vectors: Vectors, centroids: Vectors, known_cells: npt.NDArray[np.int64] | None
) -> bool:
    """Whether the rows new to ``centroids`` (cell -1 in ``known_cells``) fit them clearly
    worse than the rows the cells were made with: then the lists no longer fit the data (a
    new topic crowds a few cells and recall drops), and reusing them would keep that.

    Measured as the mean inner product of a sample of each group with its nearest centre."""
    import faiss

    if known_cells is None:
        return False
    new, old = np.flatnonzero(known_cells < 0), np.flatnonzero(known_cells >= 0)
    if len(new) < DRIFT_MIN_SHARE * len(known_cells) or not len(old):
        return False
    centres = faiss.IndexFlatIP(centroids.shape[1])
    centres.add(np.ascontiguousarray(centroids, dtype=np.float32))
    rng = np.random.default_rng(0)

    def fit(rows: npt.NDArray[np.int64]) -> float:
        chosen = np.sort(rng.choice(rows, min(len(rows), DRIFT_SAMPLE), replace=False))
        similarity, _ = centres.search(np.ascontiguousarray(vectors[chosen], np.float32), 1)
        return float(similarity.mean())

    return fit(old) - fit(new) > DRIFT_MARGIN


def vector_file(kind: str) -> str:
    """The file a build keeps its vector index in: a flat scan's matrix, or FAISS's file."""
    return FLAT_FILE if kind == "flat" else FAISS_FILE


def load_vector_index(path: Path, kind: str, exact: ExactRows | None = None) -> VectorIndex:
    """Memory-map the stored index: pages load on demand and the kernel may drop them.

    A flat scan's matrix (``.npy``) is read whole instead (it is small); a flat FAISS file
    (builds written before flat scans) is still read by FAISS.
    ``exact``: the exact vectors, to re-score what the codes (``sq8``, ``ivf``) found."""
    if kind == "flat" and path.suffix == ".npy":
        return FlatScan.load(path)
    _load_faiss()
    import faiss

    index = faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC | faiss.IO_FLAG_READ_ONLY)
    if kind == "ivf":
        ivf = faiss.extract_index_ivf(index)
        ivf.nprobe = probe_count(ivf.nlist)
    return FaissIndex(index, kind, exact)
