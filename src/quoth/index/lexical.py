"""BM25 over passages and sentences, saved with the dense index and rebuilt incrementally.

Names, dates and rare words ("Pahalgam", "Resolution 822") are where a small embedding model
is weakest and exact term matching is strongest; fusing the two covers both.

Terms come from bm25s's tokenizer (stop words, Snowball stemming). The scoring is Lucene's
BM25, the variant bm25s computes, but kept here over scipy sparse matrices because bm25s
can only re-index everything: at 100k passages that took 10 s for a one-article change.
Instead the index keeps each sentence's term counts; a passage's counts are the sum of its
sentences', so a rebuild tokenizes only the articles that changed and recomputes the weights
with a few vectorised operations.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import chain
from pathlib import Path
from typing import Any

import bm25s
import numpy as np
import numpy.typing as npt
import Stemmer
from scipy import sparse

from quoth.index.embedder import Vectors

K1, B = 1.5, 0.75
FOLDER = "bm25"
logging.getLogger("bm25s").setLevel(logging.WARNING)

Array = npt.NDArray[Any]
"""Loaded memory-mapped, so typed loosely: int64 offsets and ids, float32 counts and weights."""


@lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english")


def tokenize(texts: list[str]) -> list[list[str]]:
    """Lower-cased, stop-worded, stemmed terms; the same for documents and questions."""
    tokens: list[list[str]] = bm25s.tokenize(
        texts, stopwords="en", stemmer=_stemmer(), return_ids=False, show_progress=False
    )
    return tokens


class Vocabulary:
    """Term -> column. Only grows, so the term ids stored for unchanged sentences stay valid."""

    def __init__(self, terms: Iterable[str] = ()) -> None:
        self.terms = list(terms)
        self.ids = {term: i for i, term in enumerate(self.terms)}

    def add(self, terms: list[str]) -> list[int]:
        ids = self.ids
        for term in terms:
            if term not in ids:
                ids[term] = len(self.terms)
                self.terms.append(term)
        return [ids[term] for term in terms]

    def known(self, terms: list[str]) -> list[int]:
        return [self.ids[t] for t in terms if t in self.ids]


@dataclass(slots=True)
class TermRows:
    """Sparse rows of term counts (one row per sentence), in CSR parts."""

    lengths: Array
    terms: Array
    counts: Array
    offsets: Array = field(init=False)

    def __post_init__(self) -> None:
        self.offsets = np.concatenate(([0], np.cumsum(self.lengths))).astype(np.int64)

    @classmethod
    def count(cls, texts: list[str], vocabulary: Vocabulary) -> TermRows:
        ids = [vocabulary.add(tokens) for tokens in tokenize(texts)]
        per_text = np.fromiter((len(i) for i in ids), dtype=np.int64, count=len(ids))
        flat = np.fromiter(chain.from_iterable(ids), dtype=np.int64, count=int(per_text.sum()))
        width = max(len(vocabulary.terms), 1)
        keys = np.repeat(np.arange(len(ids), dtype=np.int64), per_text) * width + flat
        unique, counts = np.unique(keys, return_counts=True)
        lengths = np.bincount(unique // width, minlength=len(ids)).astype(np.int64)
        return cls(lengths, unique % width, counts.astype(np.float32))

    @classmethod
    def concat(cls, parts: list[TermRows]) -> TermRows:
        return cls(
            np.concatenate([p.lengths for p in parts] or [np.zeros(0, np.int64)]),
            np.concatenate([p.terms for p in parts] or [np.zeros(0, np.int64)]),
            np.concatenate([p.counts for p in parts] or [np.zeros(0, np.float32)]),
        )

    def rows(self, start: int, stop: int) -> TermRows:
        lo, hi = int(self.offsets[start]), int(self.offsets[stop])
        return TermRows(
            np.asarray(self.lengths[start:stop]),
            np.asarray(self.terms[lo:hi]),
            np.asarray(self.counts[lo:hi]),
        )

    def matrix(self, width: int) -> sparse.csr_matrix:
        shape = (len(self.lengths), width)
        return sparse.csr_matrix((self.counts, self.terms, self.offsets), shape=shape)


class Bm25:
    """BM25 weights stored term by term (CSC), so a question reads only its terms' columns."""

    def __init__(
        self, vocabulary: Vocabulary, starts: Array, docs: Array, weights: Array, size: int
    ) -> None:
        self._vocabulary = vocabulary
        self._starts = starts
        self._docs = docs
        self._weights = weights
        self.size = size

    @classmethod
    def weigh(cls, counts: sparse.csr_matrix, vocabulary: Vocabulary) -> Bm25:
        documents, width = counts.shape
        lengths = np.asarray(counts.sum(axis=1)).ravel()
        average = float(lengths.mean()) if documents and lengths.mean() > 0 else 1.0
        frequency = np.bincount(counts.indices, minlength=width)
        idf = np.log1p((documents - frequency + 0.5) / (frequency + 0.5)).astype(np.float32)
        rows = np.repeat(np.arange(documents), np.diff(counts.indptr))
        norm = (K1 * (1 - B + B * lengths / average)).astype(np.float32)
        tf = counts.data.astype(np.float32)
        weights = idf[counts.indices] * tf / (tf + norm[rows])
        by_term = sparse.csr_matrix((weights, counts.indices, counts.indptr), counts.shape).tocsc()
        return cls(
            vocabulary,
            by_term.indptr.astype(np.int64),
            by_term.indices.astype(np.int32),
            by_term.data.astype(np.float32),
            documents,
        )

    def scores(self, terms: list[str]) -> Vectors:
        """Score of every text for the query terms (zeros when no term is known).

        A term asked twice counts twice, as in bm25s."""
        out = np.zeros(self.size, dtype=np.float32)
        for term in self._vocabulary.known(terms):
            if term + 1 >= len(self._starts):
                continue
            start, stop = int(self._starts[term]), int(self._starts[term + 1])
            out[self._docs[start:stop]] += self._weights[start:stop]
        return out

    def save(self, folder: Path, name: str) -> None:
        np.save(folder / f"{name}_starts.npy", self._starts, allow_pickle=False)
        np.save(folder / f"{name}_docs.npy", self._docs, allow_pickle=False)
        np.save(folder / f"{name}_weights.npy", self._weights, allow_pickle=False)

    @classmethod
    def load(cls, folder: Path, name: str, vocabulary: Vocabulary, size: int) -> Bm25:
        def load(part: str) -> Array:
            array: Array = np.load(folder / f"{name}_{part}.npy", mmap_mode="r", allow_pickle=False)
            return array

        return cls(vocabulary, load("starts"), load("docs"), load("weights"), size)


