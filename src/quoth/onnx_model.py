"""A BERT-style model on ONNX Runtime with its ``tokenizer.json``: the embedder and the
cross-encoder are both this, with a different head on the output."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")  # before onnxruntime is imported

import numpy as np
import numpy.typing as npt
import onnxruntime as ort
from onnxruntime.capi import _pybind_state as ort_state
from tokenizers import Encoding, Tokenizer

from quoth.memory import tune_allocator

_pool_threads: int | None = None
_parsed_tokenizers: dict[str, Tokenizer] = {}
SHRINK_AFTER_BATCH = 8
"""A run of more texts than this (a reindex's batches) gives its arena memory back at its end."""
_SHRINK = ort.RunOptions()
_SHRINK.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")


def _share_thread_pool(threads: int) -> None:
    """One intra-op pool for every session in the process, sized once by the first.

    The embedder and the reranker run one after the other on the same cores. With a pool
    each, an idle pool's spinning threads steal the cores from the busy one, so spinning had
    to be off, and waking sleeping threads for each of the reranker's ~1,200 operators cost
    a sixth of its time. With one shared pool, its threads may spin between operators.
    """
    global _pool_threads
    if _pool_threads is None:
        ort_state.set_global_thread_pool_sizes(threads, 1)
        _pool_threads = threads


def load_tokenizer(tokenizer_file: Path, max_tokens: int) -> Tokenizer:
    """The tokenizer in ``tokenizer_file``, truncating at ``max_tokens`` and padding batches.

    The embedder and the answer model both use BERT's uncased vocabulary, and each parsed
    copy of it stayed in memory. A file that says the same as one already loaded, but for
    its truncation and padding, is dropped once read, and its caller gets a tokenizer of its
    own over the first one's vocabulary (truncation and padding are settings of the
    ``Tokenizer`` object; the vocabulary is shared, read-only, between them).
    """
    read = Tokenizer.from_file(str(tokenizer_file))
    read.no_truncation()
    read.no_padding()
    key = hashlib.sha256(read.to_str().encode("utf-8")).hexdigest()
    first = _parsed_tokenizers.setdefault(key, read)
    del read
    tokenizer = Tokenizer(first.model)
    tokenizer.normalizer = first.normalizer
    tokenizer.pre_tokenizer = first.pre_tokenizer
    tokenizer.post_processor = first.post_processor
    tokenizer.decoder = first.decoder
    added = sorted(first.get_added_tokens_decoder().items())
    tokenizer.add_special_tokens([token for _, token in added if token.special])
    tokenizer.add_tokens([token for _, token in added if not token.special])
    tokenizer.enable_truncation(max_tokens)
    tokenizer.enable_padding()
    return tokenizer


class OnnxBert:
    """Tokenise, run, return the first output; sized for a small CPU server."""

    def __init__(
        self, model_file: Path, tokenizer_file: Path, max_tokens: int, threads: int
    ) -> None:
        self.tokenizer = load_tokenizer(tokenizer_file, max_tokens)
        _share_thread_pool(threads)
        options = ort.SessionOptions()
        options.use_per_session_threads = False
        # ONNX Runtime's CPU arena keeps the largest batch's buffers for good: a reindex
        # embeds in batches of 16 and the process never shrank back. Without the arena every
        # run allocates, and answers took twice as long; so the arena stays, grows only by
        # what a run asks for, and a large batch shrinks it back when it ends (questions run
        # batches of a few texts and keep theirs). The tuned allocator then hands the freed
        # blocks back to the system.
        options.add_session_config_entry("arena.extend_strategy", "1")
        options.enable_mem_pattern = False
        tune_allocator()
        self._session = ort.InferenceSession(
            str(model_file), options, providers=["CPUExecutionProvider"]
        )
        self._inputs = {i.name for i in self._session.get_inputs()}
        self.outputs = len(self._session.get_outputs())

    def run(self, encoded: list[Encoding]) -> tuple[npt.NDArray[Any], npt.NDArray[np.int64]]:
        """The model's first output and the attention mask it was given."""
        outputs = self.run_all(encoded)
        return outputs[0], np.array([e.attention_mask for e in encoded], dtype=np.int64)

    def run_all(self, encoded: list[Encoding]) -> list[npt.NDArray[Any]]:
        """Every output of the model, from one run."""
        feeds = {
            "input_ids": np.array([e.ids for e in encoded], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encoded], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encoded], dtype=np.int64),
        }
        shrink = _SHRINK if len(encoded) > SHRINK_AFTER_BATCH else None
        chosen = {k: v for k, v in feeds.items() if k in self._inputs}
        outputs = self._session.run(None, chosen, shrink)
        return [np.asarray(output) for output in outputs]
