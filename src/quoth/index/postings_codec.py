"""How a passage postings list is stored in PostgreSQL: as few bytes as read fast.

Every question reads whole postings lists (BM25 over all passages), and reading them is what
a database answer pays that a file answer does not: the bytes come out of TOAST chunk by
chunk. So a list is stored small:

- its rows as little-endian int32s, or, when the term is in more than one passage in 32, as
  a bitmap over the segment's passages (one bit a passage, fewer bytes from that point on);
- its counts (whole numbers) in the narrowest unsigned type that holds them, one, two or
  four bytes; the width is the counts' bytes over the rows' count;
- no lengths: a passage's length is the same in every list, so the segment stores its
  lengths once (:func:`encode_lengths`) and a reader keeps them.

Decoding gives exactly the rows and counts that were encoded, and weighing them adds the same
float32 values the file backend adds, so scores stay equal to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from quoth.index.errors import IndexStoreError

BITMAP_FROM = 32
"""A bitmap takes ``passages / 8`` bytes and a list ``4 * rows``: past one passage in 32 the
bitmap is the smaller."""
_WIDTHS: dict[int, np.dtype[Any]] = {1: np.dtype("u1"), 2: np.dtype("<u2"), 4: np.dtype("<u4")}


def encode(
    rows: npt.NDArray[np.integer], counts: npt.NDArray[np.floating], passages: int
) -> tuple[bool, bytes, bytes]:
    """(is a bitmap, rows, counts) of one term's postings over a segment of ``passages``;
    ``rows`` ascending."""
    rows = np.asarray(rows, dtype=np.int64)
    whole = np.asarray(counts, dtype=np.float64)
    if len(whole) and (not np.all(whole == np.round(whole)) or whole.min() < 0):
        raise IndexStoreError("A term count is not a whole number; the index cannot be published.")
    largest = int(whole.max()) if len(whole) else 0
    width = 1 if largest <= 0xFF else 2 if largest <= 0xFFFF else 4
    packed = whole.astype(_WIDTHS[width]).tobytes()
    if len(rows) * BITMAP_FROM > passages:
        mask = np.zeros(passages, dtype=np.uint8)
        mask[rows] = 1
        return True, np.packbits(mask, bitorder="little").tobytes(), packed
    return False, rows.astype("<i4").tobytes(), packed


@dataclass(frozen=True, slots=True)
class StoredList:
    """One term's decoded postings in a segment, ready to weigh: a bitmap's term as a count
    for every passage (zero where absent, in the stored width), a list's as rows and counts.
    This is the form a reader keeps of its most used terms."""

    frequency: int
    """How many passages hold the term."""
    dense: npt.NDArray[np.unsignedinteger[Any]] | None = None
    listed: npt.NDArray[np.int64] | None = None
    counts: npt.NDArray[np.float32] | None = None
    lengths: npt.NDArray[np.float32] | None = None
    """Each posting's passage length: only in lists of the first form (before the segment
    kept its lengths once), read while replicas are upgraded."""

    def __len__(self) -> int:
        return self.frequency

    @property
    def nbytes(self) -> int:
        parts = (self.dense, self.listed, self.counts, self.lengths)
        return sum(part.nbytes for part in parts if part is not None)

    def rows_and_counts(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        if self.dense is not None:
            rows = np.flatnonzero(self.dense)
            return rows, self.dense[rows].astype(np.float32)
        assert self.listed is not None and self.counts is not None
        return self.listed, self.counts

    def add_weights(
        self, scores: npt.NDArray[np.float32], idf: np.float32, norm: npt.NDArray[np.float32]
    ) -> None:
        """Add the term's BM25 weight, ``idf * tf / (tf + norm)``, to each passage holding it
        (``scores`` and ``norm``: the segment's passages). A bitmap's term is in many
        passages, so it is weighed over all of them at once, where passages without it add
        exactly zero: the same sums as adding at its rows, without scattering to them."""
        if self.dense is not None:
            tf = self.dense.astype(np.float32)
            denominator = tf + norm
            np.multiply(tf, idf, out=tf)  # in place: the arrays are as long as the segment
            np.divide(tf, denominator, out=tf)
            scores += tf
        else:
            rows, counts = self.rows_and_counts()
            scores[rows] += idf * counts / (counts + norm[rows])


def decode(bitmap: bool, rows: bytes, counts: bytes, passages: int) -> StoredList:
    """The postings :func:`encode` was given."""
    if bitmap:
        bits = np.unpackbits(np.frombuffer(rows, np.uint8), count=passages, bitorder="little")
        found = int(np.count_nonzero(bits))
    else:
        listed = np.frombuffer(rows, "<i4").astype(np.int64)
        found = len(listed)
    width = len(counts) // found if found else 0
    if width not in _WIDTHS or width * found != len(counts):
        raise IndexStoreError("A stored postings list is damaged; publish the index again.")
    values = np.frombuffer(counts, _WIDTHS[width])
    if bitmap:
        dense = np.zeros(passages, _WIDTHS[width])
        dense[bits.view(np.bool_)] = values
        return StoredList(found, dense=dense)
    return StoredList(found, listed=listed, counts=values.astype(np.float32))


def decode_first_form(rows: bytes, counts: bytes, lengths: bytes) -> StoredList:
    """A list as quoth stored it before this form: int32 rows, float32 counts and each
    posting's length (read while replicas are upgraded, until the index is published again)."""
    return StoredList(
        len(rows) // 4,
        listed=np.frombuffer(rows, "<i4").astype(np.int64),
        counts=np.frombuffer(counts, "<f4"),
        lengths=np.frombuffer(lengths, "<f4"),
    )


def encode_lengths(lengths: npt.NDArray[np.floating]) -> bytes:
    return np.asarray(lengths, "<f4").tobytes()


def decode_lengths(data: bytes) -> npt.NDArray[np.float32]:
    return np.frombuffer(data, "<f4").astype(np.float32)
