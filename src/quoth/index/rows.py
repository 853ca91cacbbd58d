"""Rows of a stored vector matrix, read on demand with ``pread``.

A question reads a few dozen sentence and passage vectors out of hundreds of megabytes. With a
memory map those reads fault in whole page-cache folios (up to megabytes each on current
kernels, ``MADV_RANDOM`` notwithstanding), and after a few questions a third of the file
counted as the process's resident memory. Reading the rows with ``pread`` copies only the
bytes asked for; the file stays in the page cache, which the kernel can reclaim at will.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from quoth.index.embedder import Vectors

BULK_ROWS = 4096
"""Above this many rows, a temporary memory map is cheaper than one read per row."""


def _npy_header(path: Path) -> tuple[tuple[int, ...], bool, np.dtype[Any], int]:
    """Shape, Fortran order, dtype and the byte offset where the data starts."""
    with path.open("rb") as handle:
        major, _ = np.lib.format.read_magic(handle)
        read_header = (
            np.lib.format.read_array_header_1_0
            if major == 1
            else np.lib.format.read_array_header_2_0
        )
        shape, fortran, dtype = read_header(handle)
        return shape, fortran, dtype, handle.tell()


class _OpenNpy:
    """An open ``.npy`` file: its header, and byte ranges of its data read with ``pread``."""

    def __init__(self, path: Path) -> None:
        shape, fortran, dtype, self._offset = _npy_header(path)
        self.path = path
        self.dtype: np.dtype[Any] = dtype
        self._check(shape, fortran)
        self._fd = os.open(path, os.O_RDONLY)

    def _check(self, shape: tuple[int, ...], fortran: bool) -> None:
        raise NotImplementedError

    def __del__(self) -> None:
        fd = getattr(self, "_fd", None)
        if fd is not None:
            os.close(fd)

    def _pread(self, start: int, size: int) -> bytes:
        """``size`` bytes from ``start`` bytes into the data."""
        data = os.pread(self._fd, size, self._offset + start)
        if len(data) != size:
            raise OSError(f"{self.path} is shorter than its header says")
        return data


class StoredArray(_OpenNpy):
    """A one-dimensional ``.npy`` array on disk whose slices are read with ``pread``."""

    def _check(self, shape: tuple[int, ...], fortran: bool) -> None:
        if len(shape) != 1:
            raise ValueError(f"{self.path.name} is not a one-dimensional array")
        self._length = int(shape[0])

    def __len__(self) -> int:
        return self._length

    def read(self, start: int, stop: int) -> npt.NDArray[Any]:
        """Elements ``start:stop`` (clipped to the array), as a fresh array."""
        start, stop = max(0, start), min(self._length, stop)
        size = self.dtype.itemsize
        data = self._pread(start * size, max(0, stop - start) * size)
        return np.frombuffer(data, dtype=self.dtype).copy()

    def __array__(self, dtype: Any = None, copy: Any = None) -> npt.NDArray[Any]:
        whole = self.read(0, self._length)
        return whole if dtype is None else whole.astype(dtype)


STORED_DTYPES = (np.dtype(np.float16), np.dtype(np.float32))
"""Builds store float16 (half the bytes to write, read and cache; cosine scores move by
about 1e-4); float32 files of earlier builds read the same. Rows come back as float32."""


class StoredVectors(_OpenNpy):
    """A ``.npy`` matrix on disk, indexed like an array: int, slice, rows or mask."""

    def _check(self, shape: tuple[int, ...], fortran: bool) -> None:
        if fortran or self.dtype not in STORED_DTYPES or len(shape) != 2:
            raise ValueError(f"{self.path.name} is not a C-ordered float16 or float32 matrix")
        self.shape: tuple[int, int] = (int(shape[0]), int(shape[1]))
        self._row_bytes = self.shape[1] * self.dtype.itemsize

    def __len__(self) -> int:
        return self.shape[0]

    def _read(self, start: int, stop: int) -> Vectors:
        count = max(0, stop - start)
        data = self._pread(start * self._row_bytes, count * self._row_bytes)
        rows = np.frombuffer(data, dtype=self.dtype).reshape(count, self.shape[1])
        return rows.astype(np.float32)  # always a copy: the result owns its memory

    def rows(self, rows: npt.ArrayLike, dtype: npt.DTypeLike = np.float32) -> npt.NDArray[Any]:
        """The given rows, in the given order (as ``dtype``: a rebuild copying rows into a
        float16 file asks for float16 and skips two conversions)."""
        wanted = np.asarray(rows, dtype=np.int64).ravel()
        if wanted.size and (wanted.min() < -len(self) or wanted.max() >= len(self)):
            raise IndexError("row out of range")
        wanted = np.where(wanted < 0, wanted + len(self), wanted)
        if wanted.size > BULK_ROWS:
            mapped = np.load(self.path, mmap_mode="r", allow_pickle=False)
            try:
                return np.ascontiguousarray(mapped[wanted], dtype=dtype)
            finally:
                del mapped
        out = np.empty((wanted.size, self.shape[1]), dtype=dtype)
        listed, start = wanted.tolist(), 0
        while start < len(listed):  # one read per run of consecutive rows (a passage's)
            stop = start + 1
            while stop < len(listed) and listed[stop] == listed[stop - 1] + 1:
                stop += 1
            out[start:stop] = self._read(listed[start], listed[start] + stop - start)
            start = stop
        return out

    def __getitem__(self, key: Any) -> Vectors:
        if isinstance(key, (int, np.integer)):
            row = int(key) + (len(self) if key < 0 else 0)
            if not 0 <= row < len(self):
                raise IndexError("row out of range")
            vector: Vectors = self._read(row, row + 1)[0]
            return vector
        if isinstance(key, slice):
            start, stop, step = key.indices(len(self))
            if step == 1:
                return self._read(start, stop)
            return self.rows(range(start, stop, step))
        array = np.asarray(key)
        if array.dtype == bool:
            return self.rows(np.flatnonzero(array))
        return self.rows(array)

    def __array__(self, dtype: Any = None, copy: Any = None) -> Vectors:
        whole = self._read(0, len(self))
        return whole if dtype is None else whole.astype(dtype)
