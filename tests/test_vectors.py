"""The vector index factory: exact search when small, IVF with high recall when large."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from quoth.index.embedder import normalise
from quoth.index.flat_scan import FlatScan
from quoth.index.rows import StoredVectors
from quoth.index.vectors import (
    CODES_FROM,
    FLAT_LIMIT,
    FaissIndex,
    VectorIndex,
    build_vector_index,
    choose_delta_kind,
    choose_kind,
    drifted,
    load_vector_index,
    vector_file,
)


def clustered(count: int, dimension: int = 64, seed: int = 0) -> np.ndarray:
    """Vectors bunched around topics, with near-duplicates, as news passages are."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(count // 100, dimension))
    picks = rng.integers(0, len(centres), count)
    points = centres[picks] + rng.normal(scale=0.35, size=(count, dimension))
    return normalise(points.astype(np.float32))


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    hits = sum(len(set(a) & set(b)) for a, b in zip(found.tolist(), truth.tolist(), strict=True))
    return hits / truth.size


def test_kind_follows_size() -> None:
    assert choose_kind(10) == "flat"
    assert choose_kind(CODES_FROM - 1) == "flat"
    assert choose_kind(CODES_FROM) == "sq8"
    assert choose_kind(FLAT_LIMIT) == "sq8"
    assert choose_kind(FLAT_LIMIT + 1) == "ivf"
    assert choose_delta_kind(CODES_FROM - 1) == "flat"
    assert choose_delta_kind(CODES_FROM) == "sq8"
    assert choose_delta_kind(4 * FLAT_LIMIT) == "sq8"  # a delta has no cells of its own


def test_codes_rescored_give_exact_search_from_a_quarter_of_the_file(tmp_path: Path) -> None:
    vectors = clustered(5_000, dimension=384, seed=4)
    queries = normalise(vectors[:50] + np.random.default_rng(5).normal(0, 0.05, (50, 384)))
    exact = vectors.astype(np.float16).astype(np.float32)  # what the stored rows hold
    flat = build_vector_index(exact, "flat")
    truth_scores, truth = flat.search(queries, 20)
    build_vector_index(vectors, "sq8").save(tmp_path / "codes.faiss")
    flat.save(tmp_path / "flat.npy")
    np.save(tmp_path / "vectors.npy", vectors.astype(np.float16))
    served = load_vector_index(
        tmp_path / "codes.faiss", "sq8", StoredVectors(tmp_path / "vectors.npy")
    )
    scores, rows = served.search(queries, 20)
    assert recall(rows, truth) >= 0.999
    assert np.allclose(scores, truth_scores, atol=1e-5)
    removed = truth[:, 0]
    _, without = served.search(queries, 20, exclude=np.unique(removed))
    assert not np.isin(without, removed).any()
    quarter = (tmp_path / "flat.npy").stat().st_size / 4
    assert (tmp_path / "codes.faiss").stat().st_size < quarter * 1.01
    assert served.centroids() is None and served.cells_of_rows() is None


def test_flat_search_is_exact_and_survives_a_round_trip(tmp_path: Path) -> None:
    vectors = clustered(2_000)
    index = build_vector_index(vectors, "flat")
    assert isinstance(index, FlatScan)  # scanned with NumPy: FAISS is not needed for it
    scores, rows = index.search(vectors[:5], 3)
    assert rows[:, 0].tolist() == [0, 1, 2, 3, 4]
    assert np.allclose(scores[:, 0], 1.0, atol=1e-5)
    index.save(tmp_path / vector_file("flat"))
    loaded = load_vector_index(tmp_path / vector_file("flat"), "flat")
    assert np.array_equal(loaded.search(vectors[:5], 3)[1], rows)
    assert index.centroids() is None and index.cells_of_rows() is None


def test_flat_scan_finds_what_faiss_finds_and_reads_its_old_files(tmp_path: Path) -> None:
    import faiss

    vectors = clustered(900, dimension=384, seed=6)
    queries = normalise(vectors[:40] + np.random.default_rng(7).normal(0, 0.1, (40, 384)))
    old = faiss.IndexFlatIP(384)  # a flat build written before flat scans: FAISS's own file
    old.add(vectors)
    faiss.write_index(old, str(tmp_path / "passages.faiss"))
    written = load_vector_index(tmp_path / "passages.faiss", "flat")
    scan = build_vector_index(vectors, "flat")
    removed = np.arange(0, 900, 3)
    for exclude in (None, removed):
        want_scores, want_rows = written.search(queries, 10, exclude)
        scores, rows = scan.search(queries, 10, exclude)
        assert np.array_equal(rows, want_rows)
        assert np.allclose(scores, want_scores, atol=1e-5)
    live = np.setdiff1d(np.arange(900), [5, 7])  # fewer live rows than asked: padded with -1
    scores, rows = scan.search(queries[:2], 4, exclude=live)
    assert sorted(rows[0, :2].tolist()) == [5, 7] and rows[:, 2:].tolist() == [[-1, -1]] * 2


