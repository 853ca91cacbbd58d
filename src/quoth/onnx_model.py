"""A BERT-style model on ONNX Runtime with its ``tokenizer.json``: the embedder and the
cross-encoder are both this, with a different head on the output."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")  # before onnxruntime is imported

import numpy as np
import numpy.typing as npt
import onnxruntime as ort
from tokenizers import Encoding, Tokenizer


class OnnxBert:
    """Tokenise, run, return the first output; sized for a small CPU server."""

    def __init__(
        self, model_file: Path, tokenizer_file: Path, max_tokens: int, threads: int
    ) -> None:
        self.tokenizer = Tokenizer.from_file(str(tokenizer_file))
        self.tokenizer.enable_truncation(max_tokens)
        self.tokenizer.enable_padding()
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # Idle worker threads must sleep, not spin: the embedder's and the reranker's pools
        # take turns on the same two cores (spinning doubled the reranker's time).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = ort.InferenceSession(
            str(model_file), options, providers=["CPUExecutionProvider"]
        )
        self._inputs = {i.name for i in self._session.get_inputs()}

    def run(self, encoded: list[Encoding]) -> tuple[npt.NDArray[Any], npt.NDArray[np.int64]]:
        """The model's first output and the attention mask it was given."""
        mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
        feeds = {
            "input_ids": np.array([e.ids for e in encoded], dtype=np.int64),
            "attention_mask": mask,
            "token_type_ids": np.array([e.type_ids for e in encoded], dtype=np.int64),
        }
        outputs = self._session.run(None, {k: v for k, v in feeds.items() if k in self._inputs})
        return np.asarray(outputs[0]), mask
