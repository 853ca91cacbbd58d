"""The index reader interface, checked on the file backend: a second backend (PostgreSQL)
must pass the same tests, so they speak only through :class:`IndexReader`."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from quoth.index import IndexData
from quoth.index.lexical import tokenize
from quoth.index.reader import IndexReader, article_text


@pytest.fixture(scope="module", params=["files", "postgres"])
def reader(request: pytest.FixtureRequest) -> IndexReader:
    index: IndexReader = request.getfixturevalue(
        "shared_index" if request.param == "files" else "postgres_index"
    )
    return index


def test_postgres_reads_back_what_the_files_hold(
    shared_index: IndexData, postgres_index: IndexReader
) -> None:
    files: IndexReader = shared_index
    assert postgres_index.passage_count == files.passage_count
    assert postgres_index.sentence_count == files.sentence_count
    assert list(postgres_index.articles) == list(files.articles)
    for row in range(files.passage_count):
        assert postgres_index.passage_span(row) == files.passage_span(row)
        assert postgres_index.passage_id(row) == files.passage_id(row)
    rows = list(range(0, files.sentence_count, 7))
    assert np.allclose(
        postgres_index.sentence_vectors_at(rows), files.sentence_vectors_at(rows), atol=1e-3
    )
    terms = tokenize(["When did Heydar Aliyev visit Pakistan in 1996?"])[0]
    from_db, from_files = (
        postgres_index.bm25_top_passages(terms, 20),
        files.bm25_top_passages(terms, 20),
    )
    assert [row for row, _ in from_db] == [row for row, _ in from_files]
    assert np.allclose([s for _, s in from_db], [s for _, s in from_files], rtol=1e-5)
    sentence_rows = list(range(files.sentence_count))
    assert np.allclose(
        postgres_index.bm25_sentence_scores(terms, sentence_rows),
        files.bm25_sentence_scores(terms, sentence_rows),
        rtol=1e-5,
    )


def test_spans_cover_their_sentences_in_order(reader: IndexReader) -> None:
    for row in range(reader.passage_count):
        passage = reader.passage_span(row)
        first, last = reader.sentence_span(passage.first), reader.sentence_span(passage.last)
        assert first.doc == last.doc == passage.doc
        assert (first.start, last.end) == (passage.start, passage.end)
        assert article_text(reader, first) in article_text(reader, passage)
    spans = [reader.sentence_span(s) for s in range(reader.sentence_count)]
    for before, after in itertools.pairwise(spans):
        assert after.doc != before.doc or after.start >= before.end


def test_passage_ids_are_distinct(reader: IndexReader) -> None:
    ids = {reader.passage_id(row) for row in range(reader.passage_count)}
    assert len(ids) == reader.passage_count


def test_vectors_come_back_in_the_order_asked(reader: IndexReader) -> None:
    rows = [5, 0, 3]
    together = reader.sentence_vectors_at(rows)
    one_by_one = np.stack([reader.sentence_vectors_at([row])[0] for row in rows])
    assert together.dtype == np.float32 and np.array_equal(together, one_by_one)
    assert np.allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-2)
    assert np.array_equal(reader.sentence_vectors_at(slice(3, 6))[0], one_by_one[2])


def test_dense_search_puts_a_passage_first_for_its_own_vector(reader: IndexReader) -> None:
    for row in (0, reader.passage_count // 2, reader.passage_count - 1):
        found = reader.dense_search(reader.passage_vectors_at([row])[0], 5)
        assert found[0] == row and len(found) == 5


def test_bm25_top_passages_agree_with_the_scores_of_any_rows(reader: IndexReader) -> None:
    terms = tokenize(["Which water treaty did India suspend?"])[0]
    top = reader.bm25_top_passages(terms, 10)
    assert len(top) == 10 and all(score > 0 for _, score in top)
    assert [score for _, score in top] == sorted((score for _, score in top), reverse=True)
    rows = list(range(reader.passage_count))
    every = reader.bm25_passage_scores(terms, rows)
    assert top[0][1] == pytest.approx(float(every.max()), rel=1e-6)
    assert [row for row, _ in top] == [int(r) for r in np.lexsort((np.array(rows), -every))[:10]]
    assert reader.bm25_top_passages(["zzzunknownterm"], 10) == []
    sentences = reader.bm25_sentence_scores(terms, [0, 1, 2])
    assert sentences.shape == (3,) and (sentences >= 0).all()
