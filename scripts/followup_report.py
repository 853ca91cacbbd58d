"""Follow-up questions three ways, per kind: as sent (alone), as quoth reads them in their
dialogue, and written out in full by hand (alone). The closing note's and the answers page's
follow-up table come from here.

    .venv/bin/python scripts/followup_report.py [--shared ../shared] [--work /tmp/quoth-fit]
        [--blind]

Reads the development dialogues (``eval/dialogues.jsonl`` over the reference articles,
``eval/dialogues_squad.jsonl`` over squad-dev); ``--blind`` reads the third set aside
instead. Prints JSON: per file and kind of follow-up turn, the answerable turns' share with
the right bold answer and with the answer on the first page, the unanswerable turns' share
given a bold answer, and how many turns were read differently from how they were sent.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

from development import REPO, services

from quoth.retrieval.evaluation import (
    EvalDialogue,
    EvalQuestion,
    QuestionResult,
    evaluate_item,
    load_items,
)
from quoth.retrieval.service import AnsweringService

WAYS = ("sent", "resolved", "written_out")


def _alone(
    service: AnsweringService, dialogue: str, question: str, turn: EvalQuestion
) -> QuestionResult:
    item = turn.model_copy(update={"id": dialogue, "question": question})
    return evaluate_item(service, item)[0]


def _figures(results: list[QuestionResult]) -> dict[str, float | int]:
    answerable = [r for r in results if r.answerable]
    unanswerable = [r for r in results if not r.answerable]

    def share(part: int, whole: int) -> float:
        return round(part / whole, 3) if whole else 0.0

    return {
        "answerable": len(answerable),
        "quote_hit": share(sum(r.quote_hit for r in answerable), len(answerable)),
        "answer_on_first_page": share(
            sum(r.answer_on_first_page for r in answerable), len(answerable)
        ),
        "refused": share(sum(r.refused for r in answerable), len(answerable)),
        "unanswerable": len(unanswerable),
        "false_answer_rate": share(sum(r.answered for r in unanswerable), len(unanswerable)),
    }


def report(service: AnsweringService, dialogues: list[EvalDialogue]) -> dict[str, object]:
    by_kind: dict[str, dict[str, list[QuestionResult]]] = defaultdict(lambda: defaultdict(list))
    resolved = 0
    for dialogue in dialogues:
        in_context = evaluate_item(service, dialogue)
        for spec, question, result in zip(
            dialogue.turns[1:], dialogue.questions()[1:], in_context[1:], strict=True
        ):
            kind = spec.kind or "other"
            resolved += result.resolved is not None
            sent = _alone(service, dialogue.id, spec.question, question)
            full = _alone(service, dialogue.id, spec.written_out or spec.question, question)
            for way, outcome in zip(WAYS, (sent, result, full), strict=True):
                by_kind[kind][way].append(outcome)
                by_kind["all follow-ups"][way].append(outcome)
    figures: dict[str, object] = {
        kind: {way: _figures(results) for way, results in ways.items()}
        for kind, ways in sorted(by_kind.items())
    }
    figures["turns read otherwise than sent"] = resolved
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    parser.add_argument("--work", type=Path, default=Path("/tmp/quoth-fit"))
    parser.add_argument("--blind", action="store_true", help="The third set aside, last.")
    args = parser.parse_args()
    suffix = "_blind" if args.blind else ""
    files = [
        (
            "dialogues",
            args.shared / "corpus" / "articles",
            REPO / "eval" / f"dialogues{suffix}.jsonl",
        ),
        (
            "dialogues-squad",
            args.shared / "eval" / "squad-dev" / "articles",
            REPO / "eval" / f"dialogues_squad{suffix}.jsonl",
        ),
    ]
    by_corpus = services(files, args.work, "quoth-answer")
    document = {}
    for name, corpus, path in files:
        dialogues = [item for item in load_items(path) if isinstance(item, EvalDialogue)]
        document[name] = report(by_corpus[corpus], dialogues)
    print(json.dumps(document, indent=1))


if __name__ == "__main__":
    main()
