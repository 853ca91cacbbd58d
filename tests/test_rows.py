"""Vector rows read from disk on demand behave like the array they were saved from."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from quoth.index import rows
from quoth.index.rows import StoredArray, StoredVectors


@pytest.fixture
def saved(tmp_path: Path) -> tuple[np.ndarray, StoredVectors]:
    matrix = np.random.default_rng(0).normal(size=(50, 8)).astype(np.float32)
    np.save(tmp_path / "v.npy", matrix)
    return matrix, StoredVectors(tmp_path / "v.npy")


def test_indexing_matches_numpy(saved: tuple[np.ndarray, StoredVectors]) -> None:
    matrix, stored = saved
    assert stored.shape == (50, 8) and len(stored) == 50
    mask = np.arange(50) % 3 == 0
    for key in (0, 49, -1, slice(5, 9), slice(None), slice(0, 50, 7), [4, 2, 4], mask):
        assert np.array_equal(stored[key], matrix[key])
    assert np.array_equal(np.asarray(stored), matrix)
    with pytest.raises(IndexError):
        stored[50]
    with pytest.raises(IndexError):
        stored.rows([0, 99])


def test_large_gathers_take_the_bulk_path(
    saved: tuple[np.ndarray, StoredVectors], monkeypatch: pytest.MonkeyPatch
) -> None:
    matrix, stored = saved
    monkeypatch.setattr(rows, "BULK_ROWS", 4)
    wanted = [9, 1, 30, 30, 0, 49]
    assert np.array_equal(stored.rows(wanted), matrix[wanted])


def test_truncated_or_foreign_files_refused(tmp_path: Path) -> None:
    np.save(tmp_path / "ints.npy", np.zeros((3, 2), dtype=np.int64))
    with pytest.raises(ValueError, match="float32"):
        StoredVectors(tmp_path / "ints.npy")
    np.save(tmp_path / "v.npy", np.ones((10, 4), dtype=np.float32))
    data = (tmp_path / "v.npy").read_bytes()
    (tmp_path / "v.npy").write_bytes(data[:-40])
    with pytest.raises(OSError, match="shorter"):
        StoredVectors(tmp_path / "v.npy")[9]


@pytest.mark.parametrize("dtype", [np.int32, np.float32, np.int64])
def test_stored_array_slices_match_numpy(tmp_path: Path, dtype: type) -> None:
    array: np.ndarray = np.arange(1000, dtype=dtype) * 3
    np.save(tmp_path / "a.npy", array)
    stored = StoredArray(tmp_path / "a.npy")
    assert len(stored) == 1000 and stored.dtype == array.dtype
    for start, stop in ((0, 0), (0, 1000), (17, 400), (990, 2000), (-5, 3)):
        assert np.array_equal(stored.read(start, stop), array[max(0, start) : stop])
    assert np.array_equal(np.asarray(stored), array)
    np.save(tmp_path / "m.npy", np.zeros((2, 2)))
    with pytest.raises(ValueError, match="one-dimensional"):
        StoredArray(tmp_path / "m.npy")


def test_float16_files_read_as_float32(tmp_path: Path) -> None:
    matrix = np.random.default_rng(1).normal(size=(20, 8)).astype(np.float16)
    np.save(tmp_path / "h.npy", matrix)
    stored = StoredVectors(tmp_path / "h.npy")
    assert stored.dtype == np.float16
    assert stored[3].dtype == np.float32 and np.array_equal(stored[3], matrix[3])
    assert np.array_equal(stored[2:5], matrix[2:5].astype(np.float32))
    kept = stored.rows([7, 1], np.float16)
    assert kept.dtype == np.float16 and np.array_equal(kept, matrix[[7, 1]])
