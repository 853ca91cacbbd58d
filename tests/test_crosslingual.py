"""Questions in other languages, answered from the English reference articles with the
original sentences quoted: real multilingual model, real index, one preparation per run."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from quoth import runtime
from quoth.index import Embedder
from quoth.index.multilingual_cache import VectorCache
from quoth.index.multilingual_embedder import MODEL_NAME
from quoth.language import detect
from quoth.retrieval import AnsweringService
from quoth.retrieval.evaluation import contains_evidence, evaluate, load_questions

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


RUSSIAN_ARTICLE = """Новый мост в Порт-Меридиане

Городской совет Порт-Меридиана во вторник проголосовал за замену старого разводного моста \
через канал Велл. Новый мост обойдётся в 48 млн евро, сообщила председатель совета \
Ингрид Сольванг. Строительство начнётся в мае, а открыть мост планируют весной 2029 г. \
На время работ между причалами будет каждые двадцать минут ходить бесплатный паром.
"""
URDU_ARTICLE = """پورٹ میریڈین میں نیا پل

پورٹ میریڈین کی کونسل نے منگل کو پرانے پل کی جگہ نیا پل بنانے کی منظوری دی۔ \
نئے پل پر چار کروڑ اسی لاکھ یورو لاگت آئے گی۔ تعمیر مئی میں شروع ہو گی۔ \
کام کے دوران ہر بیس منٹ بعد ایک مفت فیری چلے گی۔
"""


def test_articles_in_other_languages_are_split_and_quoted_in_their_language(
    tmp_path: Path, embedder: Embedder
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "most.txt").write_text(RUSSIAN_ARTICLE, encoding="utf-8")
    (corpus / "pul.txt").write_text(URDU_ARTICLE, encoding="utf-8")
    settings = settings_for(tmp_path / "index", corpus, other_languages=True)
    runtime.reindex(settings, embedder)
    service = runtime.open_service(settings, embedder)
    sentences = {
        service.index.articles[doc].text[start:end]
        for doc, start, end in map(service.index.sentence_span, range(service.index.sentence_count))
    }
    assert "کام کے دوران ہر بیس منٹ بعد ایک مفت فیری چلے گی۔" in sentences  # split at "۔"
    assert any(s.startswith("Строительство начнётся в мае") for s in sentences)  # not at "г."
    answer = service.answer("Когда начнётся строительство моста?")
    assert answer.answered and answer.quotes[0].sentence.startswith("Строительство начнётся")
    urdu = service.answer("نئے پل پر کتنی لاگت آئے گی؟")
    assert urdu.answered and urdu.quotes[0].sentence.startswith("نئے پل پر چار کروڑ")
    # Any Russian sentence scores high for a Russian question: measured against Russian
    # background sentences, a question the article does not answer is still refused.
    assert not service.answer("Кто архитектор нового моста?").answered


def test_the_cache_keeps_both_views_and_forgets_an_older_format(
    multilingual_service: AnsweringService, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    crosslingual = multilingual_service.crosslingual
    assert crosslingual is not None
    older = tmp_path / f"{MODEL_NAME}.npz"
    np.savez(older, keys=np.array([b"x" * 16], dtype="S16"), vectors=np.zeros((1, 384)))
    cache = VectorCache(tmp_path, MODEL_NAME)
    texts = ["Baku is the capital of Azerbaijan.", "The bridge opens in 2029."]
    vectors, terms = (
        cache.vectors(texts, crosslingual.embedder),
        cache.terms(texts, crosslingual.embedder),
    )
    assert not older.exists() and len(list(tmp_path.glob("*.npz"))) == 2
    caplog.set_level(logging.INFO, "quoth.crosslingual")
    more = [*texts, "A third sentence."]
    again_vectors, again_terms = (
        cache.vectors(more, crosslingual.embedder),
        cache.terms(more, crosslingual.embedder),
    )
    assert [r.getMessage() for r in caplog.records] == [
        "embedding 1 new texts for questions in other languages"
    ] * 2
    np.testing.assert_allclose(again_vectors[:2], vectors, atol=1e-3)  # kept as float16
    assert (again_terms.indices[:2] == terms.indices).all()
    assert np.count_nonzero(again_terms.weights, axis=1).min() > 0


def test_evaluation_breaks_figures_down_by_language(
    multilingual_service: AnsweringService, tmp_path: Path
) -> None:
    questions = tmp_path / "questions.jsonl"
    questions.write_text(
        "\n".join(
            json.dumps(item, ensure_ascii=False)
            for item in (
                {
                    "id": "a",
                    "question": "Какой турецкий военный корабль прибыл в Карачи?",
                    "answerable": True,
                    "evidence": ["TCG Büyükada"],
                    "language": "ru",
                },
                {"id": "b", "question": "Кто выиграл чемпионат мира 2022?", "answerable": False},
                {
                    "id": "c",
                    "question": "Which water treaty did India suspend?",
                    "answerable": True,
                },
            )
        ),
        encoding="utf-8",
    )
    report = evaluate(multilingual_service, load_questions(questions))
    languages = report.by_language()
    assert list(languages) == ["ru", "en"]  # the file's label, else the detected language
    assert (languages["ru"].questions, languages["ru"].quote_hit) == (2, 1.0)
    assert languages["ru"].refusal_accuracy == 1.0
    assert report.to_json()["by_language"]["en"]["answerable"] == 1
