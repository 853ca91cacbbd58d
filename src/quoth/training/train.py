"""Fine-tuning the two-headed answer model and exporting it to int8 ONNX.

Serving never imports this module (it needs torch); it reads only the exported files. It
imports nothing of quoth's serving side either, so it runs on a lent GPU machine that has torch
and transformers but not quoth's dependencies (``python -m quoth.training.run_rows``).
"""

from __future__ import annotations

import random
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from quoth.training.heads import candidate_mask, joint_loss, span_targets, trainable


@dataclass(frozen=True, slots=True)
class Row:
    """One training example as the model reads it: the question, the candidate's text (the
    sentence first, so ``span`` offsets in the sentence hold in the text), the label, and the
    answer phrase's character span when the text holds one."""

    question: str
    text: str
    label: float
    span: tuple[int, int] | None
    kind: str


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
    device: str = "cpu"
    span_weight: float = 1.0
    """How much the phrase head's loss counts beside the sentence head's."""
    early: float = 0.3
    """Real unanswerable questions are spread over the first this share of the run: a run cut
    short by its time budget has seen all of them."""
    epochs: int = 1


INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def truncate_layers(model: Any, layers: int) -> Any:
    """Keep the first ``layers`` encoder layers: a tiny model for tests and smoke runs."""
    model.bert.encoder.layer = model.bert.encoder.layer[:layers]
    model.bert.config.num_hidden_layers = layers
    return model


def order_rows(rows: Sequence[Row], batch: int, early: float, seed: int) -> list[list[int]]:
    """Batches of row numbers: shuffled with ``seed``, real unanswerable questions (kind
    ``impossible``) drawn into the first ``early`` share, and within each stretch of 64 batches
    rows of like length put together, so padding to a batch's longest input costs little."""
    rng = random.Random(seed)
    keys = [rng.random() * (early if row.kind == "impossible" else 1.0) for row in rows]
    order = sorted(range(len(rows)), key=keys.__getitem__)
    batches: list[list[int]] = []
    stretch = batch * 64
    for first in range(0, len(order), stretch):
        part = sorted(order[first : first + stretch], key=lambda i: len(rows[i].text))
        chunk = [part[i : i + batch] for i in range(0, len(part), batch)]
        rng.shuffle(chunk)
        batches.extend(chunk)
    return batches


def _tensors(tokenizer: Any, rows: Sequence[Row], device: str) -> tuple[Any, ...]:
    """One batch padded to its own longest input, with the span targets in tokens."""
    import torch

    encoded = tokenizer.encode_batch([(r.question, r.text) for r in rows])
    targets = [
        span_targets(e.offsets, e.sequence_ids, r.span) for e, r in zip(encoded, rows, strict=True)
    ]
    tensors = (
        torch.tensor([e.ids for e in encoded]),
        torch.tensor([e.attention_mask for e in encoded]),
        torch.tensor([e.type_ids for e in encoded]),
        torch.tensor([r.label for r in rows], dtype=torch.float32),
        torch.tensor([candidate_mask(e.sequence_ids) for e in encoded]),
        torch.tensor([t[0] for t in targets]),
        torch.tensor([t[1] for t in targets]),
    )
    return tuple(t.to(device, non_blocking=True) for t in tensors)


def fine_tune(
    model: Any, tokenizer: Any, rows: list[Row], options: TrainingOptions,
    log: Callable[[str], None] = print,
) -> dict[str, float]:  # fmt: skip
    """``options.epochs`` passes over ``rows``: the joint loss (:func:`quoth.training.heads.
    joint_loss`), AdamW with linear warm-up and decay; bfloat16 autocast on a GPU. Returns
    what it did (pairs seen, seconds, pairs per second, the last losses)."""
    import torch

    torch.manual_seed(options.seed)
    torch.set_num_threads(options.threads)
    tokenizer.enable_truncation(options.max_tokens)
    tokenizer.enable_padding()
    batches = [
        batch
        for epoch in range(options.epochs)
        for batch in order_rows(rows, options.batch, options.early, options.seed + epoch)
    ]
    model.to(options.device)
    for name, parameter in model.named_parameters():
        parameter.requires_grad = trainable(name)
    optimizer = torch.optim.AdamW(
        [p for n, p in model.named_parameters() if trainable(n)],
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
    on_gpu = options.device.startswith("cuda")
    model.train()
    seen, running, running_span = 0, 0.0, 0.0
    for step, numbers in enumerate(batches):
        ids, mask, types, labels, allowed, starts, ends = _tensors(
            tokenizer, [rows[i] for i in numbers], options.device
        )
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=on_gpu):
            outputs = model(ids, mask, types)
        loss, span = joint_loss(outputs, labels, allowed, starts, ends, options.span_weight)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad(set_to_none=True)
        seen += len(numbers)
        if step % 50 == 0 or step == len(batches) - 1:
            value, span_value = loss.item(), span.item()
            running = 0.9 * running + 0.1 * value if step else value
            running_span = 0.9 * running_span + 0.1 * span_value if step else span_value
            elapsed = time.monotonic() - started
            log(
                f"step {step}/{len(batches)} pairs {seen} loss {running:.4f} "
                f"span {running_span:.4f} {elapsed:.0f}s {seen / max(elapsed, 1e-9):.0f}/s"
            )
        if options.time_budget_s is not None and time.monotonic() - started > options.time_budget_s:
            log(f"time budget reached after {seen} pairs")
            break
    model.eval()
    model.to("cpu")
    seconds = time.monotonic() - started
    return {
        "pairs": seen,
        "of": sum(len(b) for b in batches),
        "seconds": round(seconds, 1),
        "pairs_per_second": round(seen / max(seconds, 1e-9), 1),
        "loss": round(running, 4),
        "span_loss": round(running_span, 4),
    }


def export_onnx(model: Any, tokenizer_file: Path, folder: Path) -> Path:
    """``folder/model.onnx`` (dynamically quantized int8; outputs ``logits``, ``start_logits``,
    ``end_logits``) and ``folder/tokenizer.json``."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    folder.mkdir(parents=True, exist_ok=True)
    float_file = folder / "model-float.onnx"
    example = torch.ones((1, 8), dtype=torch.long)
    model.eval()
    tokens = {0: "batch", 1: "tokens"}
    with torch.no_grad():
        torch.onnx.export(
            model,
            (example, example, torch.zeros_like(example)),
            str(float_file),
            input_names=list(INPUTS),
            output_names=["logits", "start_logits", "end_logits"],
            dynamic_axes=dict.fromkeys((*INPUTS, "start_logits", "end_logits"), tokens)
            | {"logits": {0: "batch"}},
            opset_version=17,
            dynamo=False,
        )
    target = folder / "model.onnx"
    quantize_dynamic(str(float_file), str(target), weight_type=QuantType.QInt8)
    float_file.unlink()
    shutil.copyfile(tokenizer_file, folder / "tokenizer.json")
    return target
