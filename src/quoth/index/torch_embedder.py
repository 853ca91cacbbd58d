"""The reference embedding back-end: sentence-transformers on torch (the training and
export side; serving uses :mod:`quoth.index.onnx_embedder`)."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence

import numpy as np

from quoth.index.embedder import (
    ENCODE_BATCH,
    NO_TORCH,
    ModelError,
    ProgressCallback,
    Vectors,
    normalise,
    resolve_model_path,
)


class SentenceTransformerEmbedder:
    """The reference back-end: sentence-transformers on torch, CPU."""

    def __init__(self, model: str) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        path = resolve_model_path(model)
        try:
            from sentence_transformers import SentenceTransformer  # slow import: only when used
        except ImportError:
            raise ModelError(NO_TORCH) from None

        try:
            self._model = SentenceTransformer(str(path), device="cpu")
        except Exception as error:  # the library raises many types for a bad folder
            raise ModelError(f"Could not load model {model!r} from {path}: {error}") from None
        dimension = self._model.get_embedding_dimension()
        if dimension is None:
            raise ModelError(f"Model {model!r} does not declare its embedding dimension.")
        self._name = model
        self._dimension = int(dimension)
        # The model's tokenizer is not safe to call from two threads at once; a reindex in a
        # worker thread and a question share the model batch by batch through this lock.
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self._name

    @property
    def dimension(self) -> int:
        return self._dimension

    def encode(self, texts: Sequence[str], progress: ProgressCallback | None = None) -> Vectors:
        chunks: list[Vectors] = []
        for start in range(0, len(texts), ENCODE_BATCH):
            batch = list(texts[start : start + ENCODE_BATCH])
            with self._lock:
                chunks.append(
                    self._model.encode(
                        batch,
                        batch_size=ENCODE_BATCH,
                        convert_to_numpy=True,
                        show_progress_bar=False,
                    )
                )
            if progress is not None:
                progress(len(batch))
        if not chunks:
            return np.zeros((0, self._dimension), dtype=np.float32)
        return normalise(np.concatenate(chunks))
