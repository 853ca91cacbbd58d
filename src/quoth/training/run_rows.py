"""Fine-tune quoth-answer's two heads on a rows file, and write the trained weights.

    python -m quoth.training.run_rows --rows ROWS.json.gz --init MODEL_DIR --out DIR
        [--time-budget-min M] [--batch B] [--learning-rate R] [--epochs E] [--device cuda]

The half of ``scripts/train_answer_model.py`` that needs only torch, transformers and
tokenizers: it runs on a lent GPU machine (``--device cuda``) or here. It writes
``weights-*.npz`` (the trainable weights, float16, in parts small enough to fetch back) and
``training.json`` (what the run did); ``train_answer_model.py --weights DIR`` exports and
measures them.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from quoth.training.heads import answer_heads, load_trained, save_trained
from quoth.training.rows_file import read_rows
from quoth.training.train import TrainingOptions, fine_tune, truncate_layers


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=Path, required=True)
    parser.add_argument("--init", type=Path, required=True, help="a folder with model.onnx")
    parser.add_argument("--tokenizer", type=Path, default=None)
    parser.add_argument(
        "--weights", type=Path, default=None,
        help="continue from weights an earlier run wrote (weights-*.npz) on top of --init",
    )  # fmt: skip
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--time-budget-min", type=float, default=None)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--learning-rate", type=float, default=2e-5)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--span-weight", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--layers", type=int, default=None)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)

    from tokenizers import Tokenizer

    rows = read_rows(args.rows)
    model = answer_heads(args.init / "model.onnx", args.seed)
    if args.weights is not None:
        load_trained(model, args.weights)
    if args.layers is not None:
        truncate_layers(model, args.layers)
    tokenizer = Tokenizer.from_file(str(args.tokenizer or args.init / "tokenizer.json"))
    options = TrainingOptions(
        batch=args.batch, learning_rate=args.learning_rate, seed=args.seed,
        time_budget_s=None if args.time_budget_min is None else args.time_budget_min * 60,
        threads=args.threads, device=args.device, span_weight=args.span_weight,
        epochs=args.epochs, max_tokens=args.max_tokens,
    )  # fmt: skip
    report: dict[str, object] = {"rows": len(rows)}
    report["training"] = fine_tune(
        model, tokenizer, rows, options, log=lambda line: print(line, file=sys.stderr, flush=True)
    )
    save_trained(model, args.out)
    report["options"] = {k: str(v) for k, v in vars(args).items()}
    (args.out / "training.json").write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(report))
    return report


if __name__ == "__main__":
    main()