def _passage_membership(ranges: npt.NDArray[np.integer], sentences: int) -> sparse.csr_matrix:
    """Passages x sentences, 1 where the sentence belongs to the passage."""
    first = ranges[:, 0].astype(np.int64)
    widths = ranges[:, 1].astype(np.int64) - first + 1
    starts = np.concatenate(([0], np.cumsum(widths)))
    columns = np.repeat(first, widths) + np.arange(int(starts[-1])) - np.repeat(starts[:-1], widths)
    ones = np.ones(len(columns), dtype=np.float32)
    return sparse.csr_matrix((ones, columns, starts), shape=(len(ranges), sentences))


class LexicalIndex:
    """BM25 for ranking passages, and for spotting the sentence that names the asked thing."""

    def __init__(
        self, vocabulary: Vocabulary, sentence_terms: TermRows, passages: Bm25, sentences: Bm25
    ) -> None:
        self.vocabulary = vocabulary
        self.sentence_terms = sentence_terms
        self.passages = passages
        self.sentences = sentences

    @classmethod
    def build(
        cls,
        vocabulary: Vocabulary,
        sentence_terms: TermRows,
        passage_ranges: npt.NDArray[np.integer],
    ) -> LexicalIndex:
        """``passage_ranges``: each passage's first and last sentence row (inclusive)."""
        width = max(len(vocabulary.terms), 1)
        counts = sentence_terms.matrix(width)
        passage_counts = (_passage_membership(passage_ranges, counts.shape[0]) @ counts).tocsr()
        passage_counts.sort_indices()
        return cls(
            vocabulary,
            sentence_terms,
            Bm25.weigh(passage_counts, vocabulary),
            Bm25.weigh(counts, vocabulary),
        )

    @classmethod
    def from_texts(
        cls, sentence_texts: list[str], passage_ranges: npt.NDArray[np.integer]
    ) -> LexicalIndex:
        vocabulary = Vocabulary()
        return cls.build(vocabulary, TermRows.count(sentence_texts, vocabulary), passage_ranges)

    def save(self, folder: Path) -> None:
        target = folder / FOLDER
        target.mkdir()
        (target / "terms.json").write_text(json.dumps(self.vocabulary.terms, ensure_ascii=False))
        rows = self.sentence_terms
        np.save(target / "sentence_lengths.npy", rows.lengths, allow_pickle=False)
        np.save(target / "sentence_terms.npy", rows.terms, allow_pickle=False)
        np.save(target / "sentence_counts.npy", rows.counts, allow_pickle=False)
        self.passages.save(target, "passages")
        self.sentences.save(target, "sentences")

    @classmethod
    def load(cls, folder: Path, passages: int, sentences: int) -> LexicalIndex:
        source = folder / FOLDER
        vocabulary = Vocabulary(json.loads((source / "terms.json").read_text()))

        def mapped(name: str) -> Array:
            array: Array = np.load(source / name, mmap_mode="r", allow_pickle=False)
            return array

        rows = TermRows(
            np.load(source / "sentence_lengths.npy", allow_pickle=False),
            mapped("sentence_terms.npy"),
            mapped("sentence_counts.npy"),
        )
        if len(rows.lengths) != sentences:
            raise ValueError("BM25 sentence rows do not match the index")
        return cls(
            vocabulary,
            rows,
            Bm25.load(source, "passages", vocabulary, passages),
            Bm25.load(source, "sentences", vocabulary, sentences),
        )
