"""BM25 over passages and sentences, saved with the dense index and rebuilt incrementally.

Names, dates and rare words ("Pahalgam", "Resolution 822") are where a small embedding model
is weakest and exact term matching is strongest; fusing the two covers both.

Terms come from bm25s's tokenizer (stop words, Snowball stemming). The scoring is Lucene's
BM25, the variant bm25s computes, but kept here over sparse arrays (numpy only) because bm25s
can only re-index everything: at 100k passages that took 10 s for a one-article change.
Instead the index keeps each sentence's term counts; a passage's counts are the sum of its
sentences', so a rebuild tokenizes only the articles that changed and recomputes the weights
with a few vectorised operations. Entries are regrouped with stable 16-bit radix sorts
(NumPy's stable sort of uint16 keys), linear in the number of entries: 1.4 s of comparison
sorting at 100k passages became about 0.3 s.
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

from quoth.index.embedder import Vectors
from quoth.index.rows import StoredArray

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
        # Plain views of memory maps: slicing a np.memmap costs ~60 us in Python, and a
        # reindex slices once per unchanged article.
        self.terms, self.counts = np.asarray(self.terms), np.asarray(self.counts)
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


def _part(source: Array | StoredArray, start: int, stop: int) -> Array:
    if isinstance(source, StoredArray):
        return source.read(start, stop)
    return np.asarray(source[start:stop])


class Bm25:
    """BM25 weights stored term by term (CSC), so a question reads only its terms' columns."""

    def __init__(
        self,
        vocabulary: Vocabulary,
        starts: Array,
        docs: Array | StoredArray,
        weights: Array | StoredArray,
        size: int,
    ) -> None:
        self._vocabulary = vocabulary
        self._starts = starts
        self._docs = docs
        self._weights = weights
        self.size = size

    @classmethod
    def weigh(cls, counts: TermRows, vocabulary: Vocabulary) -> Bm25:
        """Weights from per-document term counts, regrouped term by term; within a term the
        documents stay in ascending order (which :meth:`scores_of` relies on)."""
        documents, width = len(counts.lengths), max(len(vocabulary.terms), 1)
        rows = np.repeat(np.arange(documents, dtype=np.int64), counts.lengths)
        terms = np.asarray(counts.terms, dtype=np.int64)
        tf = np.asarray(counts.counts, dtype=np.float32)
        lengths = np.bincount(rows, weights=tf, minlength=documents)
        average = float(lengths.mean()) if documents and lengths.mean() > 0 else 1.0
        frequency = np.bincount(terms, minlength=width)
        idf = np.log1p((documents - frequency + 0.5) / (frequency + 0.5)).astype(np.float32)
        norm = (K1 * (1 - B + B * lengths / average)).astype(np.float32)
        weights = idf[terms] * tf / (tf + norm[rows])
        order = _stable_order(terms)
        starts = np.concatenate(([0], np.cumsum(frequency))).astype(np.int64)
        return cls(
            vocabulary,
            starts,
            rows[order].astype(np.int32),
            weights[order].astype(np.float32),
            documents,
        )

    def _postings(self, term: int) -> tuple[Array, Array]:
        """The documents containing a term (ascending) and its weight in each."""
        start, stop = int(self._starts[term]), int(self._starts[term + 1])
        return _part(self._docs, start, stop), _part(self._weights, start, stop)

    def scores(self, terms: list[str]) -> Vectors:
        """Score of every text for the query terms (zeros when no term is known).

        A term asked twice counts twice, as in bm25s."""
        out = np.zeros(self.size, dtype=np.float32)
        for term in self._vocabulary.known(terms):
            if term + 1 >= len(self._starts):
                continue
            docs, weights = self._postings(term)
            out[docs] += weights
        return out

    def scores_of(self, terms: list[str], rows: npt.ArrayLike) -> Vectors:
        """``scores(terms)[rows]`` without scoring every text: each term's documents are in
        ascending order, so the asked rows are found by binary search. At 1M sentences this
        is what keeps marking the right sentence from costing a full scan per question."""
        wanted = np.asarray(rows, dtype=np.int64).ravel()
        out = np.zeros(len(wanted), dtype=np.float32)
        for term in self._vocabulary.known(terms):
            if term + 1 >= len(self._starts) or not len(wanted):
                continue
            docs, weights = self._postings(term)
            if not len(docs):
                continue
            where = np.minimum(np.searchsorted(docs, wanted), len(docs) - 1)
            found = docs[where] == wanted
            out[found] += weights[where[found]]
        return out

    def save(self, folder: Path, name: str) -> None:
        np.save(folder / f"{name}_starts.npy", self._starts, allow_pickle=False)
        np.save(folder / f"{name}_docs.npy", self._docs, allow_pickle=False)
        np.save(folder / f"{name}_weights.npy", self._weights, allow_pickle=False)

    @classmethod
    def load(cls, folder: Path, name: str, vocabulary: Vocabulary, size: int) -> Bm25:
        """Postings are read per question term with ``pread``, not memory-mapped: mapped,
        the pages a question touched stayed in the process's resident memory (40 MB at
        100k passages after a hundred questions), while read they stay in the page cache."""
        starts = np.load(folder / f"{name}_starts.npy", allow_pickle=False)
        docs, weights = (StoredArray(folder / f"{name}_{part}.npy") for part in ("docs", "weights"))
        return cls(vocabulary, starts, docs, weights, size)


