"""A version served as a shared base build plus a small delta: a change costs the change.

Rebuilding every file of the index for one changed article made a moderator's edit cost the
whole corpus (rewriting every vector and posting). A small change now writes only a *delta*:
a build of the articles added or changed since the base, and the base's rows those articles
replace or remove (``removed``). The base is shared by every version built on it and never
rewritten; when the delta grows past a share of the base, the next reindex merges the two
into a new base (reusing every stored vector: nothing is embedded again).

Rows stay dense integers: the base's first, then the delta's. Removed rows stay readable
(they are the base's) but no search returns them, and BM25 weighs with the version's own
statistics (documents, total length and term frequencies of the live rows only), so scores
equal those of a build from nothing over the same articles.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

import numpy as np
import numpy.typing as npt

from quoth.index.embedder import Vectors
from quoth.index.lexical import Bm25, Collection, Postings, TermRows, passage_counts
from quoth.index.reader import PassageSpan, SentenceSpan, top_positive
from quoth.index.store import ArticleRecord, IndexData, Manifest

MERGE_SHARE = 10
"""A merge is due when the delta's passages (or the base's removed ones) pass 1/MERGE_SHARE
of the base's passages..."""
MERGE_FLOOR = 1_000
"""...but never below this many (a small corpus keeps a delta as cheap as its base)..."""
MERGE_CEILING = 5_000
"""...nor above this many: every question scans the whole delta, each change rewrites it,
and a serving process keeps what it scans resident, so a long-lived bot merges rather than
let the delta grow (a merge is a whole build, in the background)."""


DELTA_CEILING_FACTOR = 4
"""A delta this many times past the merge limit is not written at all: a change that large
(a bulk import) pays a whole build at once rather than serving slowly until the merge."""


