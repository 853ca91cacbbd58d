"""What retrieval, quoting and evaluation may ask of an index, whatever stores it.

Retrieval used to read the file backend's arrays by column number and its FAISS and BM25
objects directly, so a second backend (PostgreSQL with pgvector, for several replicas over
one store) would have meant rewriting retrieval. Everything above the index now goes through
this small interface; each backend is one module that implements it, chosen in
:func:`quoth.runtime.open_index`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

import numpy as np
import numpy.typing as npt

from quoth.index.embedder import Vectors
from quoth.index.records import ArticleRecord, PassageSpan, SentenceSpan

__all__ = ["ArticleRecord", "IndexReader", "PassageSpan", "SentenceSpan", "article_text",
           "top_positive"]  # fmt: skip


class IndexReader(Protocol):
    """A published index, read-only. Rows are dense integers from 0, stable for one version."""

    @property
    def articles(self) -> Sequence[ArticleRecord]:
        """The articles this version serves (listings, "More"); not indexed by span rows."""
        ...

    def article(self, row: int) -> ArticleRecord:
        """The article a span's ``doc`` names (rows of replaced articles stay readable)."""
        ...

    @property
    def built_at(self) -> datetime: ...

    @property
    def sentence_count(self) -> int: ...

    @property
    def passage_count(self) -> int:
        """Passage rows, removed ones included (rows run from 0 to this)."""
        ...

    @property
    def live_passages(self) -> int:
        """Passages a search can return."""
        ...

    def removed_passage_rows(self) -> npt.NDArray[np.int64]:
        """Rows a search never returns (a layered version's replaced and deleted articles):
        whoever searches rows on its own (cross-lingual) leaves them out."""
        ...

    def prefetch(self, rows: Sequence[int]) -> None:
        """Make the spans, sentences and articles of these passage rows quick to read: a
        backend that reads rows on demand fetches them in one round trip; others need not."""
        ...

    def passage_span(self, row: int) -> PassageSpan: ...

    def sentence_span(self, sentence: int) -> SentenceSpan: ...

    def passage_id(self, row: int) -> str:
        """The passage's content-derived id, stable across rebuilds."""
        ...

    def passage_vectors_at(self, rows: Sequence[int]) -> Vectors:
        """Normalised float32 vectors of the given passage rows, in that order."""
        ...

    def sentence_vectors_at(self, rows: Sequence[int] | slice) -> Vectors:
        """Normalised float32 vectors of the given sentence rows, in that order."""
        ...

    def dense_search(self, vector: Vectors, n: int) -> list[int]:
        """Up to ``n`` passage rows nearest to ``vector`` (inner product), best first."""
        ...

    def bm25_top_passages(self, terms: list[str], n: int) -> list[tuple[int, float]]:
        """The ``n`` passages with the best positive BM25 for ``terms``, best first (ties:
        lower row first)."""
        ...

    def bm25_passage_scores(self, terms: list[str], rows: Sequence[int]) -> Vectors: ...

    def bm25_sentence_scores(self, terms: list[str], rows: Sequence[int]) -> Vectors: ...


def article_text(index: IndexReader, span: SentenceSpan | PassageSpan) -> str:
    """The verbatim text a span covers."""
    return index.article(span.doc).text[span.start : span.end]


def top_positive(scores: npt.NDArray[np.float32], n: int) -> list[int]:
    """The ``n`` best positive scores, best first (ties: lower row first). Only rows that
    matched take part: partitioning every row's score cost milliseconds a question at 1M."""
    matched = np.flatnonzero(scores > 0)
    if n <= 0 or not len(matched):
        return []
    if len(matched) > n:
        matched = matched[np.argpartition(-scores[matched], n - 1)[:n]]
    order = np.lexsort((matched, -scores[matched]))
    return [int(i) for i in matched[order]]
