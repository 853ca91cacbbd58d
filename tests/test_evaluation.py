"""Quality on the public seed questions, through the same code as ``quoth eval``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rich.console import Console

from quoth import runtime
from quoth.index import Embedder
from quoth.retrieval import AnsweringService
from quoth.retrieval.evaluation import (
    EvalFileError,
    EvalReport,
    ShownQuote,
    compare,
    comparison_json,
    contains_evidence,
    evaluate,
    first_page_holds,
    load_questions,
)
from quoth.terminal import render_comparison

from .conftest import REPO, SEED_QUESTIONS, SQUAD_QUESTIONS, settings_for

OWN_QUESTIONS = REPO / "eval" / "questions.jsonl"
GUIDE_QUESTIONS = REPO / "eval" / "guide_questions.jsonl"
TOPIC_QUESTIONS = REPO / "eval" / "topic_questions.jsonl"
HONESTY_QUESTIONS = REPO / "eval" / "honesty_questions.jsonl"
READER_QUESTIONS = REPO / "eval" / "reader_questions.jsonl"


@pytest.fixture(scope="module")
def service_over_guide(
    tmp_path_factory: pytest.TempPathFactory, embedder: Embedder
) -> AnsweringService:
    settings = settings_for(tmp_path_factory.mktemp("guide-index"), runtime.sample_corpus_dir())
    runtime.reindex(settings, embedder)
    return runtime.open_service(settings, embedder)


QUALITY = ("evidence_top1", "evidence_top3", "evidence_top5", "mrr", "sentence_hit",
           "answer_on_first_page")  # fmt: skip
"""Ranking quality: whether an answer is claimed is each mode's own decision."""


@pytest.fixture(scope="module")
def comparisons(service: AnsweringService) -> dict[str, dict[str, EvalReport]]:
    """Every mode over both question files, printed as the tables ``--compare`` shows."""
    results = {}
    for path in (SEED_QUESTIONS, OWN_QUESTIONS):
        reports = compare(service, load_questions(path))
        print(f"\n{path.name}")
        Console(width=120).print(render_comparison(reports))
        print(json.dumps(comparison_json(reports)))
        results[path.name] = reports
    return results


def test_seed_questions_meet_the_targets(comparisons: dict[str, dict[str, EvalReport]]) -> None:
    report = comparisons[SEED_QUESTIONS.name]["rerank"]
    assert report.questions == 30 and report.unanswerable == 5
    assert report.evidence_top3 >= 0.98
    assert report.sentence_hit >= 0.90 and report.quote_hit >= 0.88
    assert report.claims_right >= 0.95
    assert report.false_answer_rate <= 0.10  # no unanswerable question answered in bold
    assert report.refusal_accuracy >= 0.75  # measured 4 of 5; the fifth: closest passages
    assert report.false_refusal_rate <= 0.05


def test_own_questions_hold_the_measured_level(
    comparisons: dict[str, dict[str, EvalReport]],
) -> None:
    """The harder file (paraphrases, typos, in-topic unanswerables): the level the packaged
    refusal decision reaches, so a regression fails here. Its in-topic unanswerable questions
    score like SQuAD's answerable ones; the default gives up some of them to wrongly refuse
    no more than 3% of any development file's answerable questions (see docs/answers/index.md)."""
    report = comparisons[OWN_QUESTIONS.name]["rerank"]
    assert report.questions == 45 and report.unanswerable == 15
    assert report.evidence_top3 >= 0.85
    assert report.sentence_hit >= 0.75
    assert report.quote_hit >= 0.63  # measured 20 of 30 in bold and right
    assert report.claims_right >= 0.85
    assert report.answer_on_first_page >= 0.9
    assert report.false_answer_rate <= 0.10
    assert report.false_refusal_rate <= 0.05


def test_topic_questions_hold_the_measured_level(service: AnsweringService) -> None:
    """Questions about the reference articles' own topic that they do not answer, beside
    answerable paraphrases: every paraphrase quoted on the first page, and few of the
    unanswerable ones given a bold answer (the rest: the closest passages, or refused)."""
    report = evaluate(service, load_questions(TOPIC_QUESTIONS))
    print(json.dumps(report.metrics()))
    assert report.answerable == 15 and report.unanswerable == 32
    assert report.sentence_hit >= 0.93
    assert report.quote_hit >= 0.73  # measured 12 of 15 in bold and right
    assert report.answer_on_first_page >= 0.93
    assert report.false_refusal_rate <= 0.05
    assert report.false_answer_rate <= 0.13  # measured 3 of 32; one may tip on another CPU


