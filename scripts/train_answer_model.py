"""Train quoth's answer model from SQuAD training articles, export it, and measure it.

    .venv/bin/python scripts/train_answer_model.py [--squad FILE] [--out DIR]
        [--questions-per-article N] [--time-budget-min M] [--layers L] [--sentence-alone]
        [--perturbed K] [--contrasts] [--init MODEL_DIR] [--seed S] [--pair-seed S]

One seeded run: read the SQuAD-format file, hold ``--validation-articles`` whole articles out,
build training pairs from the rest (:mod:`quoth.training.examples`), fine-tune the packaged
cross-encoder brought back to float (:mod:`quoth.training.base_model`), export int8 ONNX with
its tokenizer to ``--out``, and print JSON: the data, the training run, and the validation
figures of the packaged model and the new one on the held-out articles. Runs on a CPU or a GPU
(torch picks neither: it runs where torch runs); ``--layers`` keeps the first L layers, for a
tiny run in tests.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

from tokenizers import Tokenizer

from quoth.retrieval.rerank import OnnxCrossEncoder, packaged_reranker_dir
from quoth.training.base_model import load_base_model
from quoth.training.examples import (
    Candidate,
    ValidationCase,
    build_pairs,
    load_articles,
    split_articles,
    validation_cases,
)
from quoth.training.train import TrainingOptions, export_onnx, fine_tune, truncate_layers, validate

REPO = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--squad", type=Path, default=REPO.parent / "shared" / "train" / "squad" / "train-v2.0.json"
    )
    parser.add_argument("--out", type=Path, default=Path("/tmp/quoth-answer-model"))
    parser.add_argument("--seed", type=int, default=13, help="draws the validation split")
    parser.add_argument(
        "--pair-seed", type=int, default=None,
        help="draws the pairs and their order (default: --seed); a continued run takes a new one "
        "so that it sees other negatives, while the validation split stays the same",
    )  # fmt: skip
    parser.add_argument("--validation-articles", type=int, default=20)
    parser.add_argument("--validation-per-article", type=int, default=15)
    parser.add_argument("--questions-per-article", type=int, default=None)
    parser.add_argument("--max-articles", type=int, default=None)
    parser.add_argument("--time-budget-min", type=float, default=None)
    parser.add_argument("--layers", type=int, default=None)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--learning-rate", type=float, default=2e-5)
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument(
        "--perturbed", type=int, default=1, help="perturbed questions per question, at most",
    )  # fmt: skip
    parser.add_argument(
        "--contrasts", action="store_true",
        help="add each question's negated and opposite forms as negatives",
    )  # fmt: skip
    parser.add_argument(
        "--init", type=Path, default=None,
        help="start from this model folder (a quoth export, e.g. the shipped quoth-answer) "
        "instead of the packaged passage model",
    )  # fmt: skip
    parser.add_argument(
        "--sentence-alone", action="store_true",
        help="show the model each sentence without its neighbours, as the packaged one is used",
    )  # fmt: skip
    args = parser.parse_args(argv)

    started = time.monotonic()
    articles = load_articles(args.squad)
    training, held = split_articles(articles, args.validation_articles, args.seed)
    if args.max_articles is not None:
        training = training[: args.max_articles]
    pair_seed = args.seed if args.pair_seed is None else args.pair_seed
    pairs = build_pairs(
        training, pair_seed, args.questions_per_article, args.perturbed, args.contrasts
    )
    cases = validation_cases(held, args.validation_per_article, args.seed)
    if args.sentence_alone:
        pairs = [replace(p, before="", after="") for p in pairs]
        cases = _alone(cases)
    data = {
        "training_articles": len(training),
        "validation_articles": [a.title for a in held],
        "pairs": len(pairs),
        "kinds": dict(collections.Counter(p.kind for p in pairs)),
        "validation_questions": len(cases),
        "seconds": round(time.monotonic() - started, 1),
    }
    print(json.dumps({"data": data}), file=sys.stderr, flush=True)

    packaged = packaged_reranker_dir()
    report: dict[str, object] = {"data": data}
    if not args.skip_baseline:
        before = OnnxCrossEncoder(packaged, "packaged")
        report["packaged_sentence_alone"] = validate(before.score, _alone(cases))
        if not args.sentence_alone:
            report["packaged_with_context"] = validate(before.score, cases)
        print(json.dumps(report), file=sys.stderr, flush=True)

    start = args.init or packaged
    report["init"] = str(start)
    if args.init is not None and not args.skip_baseline:
        report["init_model"] = validate(OnnxCrossEncoder(start, "init").score, cases)
    model = load_base_model(start / "model.onnx")
    if args.layers is not None:
        truncate_layers(model, args.layers)
    tokenizer = Tokenizer.from_file(str(packaged / "tokenizer.json"))
    budget = None if args.time_budget_min is None else args.time_budget_min * 60
    options = TrainingOptions(
        batch=args.batch, learning_rate=args.learning_rate, seed=pair_seed, time_budget_s=budget,
        threads=os.cpu_count() or 2,
    )  # fmt: skip
    report["training"] = fine_tune(
        model, tokenizer, pairs, options, log=lambda line: print(line, file=sys.stderr, flush=True)
    )
    export_onnx(model, packaged / "tokenizer.json", args.out)
    report["model_bytes"] = (args.out / "model.onnx").stat().st_size
    trained = OnnxCrossEncoder(args.out, "trained")
    report["trained"] = validate(trained.score, cases)
    report["seconds"] = round(time.monotonic() - started, 1)
    print(json.dumps(report, indent=1))
    return report


def _alone(cases: list[ValidationCase]) -> list[ValidationCase]:
    """The same cases with each candidate shown alone, as the packaged model is used today."""

    def bare(candidates: tuple[Candidate, ...]) -> tuple[Candidate, ...]:
        return tuple(Candidate(c.sentence, "", "") for c in candidates)

    return [replace(c, candidates=bare(c.candidates), removed=bare(c.removed)) for c in cases]


if __name__ == "__main__":
    main()
