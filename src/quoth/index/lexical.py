"""BM25 over passages and sentences, saved with the dense index and rebuilt incrementally.

Names, dates and rare words ("Pahalgam", "Resolution 822") are where a small embedding model
is weakest and exact term matching is strongest; fusing the two covers both.

Terms are cut as bm25s cuts them (words of two or more characters, Lucene's English stop
words, Snowball stemming); the tokenizer is written out here because importing bm25s loads
SciPy, which a serving process paid for in memory and never used. The scoring is Lucene's
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
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import Stemmer

from quoth.index.embedder import Vectors
from quoth.index.rows import StoredArray

K1, B = 1.5, 0.75
FOLDER = "bm25"
WORDS = re.compile(r"(?u)\b\w\w+\b")
"""Words of two or more letters or digits: scikit-learn's and bm25s's token pattern."""
_LUCENE_ENGLISH = (
    "a an and are as at be but by for if in into is it no not of on or such that the their "
    "then there these they this to was will with"
)
STOP_WORDS = frozenset(_LUCENE_ENGLISH.split())
"""Lucene's English stop set, the list bm25s uses for English."""

Array = npt.NDArray[Any]
"""Loaded memory-mapped, so typed loosely: int64 offsets and ids, float32 counts and weights."""


@lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english")


def tokenize(texts: list[str]) -> list[list[str]]:
    """Lower-cased, stop-worded, stemmed terms; the same for documents and questions."""
    stem = _stemmer().stemWord
    return [
        [stem(word) for word in WORDS.findall(text.lower()) if word not in STOP_WORDS]
        for text in texts
    ]


class Vocabulary:
    """Term -> column. Only grows, so the term ids stored for unchanged sentences stay valid.

    A delta segment's vocabulary extends its base's (``parent``): the base's terms keep their
    ids and only terms the base never saw are numbered (and stored) by the delta, so rows of
    both segments share one numbering without copying the base's terms."""

    def __init__(self, terms: Iterable[str] = (), parent: Vocabulary | None = None) -> None:
        self.parent = parent
        self.offset = len(parent) if parent is not None else 0
        self.terms = list(terms)
        self.ids = {term: self.offset + i for i, term in enumerate(self.terms)}

    def __len__(self) -> int:
        return self.offset + len(self.terms)

    def _id(self, term: str) -> int | None:
        if self.parent is not None:
            found = self.parent._id(term)
            if found is not None:
                return found
        return self.ids.get(term)

    def add(self, terms: list[str]) -> list[int]:
        out = []
        for term in terms:
            found = self._id(term)
            if found is None:
                found = self.ids[term] = len(self)
                self.terms.append(term)
            out.append(found)
        return out

    def known(self, terms: list[str]) -> list[int]:
        return [i for i in (self._id(t) for t in terms) if i is not None]

    def all_terms(self) -> list[str]:
        """Every term in id order, the parent's first (a merge numbers them the same)."""
        return (self.parent.all_terms() if self.parent is not None else []) + self.terms

    def term(self, term_id: int) -> str:
        if term_id < self.offset and self.parent is not None:
            return self.parent.term(term_id)
        return self.terms[term_id - self.offset]


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
        width = max(len(vocabulary), 1)
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


@dataclass(frozen=True, slots=True)
class Collection:
    """The statistics BM25 weighs with: how many documents, their total length, and how
    many hold a term. A build's own, or a layered version's (base + delta - removed rows),
    which equal those of a build from nothing over the same articles."""

    documents: int
    length: float
    frequency: Callable[[list[int]], npt.NDArray[np.int64]]

    def idf(self, terms: list[int]) -> Vectors:
        frequency = self.frequency(terms)
        return np.log1p((self.documents - frequency + 0.5) / (frequency + 0.5)).astype(np.float32)

    def norm(self, lengths: Array) -> Vectors:
        """Each document's length normalisation, ``k1 * (1 - b + b * length / average)``."""
        mean = self.length / self.documents if self.documents else 0.0
        average = mean if mean > 0 else 1.0
        return (K1 * (1 - B + B * np.asarray(lengths, np.float64) / average)).astype(np.float32)


