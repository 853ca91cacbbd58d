"""What an index serves, keyed by content instead of row: two indexes over the same articles
(a layered version and a build from nothing) must agree on all of it, whatever their rows."""

from __future__ import annotations

from typing import Any

import numpy as np

from quoth.index.reader import IndexReader


def live_passages(index: IndexReader) -> dict[str, tuple[Any, ...]]:
    """Passage id -> (article id, passage text, sentence texts, passage vector), for every
    passage a search can return."""
    removed = set(index.removed_passage_rows().tolist())
    rows = [row for row in range(index.passage_count) if row not in removed]
    vectors = index.passage_vectors_at(rows)
    out = {}
    for row, vector in zip(rows, vectors, strict=True):
        span = index.passage_span(row)
        article = index.article(span.doc)
        sentences = []
        for sentence in range(span.first, span.last + 1):
            s = index.sentence_span(sentence)
            sentences.append(index.article(s.doc).text[s.start : s.end])
        out[index.passage_id(row)] = (
            article.id,
            article.text[span.start : span.end],
            tuple(sentences),
            vector,
        )
    return out


def same_passages(first: IndexReader, second: IndexReader) -> None:
    a, b = live_passages(first), live_passages(second)
    assert a.keys() == b.keys()
    for key, (doc, text, sentences, vector) in a.items():
        assert b[key][:3] == (doc, text, sentences), key
        assert np.allclose(b[key][3], vector, atol=1e-3), key


def bm25_by_content(index: IndexReader, terms: list[str]) -> list[dict[Any, float]]:
    """Every live passage's and sentence's BM25 for ``terms``, keyed by passage id and by
    (article id, start, end)."""
    removed = set(index.removed_passage_rows().tolist())
    rows = [row for row in range(index.passage_count) if row not in removed]
    passages = index.bm25_passage_scores(terms, rows)
    by_passage: dict[Any, float] = {
        index.passage_id(r): float(s) for r, s in zip(rows, passages, strict=True)
    }
    spans = [index.passage_span(r) for r in rows]
    sentence_rows = sorted({s for span in spans for s in range(span.first, span.last + 1)})
    sentences = index.bm25_sentence_scores(terms, sentence_rows)
    by_sentence: dict[Any, float] = {}
    for row, score in zip(sentence_rows, sentences, strict=True):
        span = index.sentence_span(row)
        by_sentence[(index.article(span.doc).id, span.start, span.end)] = float(score)
    return [by_passage, by_sentence]