def test_honesty_questions_hold_the_measured_level(service: AnsweringService) -> None:
    """What the articles leave out (counts, causes, named people's reactions, dates, yes/no
    details) beside answerable paraphrases: no paraphrase refused, the measured share of the
    rest refused, and the answer phrase underlined where the marked sentence is right."""
    report = evaluate(service, load_questions(HONESTY_QUESTIONS))
    print(json.dumps(report.metrics()))
    assert report.answerable == 26 and report.unanswerable == 44
    assert report.sentence_hit >= 0.73
    assert report.quote_hit >= 0.65  # measured 18 of 26 in bold and right
    assert report.answer_on_first_page >= 0.88
    assert report.false_refusal_rate <= 0.05
    assert report.false_answer_rate <= 0.10  # measured 3 of 44
    assert report.phrase_shown >= 0.8


def test_readers_questions_hold_the_measured_level(service: AnsweringService) -> None:
    """Readers' wording (why, how, what did X say, away from the article's words) and near
    misses that name the right people and event: few near misses claimed in bold, and most
    bold answers right, even where the marked sentence is often not."""
    report = evaluate(service, load_questions(READER_QUESTIONS))
    print(json.dumps(report.metrics()))
    assert report.answerable == 23 and report.unanswerable == 22
    assert report.false_answer_rate <= 0.10  # measured 2 of 22
    assert report.claims_right >= 0.5  # measured 6 of 11
    assert report.false_refusal_rate <= 0.05
    assert report.answer_on_first_page >= 0.65  # measured 16 of 23


def test_squad_dev_questions_hold_the_measured_level(
    squad_service: AnsweringService,
) -> None:
    """An outside corpus and crowd questions: wrongful refusals stay rare there too, and
    SQuAD's adversarial unanswerable questions mostly get the closest passages, not a claim."""
    report = evaluate(squad_service, load_questions(SQUAD_QUESTIONS))
    print(json.dumps(report.metrics()))
    assert report.answerable == 197 and report.unanswerable == 221
    assert report.sentence_hit >= 0.77
    assert report.quote_hit >= 0.38  # measured 81 of 197 in bold and right
    assert report.answer_on_first_page >= 0.86
    assert report.false_refusal_rate <= 0.05
    assert report.false_answer_rate <= 0.20  # measured 29 of 221
    assert report.phrase_shown >= 0.8


def test_user_guide_questions_hold_the_measured_level(service_over_guide: AnsweringService) -> None:
    """A third kind of corpus (quoth's own technical guide) with its own unanswerables."""
    report = evaluate(service_over_guide, load_questions(GUIDE_QUESTIONS))
    assert report.answerable == 18 and report.unanswerable == 8
    assert report.sentence_hit >= 0.83
    assert report.quote_hit >= 0.38  # measured 8 of 18 in bold and right
    assert report.answer_on_first_page >= 0.94
    assert report.false_answer_rate <= 0.10  # measured 0 of 8
    assert report.false_refusal_rate <= 0.05


@pytest.mark.parametrize("name", [SEED_QUESTIONS.name, OWN_QUESTIONS.name])
def test_rerank_is_at_least_as_good_as_each_retriever_alone(
    comparisons: dict[str, dict[str, EvalReport]], name: str
) -> None:
    """Refusals are left out: each mode's threshold sits at its own point of the trade-off."""
    reports = comparisons[name]
    best = reports["rerank"].metrics()
    for baseline in ("dense", "bm25"):
        other = reports[baseline].metrics()
        for metric in QUALITY:
            assert best[metric] >= other[metric], (baseline, metric)
        assert best["false_refusal_rate"] <= other["false_refusal_rate"]


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


def test_first_page_counts_the_context_of_every_quote() -> None:
    quotes = [
        ShownQuote("The headline.", "", "Written by Ayesha Khan.", "a", 0.9),
        ShownQuote("Other text.", "Earlier, in Lachin.", "", "b", 0.5),
    ]
    assert first_page_holds(quotes, ["Ayesha Khan"])
    assert first_page_holds(quotes, ["in lachin"])
    assert not first_page_holds(quotes, ["Baku"])
    assert not first_page_holds([], ["Ayesha Khan"])
