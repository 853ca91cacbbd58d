"""What a replica keeps of the database between questions: bounded caches of rows,
vectors, postings and passage lengths, so that no replica holds a copy of the corpus."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

import numpy as np
import numpy.typing as npt

from quoth.index import postings_codec
from quoth.index.errors import (
    IndexStoreError,
)
from quoth.index.postgres.schema import table

SCORE_CACHE = 4


class Bounded(OrderedDict[Hashable, Any]):
    """A least-recently-used map of what was read: an answer's rows and the popular ones, or a
    segment's passage lengths."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def keep(self, key: Hashable, value: Any) -> None:
        self[key] = value
        self.move_to_end(key)
        while len(self) > self.size:
            self.popitem(last=False)

    def get_recent(self, key: Hashable) -> Any:
        value = self.get(key)
        if value is not None:
            self.move_to_end(key)
        return value


PASSAGES_KEPT = 20_000


SENTENCES_KEPT = 100_000


ARTICLES_KEPT = 256


VECTORS_KEPT = {"sentences": 8192, "passages": 4096}
"""Bounded caches of rows read per answer: about ten MB at most, whatever the corpus size. An
answer reads the same vectors more than once (a passage found by its vector is scored by it;
the sentences scored for the search are weighed again for the rerank and the quote)."""


POSTINGS_KEPT_BYTES = 32 * 1024 * 1024
"""The most used terms' postings a process keeps, decoded: every question weighs whole lists,
and the terms in many passages are both the longest to read and the most often asked.
Segments never change, so what is kept stays right across versions that share a segment."""


_ENTRY_BYTES = 256
"""What keeping a list costs beyond its arrays (key, object): a term a segment lacks is kept
too, and questions bring new words without end."""


class Postings:
    """A least-recently-used map of decoded postings lists, bounded by their bytes."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self._kept: OrderedDict[tuple[str, str, str], postings_codec.StoredList] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str, str]) -> postings_codec.StoredList | None:
        with self._lock:
            found = self._kept.get(key)
            if found is not None:
                self._kept.move_to_end(key)
            return found

    def keep(self, key: tuple[str, str, str], postings: postings_codec.StoredList) -> None:
        with self._lock:
            size = postings.nbytes + _ENTRY_BYTES
            if key in self._kept or size > self.budget:
                return
            self._kept[key] = postings
            self._bytes += size
            while self._bytes > self.budget:
                _, dropped = self._kept.popitem(last=False)
                self._bytes -= dropped.nbytes + _ENTRY_BYTES


POSTINGS = Postings(POSTINGS_KEPT_BYTES)


ABSENT = postings_codec.StoredList(0, listed=np.zeros(0, np.int64), counts=np.zeros(0, np.float32))


_LENGTHS = Bounded(8)


_lengths_lock = threading.Lock()


def passage_lengths(pool: Any, url: str, segment: str) -> npt.NDArray[np.float32]:
    """A segment's passage lengths (BM25's normalisation), read once per process: segments
    never change, so a version that keeps the base reuses them."""
    key = (url, segment)
    with _lengths_lock:
        kept: npt.NDArray[np.float32] | None = _LENGTHS.get_recent(key)
    if kept is not None:
        return kept
    with pool.connection() as conn:
        row = conn.execute(
            f"SELECT lengths FROM {table(segment, 'passage_lengths')}", binary=True
        ).fetchone()
    if row is None:
        raise IndexStoreError(f"Segment {segment} has no passage lengths; publish it again.")
    lengths = postings_codec.decode_lengths(bytes(row[0]))
    with _lengths_lock:
        _LENGTHS.keep(key, lengths)
    return lengths