class Postings:
    """One segment's term counts stored term by term (CSC): a question reads only its terms'
    columns. Counts, not weights: a weight depends on the whole collection (idf, average
    length), which a later small change alters, so weights are computed when a question is
    scored, from the statistics of the version being read."""

    def __init__(
        self,
        terms: Array,
        starts: Array,
        docs: Array | StoredArray,
        counts: Array | StoredArray,
        lengths: Array,
    ) -> None:
        self.terms = np.asarray(terms, dtype=np.int64)  # the term ids present, ascending
        self.starts = np.asarray(starts, dtype=np.int64)
        self._docs = docs
        self._counts = counts
        self.lengths = np.asarray(lengths, dtype=np.float32)  # each document's length

    @property
    def size(self) -> int:
        return len(self.lengths)

    @classmethod
    def from_counts(cls, counts: TermRows) -> Postings:
        """Regroup per-document term counts term by term; within a term the documents stay
        in ascending order (which :meth:`Bm25.scores_of` relies on)."""
        documents = len(counts.lengths)
        rows = np.repeat(np.arange(documents, dtype=np.int64), counts.lengths)
        terms = np.asarray(counts.terms, dtype=np.int64)
        tf = np.asarray(counts.counts, dtype=np.float32)
        lengths = np.bincount(rows, weights=tf, minlength=documents).astype(np.float32)
        order = _stable_order(terms)
        present, frequency = np.unique(terms, return_counts=True)
        starts = np.concatenate(([0], np.cumsum(frequency))).astype(np.int64)
        return cls(present, starts, rows[order].astype(np.int32), tf[order], lengths)

    def frequency(self, terms: list[int]) -> npt.NDArray[np.int64]:
        """How many of this segment's documents hold each term."""
        asked = np.asarray(terms, dtype=np.int64)
        if not len(self.terms):
            return np.zeros(len(asked), dtype=np.int64)
        where = np.minimum(np.searchsorted(self.terms, asked), len(self.terms) - 1)
        counts = self.starts[where + 1] - self.starts[where]
        return np.where(self.terms[where] == asked, counts, 0).astype(np.int64)

    def collection(self) -> Collection:
        return Collection(self.size, float(self.lengths.sum(dtype=np.float64)), self.frequency)

    def column(self, term: int) -> tuple[Array, Array]:
        """The documents holding a term (ascending) and its count in each."""
        where = int(np.searchsorted(self.terms, term))
        if where >= len(self.terms) or self.terms[where] != term:
            return np.zeros(0, np.int32), np.zeros(0, np.float32)
        start, stop = int(self.starts[where]), int(self.starts[where + 1])
        return _part(self._docs, start, stop), _part(self._counts, start, stop)

    def save(self, folder: Path, name: str) -> None:
        for part, array in (
            ("terms", self.terms), ("starts", self.starts), ("docs", self._docs),
            ("counts", self._counts), ("lengths", self.lengths),
        ):  # fmt: skip
            np.save(folder / f"{name}_{part}.npy", np.asarray(array), allow_pickle=False)

    @classmethod
    def load(cls, folder: Path, name: str) -> Postings:
        """Columns are read per question term with ``pread``, not memory-mapped: mapped,
        the pages a question touched stayed in the process's resident memory (40 MB at
        100k passages after a hundred questions), while read they stay in the page cache."""

        def whole(part: str) -> Array:
            array: Array = np.load(folder / f"{name}_{part}.npy", allow_pickle=False)
            return array

        docs, counts = (StoredArray(folder / f"{name}_{part}.npy") for part in ("docs", "counts"))
        return cls(whole("terms"), whole("starts"), docs, counts, whole("lengths"))


