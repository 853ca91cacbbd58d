"""Fit a reranker's packaged refusal decision on every development file at once, and check it.

    .venv/bin/python scripts/fit_refusal.py [--reranker NAME] [--shared ../shared]
        [--work /tmp/quoth-fit] [--write]

Builds an index for each development corpus (:mod:`development`), reads every question of
every development file through the reranking stage, fits one model with each file weighing
the same, and prints JSON: the fitted figures per file, each file's figures when it is left
out of the fit, and the trade-off between wrongful refusals and refused unanswerable questions
at several targets. ``--write`` stores the fit as that reranker's packaged default: the
``refusal.json`` beside quoth-answer's weights, or ``refusal_default.json`` for the passage
model.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

from development import REPO, development_files, services

from quoth.retrieval.calibrate import by_group, collect_samples, figures
from quoth.retrieval.evaluation import load_questions
from quoth.retrieval.refusal import DEFAULT_NAME, STORED_NAME, Sample, fit_refusal
from quoth.retrieval.rerank import ANSWER_MODEL, DEFAULT_RERANKER, answer_model_dir

TARGETS = (0.0, 0.01, 0.02, 0.03, 0.05, 0.08, 0.1, 0.15, 0.2)


def gather(shared: Path, work: Path, reranker: str) -> list[Sample]:
    files = development_files(shared, work)
    by_corpus = services(files, work, reranker)
    samples: list[Sample] = []
    for name, corpus, questions in files:
        samples += collect_samples(by_corpus[corpus], load_questions(questions), name)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reranker", default=DEFAULT_RERANKER)
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    parser.add_argument("--work", type=Path, default=Path("/tmp/quoth-fit"))
    parser.add_argument("--write", action="store_true", help="store as the packaged default")
    args = parser.parse_args()
    samples = gather(args.shared, args.work, args.reranker)
    groups = by_group(samples)
    model = fit_refusal(samples, reranker=args.reranker)
    report: dict[str, object] = {
        "signals": list(model.signals),
        "threshold": round(model.threshold, 4),
        "fitted": {g: asdict(figures(model, s)) for g, s in groups.items()},
        "left_out": {
            g: asdict(figures(fit_refusal([x for x in samples if x.group != g]), s))
            for g, s in groups.items()
        },
        "trade_off": {
            str(target): {
                g: asdict(figures(fit_refusal(samples, target), s)) for g, s in groups.items()
            }
            for target in TARGETS
        },
    }
    print(json.dumps(report, indent=1))
    if args.write:
        packaged = REPO / "src" / "quoth" / "retrieval" / DEFAULT_NAME
        model.save(answer_model_dir() / STORED_NAME if args.reranker == ANSWER_MODEL else packaged)


if __name__ == "__main__":
    main()