def _stable_order(keys: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """``np.argsort(keys, kind="stable")`` for keys below 2**32, in linear time: NumPy sorts
    uint16 keys stably by radix, so the low and then the high 16 bits take one pass each."""
    if not len(keys):
        return np.zeros(0, dtype=np.int64)
    order = np.argsort((keys & 0xFFFF).astype(np.uint16), kind="stable")
    high = (keys >> 16).astype(np.uint16)
    if high.any():
        order = order[np.argsort(high[order], kind="stable")]
    return order.astype(np.int64)


def _passage_counts(sentences: TermRows, ranges: npt.NDArray[np.integer]) -> TermRows:
    """A passage's term counts: the sum of its sentences' (first..last, inclusive)."""
    first = ranges[:, 0].astype(np.int64)
    widths = ranges[:, 1].astype(np.int64) - first + 1
    # Every (passage, sentence) membership, then every (passage, term, count) entry.
    member_passage = np.repeat(np.arange(len(ranges), dtype=np.int64), widths)
    member_sentence = (
        np.repeat(first, widths)
        + np.arange(int(widths.sum()))
        - np.repeat(np.cumsum(widths) - widths, widths)
    )
    per_member = np.asarray(sentences.lengths)[member_sentence]
    entry_passage = np.repeat(member_passage, per_member)
    starts = np.repeat(sentences.offsets[member_sentence], per_member)
    within = np.arange(int(per_member.sum())) - np.repeat(
        np.cumsum(per_member) - per_member, per_member
    )
    entries = starts + within
    terms = np.asarray(sentences.terms, dtype=np.int64)[entries]
    counts = np.asarray(sentences.counts, dtype=np.float32)[entries]
    # Entries come passage by passage; order each passage's by term (a stable sort by term,
    # then by passage), then add up the counts of equal (passage, term) pairs.
    order = _stable_order(terms)
    order = order[_stable_order(entry_passage[order])]
    passage, term = entry_passage[order], terms[order]
    if not len(order):
        return TermRows(np.zeros(len(ranges), np.int64), term, counts[order])
    first_of_pair = np.concatenate(
        ([True], (passage[1:] != passage[:-1]) | (term[1:] != term[:-1]))
    )
    heads = np.flatnonzero(first_of_pair)
    summed = np.add.reduceat(counts[order], heads)
    lengths = np.bincount(passage[heads], minlength=len(ranges)).astype(np.int64)
    return TermRows(lengths, term[heads], summed.astype(np.float32))


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
        return cls(
            vocabulary,
            sentence_terms,
            Bm25.weigh(_passage_counts(sentence_terms, passage_ranges), vocabulary),
            Bm25.weigh(sentence_terms, vocabulary),
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