def merge_limit(base_passages: int) -> int:
    """The delta size (passages) past which a merge into a new base is due: it runs in the
    background after the delta is published (:func:`quoth.runtime.merge`)."""
    return min(MERGE_CEILING, max(MERGE_FLOOR, base_passages // MERGE_SHARE))


def delta_limit(base_passages: int) -> int:
    """The delta size (passages) past which a reindex writes a whole build instead."""
    return DELTA_CEILING_FACTOR * merge_limit(base_passages)


def article_rows(
    doc_column: npt.NDArray[np.integer], articles: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """The rows (sentences or passages, stored article by article) of the given articles."""
    starts = np.searchsorted(doc_column, articles, "left")
    stops = np.searchsorted(doc_column, articles, "right")
    if not len(articles):
        return np.zeros(0, dtype=np.int64)
    return np.concatenate(
        [np.arange(a, b, dtype=np.int64) for a, b in zip(starts, stops, strict=True)]
    )


def _removed_postings(
    base: IndexData, sentences: npt.NDArray[np.int64], passages: npt.NDArray[np.int64]
) -> tuple[Postings, Postings]:
    """The term counts of the base's removed sentences and passages: what the version's
    statistics subtract from the base's."""
    terms = base.lexical.sentence_terms
    # the removed sentences come in runs (an article's are consecutive): one slice a run
    breaks = np.flatnonzero(np.diff(sentences) != 1) + 1
    runs = np.split(sentences, breaks) if len(sentences) else []
    removed = TermRows.concat([terms.rows(int(r[0]), int(r[-1]) + 1) for r in runs])
    position = np.full(len(base.sentences), -1, dtype=np.int64)
    position[sentences] = np.arange(len(sentences))
    ranges = position[np.asarray(base.passages[passages][:, 3:5], dtype=np.int64)]
    return (
        Postings.from_counts(removed),
        Postings.from_counts(passage_counts(removed, ranges.reshape(-1, 2))),
    )


def _collection(base: Postings, delta: Postings, removed: Postings) -> Collection:
    def frequency(terms: list[int]) -> npt.NDArray[np.int64]:
        return base.frequency(terms) + delta.frequency(terms) - removed.frequency(terms)

    length = (
        float(base.lengths.sum(dtype=np.float64))
        + float(delta.lengths.sum(dtype=np.float64))
        - float(removed.lengths.sum(dtype=np.float64))
    )
    return Collection(base.size + delta.size - removed.size, length, frequency)


class LayeredIndex:
    """A base build, the base's removed articles, and a delta build: one version (an
    :class:`quoth.index.reader.IndexReader`)."""

    def __init__(
        self, base: IndexData, delta: IndexData, removed_articles: npt.NDArray[np.int64]
    ) -> None:
        self.base = base
        self.delta = delta
        self.manifest: Manifest = delta.manifest
        self.removed_articles = np.unique(np.asarray(removed_articles, dtype=np.int64))
        self._articles = len(base.articles)
        self._sentences = len(base.sentences)
        self._passages = len(base.passages)
        self.removed_sentences = article_rows(base.sentences[:, 0], self.removed_articles)
        self.removed_passages = article_rows(base.passages[:, 0], self.removed_articles)
        removed = set(self.removed_articles.tolist())
        self._live_articles = [
            a for row, a in enumerate(base.articles) if row not in removed
        ] + list(delta.articles)
        gone_sentences, gone_passages = _removed_postings(
            base, self.removed_sentences, self.removed_passages
        )
        self._gone = (gone_passages, gone_sentences)
        vocabulary = delta.lexical.vocabulary  # extends the base's: one numbering for both
        self._bm25: dict[str, tuple[Bm25, Bm25]] = {}
        for kind, base_postings, delta_postings, gone, removed_rows in (
            ("passages", base.lexical.passage_postings, delta.lexical.passage_postings,
             gone_passages, self.removed_passages),
            ("sentences", base.lexical.sentence_postings, delta.lexical.sentence_postings,
             gone_sentences, self.removed_sentences),
        ):  # fmt: skip
            collection = _collection(base_postings, delta_postings, gone)
            self._bm25[kind] = (
                Bm25(vocabulary, base_postings, collection, removed_rows),
                Bm25(vocabulary, delta_postings, collection),
            )

    def collections(self) -> dict[str, Collection]:
        """The BM25 statistics this version weighs with ("passages", "sentences")."""
        return {kind: pair[0].collection for kind, pair in self._bm25.items()}

    def removed_postings(self) -> tuple[Postings, Postings]:
        """The term counts of the base's removed passages and sentences."""
        return self._gone

    # -- what a version holds ----------------------------------------------------------------

    @property
    def articles(self) -> Sequence[ArticleRecord]:
        """The version's live articles (the base's not removed, then the delta's)."""
        return self._live_articles

    def article(self, row: int) -> ArticleRecord:
        if row < self._articles:
            return self.base.articles[row]
        return self.delta.articles[row - self._articles]

    @property
    def built_at(self) -> datetime:
        return self.manifest.built_at

    @property
    def sentence_count(self) -> int:
        return self._sentences + len(self.delta.sentences)

    @property
    def passage_count(self) -> int:
        return self._passages + len(self.delta.passages)

    @property
    def live_passages(self) -> int:
        return self.passage_count - len(self.removed_passages)

    def removed_passage_rows(self) -> npt.NDArray[np.int64]:
        return self.removed_passages

    def prefetch(self, rows: Sequence[int]) -> None:
        """Nothing to do: both layers' spans are in memory."""

    def passage_span(self, row: int) -> PassageSpan:
        if row < self._passages:
            return self.base.passage_span(row)
        doc, start, end, first, last = self.delta.passage_span(row - self._passages)
        return PassageSpan(
            doc + self._articles, start, end, first + self._sentences, last + self._sentences
        )

    def sentence_span(self, sentence: int) -> SentenceSpan:
        if sentence < self._sentences:
            return self.base.sentence_span(sentence)
        doc, start, end = self.delta.sentence_span(sentence - self._sentences)
        return SentenceSpan(doc + self._articles, start, end)

    def passage_id(self, row: int) -> str:
        if row < self._passages:
            return self.base.passage_id(row)
        return self.delta.passage_id(row - self._passages)

    # -- vectors -----------------------------------------------------------------------------

    @staticmethod
    def _split(
        rows: Sequence[int], boundary: int
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
        """The rows asked, and which of them are the base's."""
        wanted = np.asarray(rows, dtype=np.int64).ravel()
        return wanted, wanted < boundary

    def _gather(
        self,
        rows: Sequence[int],
        boundary: int,
        base_rows: Callable[[list[int]], Vectors],
        delta_rows: Callable[[list[int]], Vectors],
    ) -> Vectors:
        wanted, in_base = self._split(rows, boundary)
        out = np.empty((len(wanted), self.manifest.dimension), dtype=np.float32)
        if in_base.any():
            out[in_base] = base_rows(wanted[in_base].tolist())
        if (~in_base).any():
            out[~in_base] = delta_rows((wanted[~in_base] - boundary).tolist())
        return out

    def passage_vectors_at(self, rows: Sequence[int]) -> Vectors:
        return self._gather(
            rows, self._passages, self.base.passage_vectors_at, self.delta.passage_vectors_at
        )

    def sentence_vectors_at(self, rows: Sequence[int] | slice) -> Vectors:
        if isinstance(rows, slice):
            rows = range(*rows.indices(self.sentence_count))
        return self._gather(
            rows, self._sentences, self.base.sentence_vectors_at, self.delta.sentence_vectors_at
        )

    def dense_search(self, vector: Vectors, n: int) -> list[int]:
        """The base's vector index (removed rows filtered inside the search) and the delta's
        exact search, merged by score."""
        query = vector.reshape(1, -1)
        base_scores, base_rows = self.base.vectors.search(query, n, self.removed_passages)
        delta_scores, delta_rows = self.delta.vectors.search(query, n)
        scores = np.concatenate([base_scores[0], delta_scores[0]])
        rows = np.concatenate([base_rows[0], delta_rows[0] + self._passages])
        keep = np.concatenate([base_rows[0] >= 0, delta_rows[0] >= 0])
        scores, rows = scores[keep], rows[keep]
        order = np.lexsort((rows, -scores))[:n]
        return [int(r) for r in rows[order]]

    # -- BM25 ----------------------------------------------------------------------------------

    def bm25_top_passages(self, terms: list[str], n: int) -> list[tuple[int, float]]:
        base, delta = self._bm25["passages"]
        scores = np.concatenate([base.scores(terms), delta.scores(terms)])
        return [(row, float(scores[row])) for row in top_positive(scores, n)]

    def _scores_of(
        self, kind: str, boundary: int, terms: list[str], rows: Sequence[int]
    ) -> Vectors:
        base, delta = self._bm25[kind]
        wanted, in_base = self._split(rows, boundary)
        out = np.zeros(len(wanted), dtype=np.float32)
        if in_base.any():
            out[in_base] = base.scores_of(terms, wanted[in_base])
        if (~in_base).any():
            out[~in_base] = delta.scores_of(terms, wanted[~in_base] - boundary)
        return out

    def bm25_passage_scores(self, terms: list[str], rows: Sequence[int]) -> Vectors:
        return self._scores_of("passages", self._passages, terms, rows)

    def bm25_sentence_scores(self, terms: list[str], rows: Sequence[int]) -> Vectors:
        return self._scores_of("sentences", self._sentences, terms, rows)
