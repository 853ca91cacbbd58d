"""The compact form PostgreSQL stores passage postings in gives back exactly what went in."""

from __future__ import annotations

import numpy as np
import pytest

from quoth.index import IndexData, postings_codec
from quoth.index.errors import IndexStoreError


def test_every_real_postings_list_round_trips(shared_index: IndexData) -> None:
    postings = shared_index.lexical.passage_postings
    passages = shared_index.passage_count
    kinds = set()
    for term in postings.terms.tolist():
        rows, counts = postings.column(term)
        bitmap, packed_rows, packed_counts = postings_codec.encode(rows, counts, passages)
        kinds.add(bitmap)
        found = postings_codec.decode(bitmap, packed_rows, packed_counts, passages)
        found_rows, found_counts = found.rows_and_counts()
        assert len(found) == len(rows) and found_rows.tolist() == np.asarray(rows).tolist()
        assert found_counts.dtype == np.float32
        assert found_counts.tolist() == np.asarray(counts, np.float32).tolist()
    assert kinds == {True, False}  # common terms as bitmaps, rare ones as lists
    lengths = postings_codec.decode_lengths(postings_codec.encode_lengths(postings.lengths))
    assert lengths.tolist() == postings.lengths.tolist()


@pytest.mark.parametrize("largest", [3, 300, 70_000])
def test_counts_take_the_narrowest_width_that_holds_them(largest: int) -> None:
    rows = np.array([2, 5, 900])
    counts = np.array([1, largest, 2], np.float32)
    bitmap, packed_rows, packed_counts = postings_codec.encode(rows, counts, 1000)
    width = 1 if largest < 256 else 2 if largest < 65536 else 4
    assert not bitmap and len(packed_counts) == 3 * width
    found = postings_codec.decode(bitmap, packed_rows, packed_counts, 1000)
    found_rows, found_counts = found.rows_and_counts()
    assert found_rows.tolist() == [2, 5, 900] and found_counts.tolist() == [1, largest, 2]


def test_weights_added_from_a_bitmap_equal_those_added_at_its_rows(
    shared_index: IndexData,
) -> None:
    """The file backend adds each term's weights at its rows; a bitmap adds them densely."""
    bm25 = shared_index.lexical.passages
    postings, passages = bm25.postings, shared_index.passage_count
    norm = bm25.collection.norm(postings.lengths)
    checked = 0
    for term in postings.terms.tolist():
        rows, counts = postings.column(term)
        stored = postings_codec.decode(*postings_codec.encode(rows, counts, passages), passages)
        if stored.dense is None:
            continue
        dense = np.full(passages, 0.25, np.float32)
        stored.add_weights(dense, np.float32(1.7), norm)
        scattered = np.full(passages, 0.25, np.float32)
        scattered[rows] += np.float32(1.7) * counts / (counts + norm[rows])
        assert dense.tobytes() == scattered.tobytes()  # bit for bit
        checked += 1
    assert checked


def test_a_bitmap_is_chosen_once_it_is_smaller() -> None:
    rows = np.arange(0, 64, 2)  # 32 of 64 passages
    bitmap, packed_rows, _ = postings_codec.encode(rows, np.ones(32), 64)
    assert bitmap and len(packed_rows) == 8
    sparse, listed, _ = postings_codec.encode(np.array([7]), np.ones(1), 64)
    assert not sparse and len(listed) == 4


def test_what_cannot_be_stored_or_read_is_refused() -> None:
    with pytest.raises(IndexStoreError, match="whole number"):
        postings_codec.encode(np.array([1]), np.array([0.5]), 10)
    bitmap, rows, counts = postings_codec.encode(np.array([1, 4]), np.array([1, 2]), 10)
    with pytest.raises(IndexStoreError, match="damaged"):
        postings_codec.decode(bitmap, rows, counts[:1], 10)


def test_kept_postings_stay_within_their_budget_absent_terms_included() -> None:
    from quoth.index.postgres.caches import Postings

    kept = Postings(budget=4096)
    empty = postings_codec.StoredList(
        0, listed=np.zeros(0, np.int64), counts=np.zeros(0, np.float32)
    )
    for word in range(1000):  # words no segment holds cost an entry each
        kept.keep(("db", "segment", f"unknown{word}"), empty)
    assert kept.get(("db", "segment", "unknown0")) is None  # the oldest went first
    assert kept.get(("db", "segment", "unknown999")) is empty
    rows = np.arange(3000)  # a term in every passage: 3,000 one-byte counts
    big = postings_codec.decode(*postings_codec.encode(rows, np.ones(3000), 3000), 3000)
    kept.keep(("db", "segment", "common"), big)
    assert kept.get(("db", "segment", "common")) is big
    assert kept.get(("db", "segment", "unknown990")) is None  # room made for it
    assert kept.get(("db", "segment", "unknown999")) is empty  # the most recent stay
