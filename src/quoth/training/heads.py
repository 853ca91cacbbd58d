"""quoth-answer's two heads on one encoder: "does this sentence state the answer?" and "which
phrase of it is the answer?", both from a single forward pass.

The first head is the cross-encoder's classifier as before (its logit is what ranking and
refusal read); the second is a linear layer over every token's last hidden state giving a start
and an end logit, as in extractive question answering. Sharing the encoder keeps the serving
cost of the phrase to one small matrix product. Only the tokens of the candidate sentence may
hold the phrase: the question's tokens and the special tokens are masked out of the span loss
here and out of the search for the best span when serving (:mod:`quoth.retrieval.phrase`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from quoth.training.base_model import float_weights, load_base_model

SPAN_PREFIX = "span."
IGNORED = -100
"""The span target of a pair with no answer phrase (every negative): no span loss."""
MASKED = -1e4
"""Added to the logits of tokens that cannot hold the phrase (safe in bfloat16)."""


def answer_heads(model_file: Path, seed: int = 13) -> Any:
    """The model of ``model_file`` (a quoth export or the packaged cross-encoder) with a span
    head: read back from the file when it has one, else freshly initialised with ``seed``."""
    import torch

    class AnswerHeads(torch.nn.Module):
        def __init__(self, classifier: Any) -> None:
            super().__init__()
            self.model = classifier
            self.span = torch.nn.Linear(classifier.config.hidden_size, 2)

        @property
        def bert(self) -> Any:
            return self.model.bert

        def forward(self, ids: Any, mask: Any, types: Any) -> tuple[Any, Any, Any]:
            out = self.model.bert(input_ids=ids, attention_mask=mask, token_type_ids=types)
            pooled = self.model.dropout(out.pooler_output)
            logits = self.model.classifier(pooled)
            span = self.span(out.last_hidden_state)
            return logits, span[..., 0], span[..., 1]

    torch.manual_seed(seed)
    model = AnswerHeads(load_base_model(model_file))
    state = float_weights(model_file)
    if f"{SPAN_PREFIX}weight" in state:
        model.span.weight.data = torch.from_numpy(state[f"{SPAN_PREFIX}weight"])
        model.span.bias.data = torch.from_numpy(state[f"{SPAN_PREFIX}bias"])
    else:
        torch.nn.init.normal_(model.span.weight, std=0.02)
        torch.nn.init.zeros_(model.span.bias)
    model.eval()
    return model


def span_targets(
    offsets: list[tuple[int, int]], sequence_ids: list[int | None], span: tuple[int, int] | None
) -> tuple[int, int]:
    """The first and last token of the character span ``span`` in the second segment, or
    (:data:`IGNORED`, :data:`IGNORED`) when there is none or truncation cut it."""
    if span is None:
        return IGNORED, IGNORED
    start, end = span
    inside = [i for i, s in enumerate(sequence_ids) if s == 1]
    first = next((i for i in inside if offsets[i][1] > start), None)
    last = next((i for i in reversed(inside) if offsets[i][0] < end), None)
    if first is None or last is None or last < first or offsets[last][1] < end:
        return IGNORED, IGNORED
    return first, last


def candidate_mask(sequence_ids: list[int | None]) -> list[bool]:
    """Which tokens may hold the phrase: the second segment's, special tokens excluded."""
    return [s == 1 for s in sequence_ids]


def joint_loss(
    outputs: tuple[Any, Any, Any], labels: Any, allowed: Any, starts: Any, ends: Any,
    span_weight: float,
) -> tuple[Any, Any]:  # fmt: skip
    """Binary cross-entropy on the sentence logit for every pair, plus the start and end
    cross-entropy over the allowed tokens for the pairs that hold a phrase. Returns (total,
    the span part) so both can be logged."""
    import torch

    logits, start_logits, end_logits = outputs
    sentence = torch.nn.functional.binary_cross_entropy_with_logits(logits[:, 0].float(), labels)
    has_span = starts != IGNORED
    if not bool(has_span.any()):
        return sentence, torch.zeros((), device=labels.device)
    blocked = (~allowed[has_span]).float() * MASKED
    start = start_logits[has_span].float() + blocked
    end = end_logits[has_span].float() + blocked
    cross = torch.nn.functional.cross_entropy
    span = (cross(start, starts[has_span]) + cross(end, ends[has_span])) / 2
    return sentence + span_weight * span, span


def trainable(name: str) -> bool:
    """The vocabulary stays as pre-trained: every embedding table is frozen (and so never has
    to travel back from a training machine)."""
    return "embeddings" not in name


def save_trained(model: Any, folder: Path, max_bytes: int = 14 << 20) -> list[Path]:
    """The trainable weights as float16 ``.npz`` files of at most ``max_bytes`` each: small
    enough to come back from a lent GPU machine; :func:`load_trained` puts them back."""
    folder.mkdir(parents=True, exist_ok=True)
    chunks: list[dict[str, np.ndarray[Any, Any]]] = [{}]
    size = 0
    for name, tensor in model.state_dict().items():
        if not trainable(name) or "position_ids" in name:
            continue
        array = tensor.detach().float().cpu().numpy().astype(np.float16)
        if size + array.nbytes > max_bytes and chunks[-1]:
            chunks.append({})
            size = 0
        chunks[-1][name] = array
        size += array.nbytes
    paths = []
    for number, chunk in enumerate(chunks):
        path = folder / f"weights-{number}.npz"
        np.savez(path, **chunk)  # type: ignore[arg-type]
        paths.append(path)
    return paths


def load_trained(model: Any, folder: Path) -> Any:
    """``model`` with the weights :func:`save_trained` wrote to ``folder``."""
    import torch

    state = {}
    for path in sorted(folder.glob("weights-*.npz")):
        with np.load(path) as chunk:
            state.update({k: torch.from_numpy(chunk[k].astype(np.float32)) for k in chunk.files})
    if not state:
        raise FileNotFoundError(f"No weights-*.npz in {folder}.")
    result = model.load_state_dict(state, strict=False)
    if result.unexpected_keys:
        raise KeyError(f"Weights that do not fit the model: {result.unexpected_keys[:5]}")
    return model
