"""BM25 over passages and sentences (bm25s), built and saved with the dense index.

Names, dates and rare words ("Pahalgam", "Resolution 822") are where a small embedding model
is weakest and exact term matching is strongest; fusing the two covers both.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path

import bm25s
import numpy as np
import Stemmer

from quoth.index.embedder import Vectors

PASSAGES_DIR = "bm25_passages"
SENTENCES_DIR = "bm25_sentences"
logging.getLogger("bm25s").setLevel(logging.WARNING)


@lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english")


def tokenize(texts: list[str]) -> list[list[str]]:
    """Lower-cased, stop-worded, stemmed terms; the same for documents and questions."""
    tokens: list[list[str]] = bm25s.tokenize(
        texts, stopwords="en", stemmer=_stemmer(), return_ids=False, show_progress=False
    )
    return tokens


class Bm25:
    """One BM25 model over a list of texts."""

    def __init__(self, model: bm25s.BM25, size: int) -> None:
        self._model = model
        self.size = size

    @classmethod
    def build(cls, texts: list[str]) -> Bm25:
        model = bm25s.BM25()
        # An empty token list would be dropped by bm25s and shift every document after it.
        model.index([t or ["\x00"] for t in tokenize(texts)], show_progress=False)
        return cls(model, len(texts))

    def save(self, folder: Path) -> None:
        self._model.save(str(folder), show_progress=False)

    @classmethod
    def load(cls, folder: Path, size: int) -> Bm25:
        return cls(bm25s.BM25.load(str(folder), show_progress=False), size)

    def scores(self, terms: list[str]) -> Vectors:
        """Score of every text for the query terms (zeros when no term is known)."""
        known = [t for t in terms if t in self._model.vocab_dict]
        if not known or self.size == 0:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self._model.get_scores(known), dtype=np.float32)


class LexicalIndex:
    """BM25 for ranking passages, and for spotting the sentence that names the asked thing."""

    def __init__(self, passages: Bm25, sentences: Bm25) -> None:
        self.passages = passages
        self.sentences = sentences

    @classmethod
    def build(cls, passage_texts: list[str], sentence_texts: list[str]) -> LexicalIndex:
        return cls(Bm25.build(passage_texts), Bm25.build(sentence_texts))

    def save(self, folder: Path) -> None:
        self.passages.save(folder / PASSAGES_DIR)
        self.sentences.save(folder / SENTENCES_DIR)

    @classmethod
    def load(cls, folder: Path, passages: int, sentences: int) -> LexicalIndex:
        return cls(
            Bm25.load(folder / PASSAGES_DIR, passages),
            Bm25.load(folder / SENTENCES_DIR, sentences),
        )
