"""Train quoth's answer model (both heads) from SQuAD training articles, export it, and measure it.

    .venv/bin/python scripts/train_answer_model.py [--squad FILE] [--impossible FILE] [--out DIR]
        [--questions-per-article N] [--time-budget-min M] [--layers L] [--sentence-alone]
        [--perturbed K] [--contrasts] [--init MODEL_DIR] [--seed S] [--pair-seed S]
        [--rows-out FILE | --weights DIR] [--device cuda] [--epochs E]

One seeded run: read the SQuAD-format training file and the file of real unanswerable
questions (``--impossible``), hold whole articles of *each* out (``--validation-articles``,
``--impossible-validation-articles``), build training pairs from the rest
(:mod:`quoth.training.examples`: answering sentences with their answer phrase, the negatives
built from them, every real unanswerable question against its plausible answer's sentence),
fine-tune both heads of the model in ``--init`` (default: the shipped quoth-answer; the phrase
head starts fresh when it has none), export int8 ONNX with its tokenizer to ``--out``, and print
JSON: the data, the training run, and the held-out figures of the starting model and the new
one (each negative kind's ROC AUC, real unanswerable questions first; the phrase's exact match
and F1; the paragraph-level figures).

Training where the rows cannot be built (a lent GPU machine): ``--rows-out FILE`` writes the
rows and stops; ``python -m quoth.training.run_rows`` trains on them there; ``--weights DIR``
here takes the weights it wrote back instead of training, then exports and measures as above.
``--layers`` keeps the first L layers, for a tiny run in tests.
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

from quoth.retrieval.answer_input import candidate_text
from quoth.retrieval.phrase import Phrase
from quoth.retrieval.rerank import OnnxCrossEncoder, answer_model_dir, packaged_reranker_dir
from quoth.training.examples import (
    Article,
    Candidate,
    Pair,
    ValidationCase,
    build_pairs,
    build_pairs_parallel,
    load_articles,
    split_articles,
    validation_cases,
)
from quoth.training.heads import answer_heads, load_trained
from quoth.training.measure import separation, validate
from quoth.training.rows_file import write_rows
from quoth.training.train import Row, TrainingOptions, export_onnx, fine_tune, truncate_layers

REPO = Path(__file__).resolve().parent.parent
SQUAD = REPO.parent / "shared" / "train" / "squad"


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--squad", type=Path, default=SQUAD / "train-v2.0.json")
    parser.add_argument(
        "--impossible", type=Path, default=SQUAD / "dev-v2.0-train.json",
        help="SQuAD 2.0 articles rich in real unanswerable questions ('none' to leave out)",
    )  # fmt: skip
    parser.add_argument("--out", type=Path, default=Path("/tmp/quoth-answer-model"))
    parser.add_argument("--seed", type=int, default=13, help="draws the validation split")
    parser.add_argument(
        "--pair-seed", type=int, default=None,
        help="draws the pairs and their order (default: --seed); a continued run takes a new one "
        "so that it sees other negatives, while the validation split stays the same",
    )  # fmt: skip
    parser.add_argument("--validation-articles", type=int, default=20)
    parser.add_argument("--impossible-validation-articles", type=int, default=4)
    parser.add_argument("--validation-per-article", type=int, default=15)
    parser.add_argument("--questions-per-article", type=int, default=None)
    parser.add_argument("--max-articles", type=int, default=None)
    parser.add_argument("--time-budget-min", type=float, default=None)
    parser.add_argument("--layers", type=int, default=None)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--learning-rate", type=float, default=2e-5)
    parser.add_argument("--span-weight", type=float, default=1.0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--processes", type=int, default=None, help="for building pairs")
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
        help="start from this model folder (a quoth export) instead of the shipped quoth-answer",
    )  # fmt: skip
    parser.add_argument(
        "--sentence-alone", action="store_true",
        help="show the model each sentence without its neighbours, as quoth reads it to mark",
    )  # fmt: skip
    parser.add_argument(
        "--impossible-repeat", type=int, default=1,
        help="how many times each real unanswerable question's pair is seen per pass: they are "
        "few beside the built negatives, and the kind the model most needs",
    )  # fmt: skip
    parser.add_argument("--rows-out", type=Path, default=None)
    parser.add_argument("--weights", type=Path, default=None)
    args = parser.parse_args(argv)

    started = time.monotonic()
    training, held = split_articles(load_articles(args.squad), args.validation_articles, args.seed)
    if args.max_articles is not None:
        training = training[: args.max_articles]
    impossible_held: list[Article] = []
    if str(args.impossible) != "none" and args.impossible.is_file():
        more, impossible_held = split_articles(
            load_articles(args.impossible), args.impossible_validation_articles, args.seed
        )
        training += more
    pair_seed = args.seed if args.pair_seed is None else args.pair_seed
    pairs = (
        []
        if args.weights is not None
        else build_pairs_parallel(
            training,
            pair_seed,
            args.questions_per_article,
            args.perturbed,
            args.contrasts,
            args.processes,
        )
    )  # fmt: skip: trained elsewhere, only the held-out articles are needed here
    rows = _rows(pairs, args.sentence_alone)
    rows += [r for r in rows if r.kind == "impossible"] * (args.impossible_repeat - 1)
    held_rows = _rows(
        build_pairs(held, args.seed, args.validation_per_article * 2, 1, True)
        + build_pairs(impossible_held, args.seed, None, 1, True),
        alone=True,
    )
    cases = validation_cases(held, args.validation_per_article, args.seed)
    if args.sentence_alone:
        cases = _alone(cases)
    data = {
        "training_articles": len(training),
        "validation_articles": [a.title for a in held + impossible_held],
        "pairs": len(rows),
        "kinds": dict(collections.Counter(r.kind for r in rows)),
        "with_phrase": sum(r.span is not None for r in rows),
        "validation_questions": len(cases),
        "validation_pairs": dict(collections.Counter(r.kind for r in held_rows)),
        "seconds": round(time.monotonic() - started, 1),
    }
    print(json.dumps({"data": data}), file=sys.stderr, flush=True)
    report: dict[str, object] = {"data": data}
    if args.rows_out is not None:
        write_rows(rows, args.rows_out)
        report["rows_file"] = str(args.rows_out)
        print(json.dumps(report, indent=1))
        return report

    start = args.init or answer_model_dir()
    report["init"] = str(start)
    if not args.skip_baseline:
        before = OnnxCrossEncoder(start, "init")
        report["init_model"] = {
            "separation": separation(_reader(before), held_rows),
            "paragraphs": validate(before.score, cases),
        }
        print(json.dumps(report), file=sys.stderr, flush=True)
    model = answer_heads(start / "model.onnx", pair_seed)
    if args.layers is not None:
        truncate_layers(model, args.layers)
    tokenizer_file = packaged_reranker_dir() / "tokenizer.json"
    if args.weights is not None:
        load_trained(model, args.weights)
        done = args.weights / "training.json"
        report["training"] = json.loads(done.read_text()) if done.is_file() else str(args.weights)
    else:
        options = TrainingOptions(
            batch=args.batch, learning_rate=args.learning_rate, seed=pair_seed,
            time_budget_s=None if args.time_budget_min is None else args.time_budget_min * 60,
            threads=os.cpu_count() or 2, device=args.device, span_weight=args.span_weight,
            epochs=args.epochs,
        )  # fmt: skip
        report["training"] = fine_tune(
            model, Tokenizer.from_file(str(tokenizer_file)), rows, options,
            log=lambda line: print(line, file=sys.stderr, flush=True),
        )  # fmt: skip
    export_onnx(model, tokenizer_file, args.out)
    report["model_bytes"] = (args.out / "model.onnx").stat().st_size
    trained = OnnxCrossEncoder(args.out, "trained")
    report["trained"] = {
        "separation": separation(_reader(trained), held_rows),
        "paragraphs": validate(trained.score, cases),
    }
    report["seconds"] = round(time.monotonic() - started, 1)
    print(json.dumps(report, indent=1))
    return report


def _rows(pairs: list[Pair], alone: bool) -> list[Row]:
    """Pairs as the model reads them: the sentence alone, or followed by its neighbours (the
    sentence first either way, so its answer span's offsets hold)."""
    return [
        Row(
            p.question,
            p.sentence if alone else candidate_text(p.sentence, p.before, p.after),
            p.label,
            p.span,
            p.kind,
        )
        for p in pairs
    ]


def _reader(model: OnnxCrossEncoder):  # type: ignore[no-untyped-def]
    def read(question: str, texts: list[str]) -> tuple[object, list[Phrase | None]]:
        judged = model.judge(question, texts)
        return judged.scores, judged.phrases

    return read


def _alone(cases: list[ValidationCase]) -> list[ValidationCase]:
    """The same cases with each candidate shown alone, as the packaged model is used today."""

    def bare(candidates: tuple[Candidate, ...]) -> tuple[Candidate, ...]:
        return tuple(Candidate(c.sentence, "", "") for c in candidates)

    return [replace(c, candidates=bare(c.candidates), removed=bare(c.removed)) for c in cases]


if __name__ == "__main__":
    main()
