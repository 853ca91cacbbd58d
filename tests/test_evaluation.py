"""Quality on the public seed questions, through the same code as ``quoth eval``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from quoth.retrieval import AnsweringService
from quoth.retrieval.evaluation import (
    EvalFileError,
    contains_evidence,
    evaluate,
    load_questions,
)

from .conftest import SEED_QUESTIONS


def test_seed_questions_meet_the_bar(service: AnsweringService) -> None:
    report = evaluate(service, load_questions(SEED_QUESTIONS))
    print(json.dumps(report.metrics(), indent=2))
    assert report.questions == 30 and report.unanswerable == 5
    assert report.evidence_top3 >= 0.9
    assert report.refusal_accuracy >= 0.8
    assert report.false_refusal_rate <= 0.1
    assert report.mrr >= 0.8
    assert report.quote_hit >= 0.75


def test_evidence_matching_normalises_quotes_case_and_spaces() -> None:
    assert contains_evidence("Pakistan’s  Foreign\nMinister", ["pakistan's foreign minister"])
    assert contains_evidence("“we will never forget”", ['"We will never forget"'])
    assert not contains_evidence("Lachin", ["Baku"])


def test_bad_question_file_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text('{"id": "a", "question": "q?", "answerable": true}\n{"id": 1}\n')
    with pytest.raises(EvalFileError, match=r"q\.jsonl:2"):
        load_questions(path)
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    with pytest.raises(EvalFileError, match="no questions"):
        load_questions(empty)