class Bm25:
    """BM25 (Lucene's variant, as bm25s computes it) over one segment's postings, weighed
    with a collection's statistics; ``removed`` rows (replaced or deleted articles still in
    a shared segment) never score."""

    def __init__(
        self,
        vocabulary: Vocabulary,
        postings: Postings,
        collection: Collection | None = None,
        removed: npt.NDArray[np.int64] | None = None,
    ) -> None:
        self._vocabulary = vocabulary
        self.postings = postings
        self.collection = collection if collection is not None else postings.collection()
        self._norm = self.collection.norm(postings.lengths)
        self._removed = removed if removed is not None and len(removed) else None
        self.size = postings.size

    def _columns(self, terms: list[str]) -> Iterator[tuple[Array, Array]]:
        """Each known query term's documents and weights (a term asked twice twice)."""
        ids = self._vocabulary.known(terms)
        if not ids:
            return
        for term, idf in zip(ids, self.collection.idf(ids).tolist(), strict=True):
            docs, tf = self.postings.column(term)
            if len(docs):
                yield docs, np.float32(idf) * tf / (tf + self._norm[docs])

    def scores(self, terms: list[str]) -> Vectors:
        """Score of every text for the query terms (zeros when no term is known)."""
        out = np.zeros(self.size, dtype=np.float32)
        for docs, weights in self._columns(terms):
            out[docs] += weights
        if self._removed is not None:
            out[self._removed] = 0
        return out

    def scores_of(self, terms: list[str], rows: npt.ArrayLike) -> Vectors:
        """``scores(terms)[rows]`` without scoring every text: each term's documents are in
        ascending order, so the asked rows are found by binary search. At 1M sentences this
        is what keeps marking the right sentence from costing a full scan per question."""
        wanted = np.asarray(rows, dtype=np.int64).ravel()
        out = np.zeros(len(wanted), dtype=np.float32)
        if not len(wanted):
            return out
        for docs, weights in self._columns(terms):
            where = np.minimum(np.searchsorted(docs, wanted), len(docs) - 1)
            found = docs[where] == wanted
            out[found] += weights[where[found]]
        if self._removed is not None:
            out[np.isin(wanted, self._removed)] = 0
        return out

    def weighted_columns(self) -> Iterator[tuple[str, Array, Array]]:
        """(term, documents, weights) for every term: what PostgreSQL stores."""
        terms = self.postings.terms.tolist()
        idf = self.collection.idf(terms) if terms else np.zeros(0, np.float32)
        for term, weight in zip(terms, idf.tolist(), strict=True):
            docs, tf = self.postings.column(term)
            yield (
                self._vocabulary.term(term),
                docs,
                np.float32(weight) * tf / (tf + self._norm[docs]),
            )


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


def passage_counts(sentences: TermRows, ranges: npt.NDArray[np.integer]) -> TermRows:
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
        self,
        vocabulary: Vocabulary,
        sentence_terms: TermRows,
        passage_postings: Postings,
        sentence_postings: Postings,
    ) -> None:
        self.vocabulary = vocabulary
        self.sentence_terms = sentence_terms
        self.passage_postings = passage_postings
        self.sentence_postings = sentence_postings
        # Weighed with this segment's own statistics: right for a build served alone; a
        # layered version weighs the same postings with its own (quoth.index.layered).
        self.passages = Bm25(vocabulary, passage_postings)
        self.sentences = Bm25(vocabulary, sentence_postings)

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
            Postings.from_counts(passage_counts(sentence_terms, passage_ranges)),
            Postings.from_counts(sentence_terms),
        )

    @classmethod
    def from_texts(
        cls, sentence_texts: list[str], passage_ranges: npt.NDArray[np.integer]
    ) -> LexicalIndex:
        vocabulary = Vocabulary()
        return cls.build(vocabulary, TermRows.count(sentence_texts, vocabulary), passage_ranges)

    def save(self, folder: Path) -> None:
        """Writes this segment's own terms only (a delta's parent keeps the base's)."""
        target = folder / FOLDER
        target.mkdir()
        (target / "terms.json").write_text(json.dumps(self.vocabulary.terms, ensure_ascii=False))
        rows = self.sentence_terms
        np.save(target / "sentence_lengths.npy", rows.lengths, allow_pickle=False)
        np.save(target / "sentence_terms.npy", rows.terms, allow_pickle=False)
        np.save(target / "sentence_counts.npy", rows.counts, allow_pickle=False)
        self.passage_postings.save(target, "passages")
        self.sentence_postings.save(target, "sentences")

    @classmethod
    def load(
        cls, folder: Path, passages: int, sentences: int, parent: Vocabulary | None = None
    ) -> LexicalIndex:
        source = folder / FOLDER
        vocabulary = Vocabulary(json.loads((source / "terms.json").read_text()), parent)

        def mapped(name: str) -> Array:
            array: Array = np.load(source / name, mmap_mode="r", allow_pickle=False)
            return array

        rows = TermRows(
            np.load(source / "sentence_lengths.npy", allow_pickle=False),
            mapped("sentence_terms.npy"),
            mapped("sentence_counts.npy"),
        )
        passage_postings = Postings.load(source, "passages")
        sentence_postings = Postings.load(source, "sentences")
        if (
            len(rows.lengths) != sentences
            or sentence_postings.size != sentences
            or passage_postings.size != passages
        ):
            raise ValueError("BM25 rows do not match the index")
        return cls(vocabulary, rows, passage_postings, sentence_postings)
