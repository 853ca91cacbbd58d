"""Questions in other languages, answered from the English reference articles with the
original sentences quoted: real multilingual model, real index, one preparation per run."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from quoth import runtime
from quoth.index import Embedder
from quoth.language import detect
from quoth.retrieval import AnsweringService
from quoth.retrieval.evaluation import contains_evidence

from .conftest import settings_for


@pytest.fixture(scope="session")
def multilingual_service(shared_index_dir: Path, embedder: Embedder) -> Iterator[AnsweringService]:
    yield runtime.open_service(settings_for(shared_index_dir, other_languages=True), embedder)


@pytest.mark.parametrize(
    ("text", "code", "english"),
    [
        ("Кто министр иностранных дел Армении?", "ru", False),
        ("Hindistan hangi su anlaşmasını askıya aldı?", "tr", False),
        ("Pakistan və Azərbaycan diplomatik əlaqələri nə vaxt qurub?", "az", False),
        ("باکو کی آبادی کتنی ہے؟", "ur", False),
        ("Which water treaty did India suspend?", "en", True),
    ],
)
def test_the_question_language_is_detected(text: str, code: str, english: bool) -> None:
    found = detect(text)
    assert (found.code, found.english) == (code, english)


def test_an_english_question_full_of_foreign_names_stays_english() -> None:
    """The detector reads it as Turkish, unsure; Latin script and unsure means English."""
    found = detect("When did Heydar Aliyev visit Pakistan?")
    assert found.english and found.probability < 0.9


@pytest.mark.parametrize(
    ("question", "evidence"),
    [
        ("Какой турецкий военный корабль прибыл в Карачи?", "TCG Büyükada"),
        ("Hindistan hangi su anlaşmasını askıya aldı?", "Indus Waters Treaty"),
        ("Pakistan və Azərbaycan diplomatik əlaqələri nə vaxt qurub?", "diplomatic ties in 1992"),
        ("پاکستان کے مطابق اس نے کتنے بھارتی لڑاکا طیارے مار گرائے؟", "six Indian fighter jets"),
    ],
)
def test_questions_in_other_languages_get_the_english_sentence(
    multilingual_service: AnsweringService, question: str, evidence: str
) -> None:
    answer = multilingual_service.answer(question)
    assert answer.answered and answer.language != "en"
    assert contains_evidence(answer.quotes[0].sentence, [evidence])


@pytest.mark.parametrize(
    "question", ["Кто выиграл чемпионат мира по футболу 2022 года?", "فرانس کا دارالحکومت کیا ہے؟"]
)
def test_what_the_articles_do_not_say_is_refused_in_any_language(
    multilingual_service: AnsweringService, question: str
) -> None:
    assert not multilingual_service.answer(question).answered


def test_english_questions_keep_the_english_pipeline(
    multilingual_service: AnsweringService, service: AnsweringService
) -> None:
    question = "Which Turkish naval ship arrived in Karachi?"
    across, english = multilingual_service.answer(question), service.answer(question)
    assert across.language == "en" and across.quotes == english.quotes


def test_a_rebuild_embeds_only_new_text(
    multilingual_service: AnsweringService,
    shared_index_dir: Path,
    embedder: Embedder,
    caplog: pytest.LogCaptureFixture,
) -> None:
    crosslingual = multilingual_service.crosslingual
    assert crosslingual is not None
    caplog.set_level(logging.INFO, "quoth.crosslingual")
    again = runtime.open_index(settings_for(shared_index_dir), embedder.name)  # another object
    crosslingual.prepare(again)
    assert crosslingual.ready(again)
    assert not [r for r in caplog.records if "embedding" in r.getMessage()]  # all cached