def served(index: VectorIndex, vectors: np.ndarray, folder: Path) -> FaissIndex:
    """The index as quoth serves it: loaded from disk, codes re-scored with stored vectors."""
    folder.mkdir(exist_ok=True)
    index.save(folder / "ivf.faiss")
    np.save(folder / "vectors.npy", vectors.astype(np.float16))
    loaded = load_vector_index(folder / "ivf.faiss", "ivf", StoredVectors(folder / "vectors.npy"))
    assert isinstance(loaded, FaissIndex)
    return loaded


def test_ivf_recall_against_exact_search(tmp_path: Path) -> None:
    vectors = clustered(FLAT_LIMIT + 10_000)
    queries = normalise(vectors[:300] + np.random.default_rng(1).normal(0, 0.1, (300, 64)))
    _, truth = build_vector_index(vectors, "flat").search(queries, 10)
    ivf = build_vector_index(vectors, "ivf")
    assert isinstance(ivf, FaissIndex) and ivf.size == len(vectors) and ivf.cells > 0
    loaded = served(ivf, vectors, tmp_path / "first")
    assert loaded.probes == ivf.probes
    assert recall(loaded.search(queries, 10)[1], truth) >= 0.95

    # A rebuild reuses the cells instead of running k-means again, and keeps the recall.
    centroids = loaded.centroids()
    assert centroids is not None
    grown = np.concatenate([vectors, clustered(500, seed=2)])
    rebuilt = build_vector_index(grown, "ivf", centroids)
    reused = rebuilt.centroids()
    assert reused is not None and np.array_equal(reused, centroids)
    assert recall(served(rebuilt, grown, tmp_path / "again").search(queries, 10)[1], truth) >= 0.95

    # Unchanged rows are filed in their known cells; only the new ones are searched for.
    cells = loaded.cells_of_rows()
    assert cells is not None and cells.min() >= 0 and len(cells) == len(vectors)
    known = np.concatenate([cells, np.full(500, -1)])
    filed = build_vector_index(grown, "ivf", centroids, known).cells_of_rows()
    searched = rebuilt.cells_of_rows()
    assert filed is not None and searched is not None and np.array_equal(filed, searched)
    misfiled = build_vector_index(grown, "ivf", centroids, np.zeros(len(grown), np.int64))
    assert set(np.asarray(misfiled.cells_of_rows()).tolist()) == {0}


def test_ivf_candidates_are_rescored_with_the_exact_vectors(tmp_path: Path) -> None:
    vectors = clustered(FLAT_LIMIT + 10_000, seed=3)
    queries = normalise(vectors[:300] + np.random.default_rng(4).normal(0, 0.1, (300, 64)))
    _, truth = build_vector_index(vectors, "flat").search(queries, 10)
    build_vector_index(vectors, "ivf").save(tmp_path / "ivf.faiss")
    np.save(tmp_path / "vectors.npy", vectors)
    codes_only = load_vector_index(tmp_path / "ivf.faiss", "ivf")
    refined = load_vector_index(
        tmp_path / "ivf.faiss", "ivf", StoredVectors(tmp_path / "vectors.npy")
    )
    scores, rows = refined.search(queries, 10)
    assert np.allclose(scores, np.einsum("qd,qkd->qk", queries, vectors[rows]), atol=1e-5)
    assert np.all(np.diff(scores, axis=1) <= 0)
    assert recall(rows, truth) > recall(codes_only.search(queries, 10)[1], truth)


def test_empty_search() -> None:
    index = build_vector_index(clustered(200)[:0].reshape(0, 64), "flat")
    scores, rows = index.search(clustered(200)[:1], 5)
    assert scores.shape == (1, 0) and rows.shape == (1, 0)


def test_cells_are_made_again_only_when_new_rows_drift_from_them() -> None:
    vectors = clustered(FLAT_LIMIT + 6_000)
    first = build_vector_index(vectors[: FLAT_LIMIT + 1_000], "ivf")
    centroids, cells = first.centroids(), first.cells_of_rows()
    assert centroids is not None and cells is not None

    # 5,000 more rows about the same topics fit the cells as well: they are reused.
    unknown = np.full(5_000, -1)
    same = np.concatenate([cells, unknown])
    assert not drifted(vectors, centroids, same)
    kept = build_vector_index(vectors, "ivf", centroids, same).centroids()
    assert kept is not None and np.array_equal(kept, centroids)

    # As many rows about new topics fit them worse: k-means runs again.
    grown = np.concatenate([vectors[: FLAT_LIMIT + 1_000], clustered(5_000, seed=9)])
    assert drifted(grown, centroids, same)
    remade = build_vector_index(grown, "ivf", centroids, same).centroids()
    assert remade is not None and not np.array_equal(remade[: len(centroids)], centroids)

    # A few new rows are no reason to: below the share checked at all.
    few = np.concatenate([cells[:-4_500], np.full(500, -1)])
    assert not drifted(grown[: len(few)], centroids, few)
