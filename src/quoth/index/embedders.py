"""Choosing an embedding back-end: the one factory above the back-end modules, so that
neither back-end needs the other and the shared pieces (:mod:`quoth.index.embedder`) need
neither."""

from __future__ import annotations

from pathlib import Path

from quoth.index.embedder import Embedder, ModelError
from quoth.index.torch_embedder import SentenceTransformerEmbedder

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
