"""Fine-tuning the answer model, exporting it to int8 ONNX, and measuring it on held-out articles.

Serving never imports this module (it needs torch); it reads only the exported files.
"""

from __future__ import annotations

import math
import random
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from quoth.retrieval.answer_input import candidate_text
from quoth.training.examples import Candidate, Pair, ValidationCase

Scorer = Callable[[str, list[str]], npt.NDArray[np.float32]]
"""(question, candidate texts) -> one logit per text."""


@dataclass(frozen=True, slots=True)
class TrainingOptions:
    batch: int = 16
    learning_rate: float = 2e-5
    warmup: float = 0.05
    max_tokens: int = 128
    seed: int = 13
    time_budget_s: float | None = None
    """Stop early (keeping what was learned) when training has run this long."""
    threads: int = 2


def truncate_layers(model: Any, layers: int) -> Any:
    """Keep the first ``layers`` encoder layers: a tiny model for tests and smoke runs."""
    model.bert.encoder.layer = model.bert.encoder.layer[:layers]
    model.config.num_hidden_layers = layers
    return model


def _batches(
    tokenizer: Any, pairs: Sequence[Pair], size: int, max_tokens: int
) -> list[tuple[Any, ...]]:
    import torch

    tokenizer.enable_truncation(max_tokens)
    tokenizer.enable_padding()
    batches = []
    for start in range(0, len(pairs), size):
        chunk = pairs[start : start + size]
        encoded = tokenizer.encode_batch(
            [(p.question, candidate_text(p.sentence, p.before, p.after)) for p in chunk]
        )
        batches.append((
            torch.tensor([e.ids for e in encoded]),
            torch.tensor([e.attention_mask for e in encoded]),
            torch.tensor([e.type_ids for e in encoded]),
            torch.tensor([p.label for p in chunk], dtype=torch.float32),
        ))  # fmt: skip
    return batches


def fine_tune(
    model: Any, tokenizer: Any, pairs: list[Pair], options: TrainingOptions,
    log: Callable[[str], None] = print,
) -> dict[str, float]:  # fmt: skip
    """One pass over ``pairs`` (shuffled with the seed): binary cross-entropy on the logit,
    AdamW with linear warm-up and decay. Returns what it did (pairs seen, seconds, loss)."""
    import torch

    torch.manual_seed(options.seed)
    torch.set_num_threads(options.threads)
    order = list(pairs)
    random.Random(options.seed).shuffle(order)
    batches = _batches(tokenizer, order, options.batch, options.max_tokens)
    optimizer = torch.optim.AdamW(
        [p for n, p in model.named_parameters() if "embeddings" not in n],
        lr=options.learning_rate,
        weight_decay=0.01,
    )
    warmup = max(1, int(options.warmup * len(batches)))

    started = time.monotonic()

    def rate(step: int) -> float:
        """Linear warm-up, then linear decay to zero at the last batch or at the time budget,
        whichever comes first: a run cut short by its budget still ends with a small rate."""
        if step < warmup:
            return (step + 1) / warmup
        done = (step - warmup) / max(1, len(batches) - warmup)
        if options.time_budget_s:
            done = max(done, (time.monotonic() - started) / options.time_budget_s)
        return max(0.0, 1.0 - done)

    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, rate)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    for parameter in model.bert.embeddings.parameters():
        parameter.requires_grad = False  # the vocabulary stays as pre-trained; steps are cheaper
    model.train()
    seen, running = 0, 0.0
    for step, (ids, mask, types, labels) in enumerate(batches):
        logits = model(input_ids=ids, attention_mask=mask, token_type_ids=types).logits[:, 0]
        loss = loss_fn(logits, labels)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad()
        seen += len(labels)
        running = 0.98 * running + 0.02 * loss.item() if step else loss.item()
        elapsed = time.monotonic() - started
        if step % 50 == 0:
            log(f"step {step}/{len(batches)} pairs {seen} loss {running:.4f} {elapsed:.0f}s")
        if options.time_budget_s is not None and elapsed > options.time_budget_s:
            log(f"time budget reached after {seen} pairs")
            break
    model.eval()
    return {"pairs": seen, "seconds": round(time.monotonic() - started, 1), "loss": running}


def export_onnx(model: Any, tokenizer_file: Path, folder: Path) -> Path:
    """``folder/model.onnx`` (dynamically quantized int8) and ``folder/tokenizer.json``."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    folder.mkdir(parents=True, exist_ok=True)
    float_file = folder / "model-float.onnx"
    example = torch.ones((1, 8), dtype=torch.long)
    model.eval()
    with torch.no_grad():
        torch.onnx.export(
            _logits_only(model),
            (example, example, torch.zeros_like(example)),
            str(float_file),
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["logits"],
            dynamic_axes={
                name: {0: "batch", 1: "tokens"}
                for name in ("input_ids", "attention_mask", "token_type_ids")
            }
            | {"logits": {0: "batch"}},
            opset_version=17,
            dynamo=False,
        )
    target = folder / "model.onnx"
    quantize_dynamic(str(float_file), str(target), weight_type=QuantType.QInt8)
    float_file.unlink()
    shutil.copyfile(tokenizer_file, folder / "tokenizer.json")
    return target


def _logits_only(model: Any) -> Any:
    """The ``transformers`` classifier as a module with plain tensors in and out, for export."""
    import torch

    class LogitsOnly(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, ids: Any, mask: Any, types: Any) -> Any:
            return self.model(input_ids=ids, attention_mask=mask, token_type_ids=types).logits

    return LogitsOnly()


def _texts(candidates: tuple[Candidate, ...]) -> list[str]:
    return [candidate_text(c.sentence, c.before, c.after) for c in candidates]


def roc_auc(positives: list[float], negatives: list[float]) -> float:
    """The chance that a positive outscores a negative (ties count half)."""
    if not positives or not negatives:
        return math.nan
    pos, neg = np.asarray(positives)[:, None], np.asarray(negatives)[None, :]
    return float(((pos > neg).sum() + 0.5 * (pos == neg).sum()) / (pos.size * neg.size))


def validate(score: Scorer, cases: list[ValidationCase]) -> dict[str, float]:
    """On held-out articles: how often the answering sentence is the paragraph's best
    (``marked``); how well the best score tells the paragraph from the paragraph without its
    answer (``removed_auc``); how well the answering sentence's score tells the question from
    one with a name or number swapped (``perturbed_auc``)."""
    hits, best_with, best_without, original, swapped = 0, [], [], [], []
    for case in cases:
        scores = score(case.question, _texts(case.candidates))
        hits += int(np.argmax(scores)) == case.answer
        best_with.append(float(scores.max()))
        best_without.append(float(score(case.question, _texts(case.removed)).max()))
        if case.perturbed is not None:
            answer = case.candidates[case.answer]
            original.append(float(scores[case.answer]))
            swapped.append(float(score(case.perturbed, _texts((answer,)))[0]))
    return {
        "questions": len(cases),
        "marked": round(hits / max(1, len(cases)), 4),
        "removed_auc": round(roc_auc(best_with, best_without), 4),
        "perturbed_auc": round(roc_auc(original, swapped), 4),
        "perturbed_questions": len(swapped),
    }
