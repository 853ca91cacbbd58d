"""quoth's figures on every development file, for one or more rerankers side by side.

    .venv/bin/python scripts/development_report.py [--reranker NAME ...] [--shared ../shared]
        [--work /tmp/quoth-fit]

Each reranker is read with its own packaged refusal decision. Prints JSON: per reranker and
file, the share of answerable questions whose marked sentence holds the evidence, whose
evidence is on the first page, and that were refused, the share of unanswerable questions
refused, and the median answer time. The closing notes' before/after tables come from here.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from development import REPO, development_files, services

from quoth.retrieval.evaluation import evaluate, load_questions
from quoth.retrieval.rerank import PACKAGED_RERANKERS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reranker", action="append", default=None)
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    parser.add_argument("--work", type=Path, default=Path("/tmp/quoth-fit"))
    args = parser.parse_args()
    files = development_files(args.shared, args.work)
    report: dict[str, dict[str, dict[str, float | int]]] = {}
    for reranker in args.reranker or list(PACKAGED_RERANKERS):
        by_corpus = services(files, args.work, reranker)
        report[reranker] = {}
        for name, corpus, questions in files:
            metrics = evaluate(by_corpus[corpus], load_questions(questions)).metrics()
            report[reranker][name] = {
                key: metrics[key]
                for key in (
                    "answerable", "unanswerable", "quote_hit", "answer_on_first_page",
                    "false_refusal_rate", "refusal_accuracy", "latency_p50_ms", "phrase_shown",
                    "phrase_exact", "phrase_f1",
                )
            }  # fmt: skip
        print(json.dumps({reranker: report[reranker]}), flush=True)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
