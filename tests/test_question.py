"""Questions as chats deliver them: invisible characters and chat markup change nothing."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quoth.retrieval import AnsweringService, QuestionError
from quoth.retrieval.evaluation import load_questions
from quoth.retrieval.question import EMPTY_QUESTION, clean_question, normalise_question

from .conftest import SEED_QUESTIONS

INVISIBLE = [
    "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u200e", "\u200f", "\u202a", "\u202e",
    "\u2066", "\u2069", "\u00ad", "\u180e", "\ufe0f", "\ufe00", "\U000e0100", "\x00", "\x1b",
    "\x7f", "\ue000", "\U000f0000", " ", "\n", "\t", "\u3000", "\u00a0",
]  # fmt: skip
MARKUP: list[tuple[str, str]] = [
    ("**", "**"), ("__", "__"), ("*", "*"), ("_", "_"), ("~~", "~~"), ("||", "||"),
    ("`", "`"), ("```", "```"), ("> ", ""), (">>> ", ""),
]  # fmt: skip
CHAT_TOKENS = [
    "@everyone", "@here", "<@123>", "<@!4567>", "<@&89>", "<#1011>", "<:wave:1213>",
    "<a:dance:1415>", "/ask@quothbot", "@quothbot", "\u200b", "\u202e",
]  # fmt: skip
SEED = [item.question for item in load_questions(SEED_QUESTIONS)]


def wrap(question: str, rng: random.Random, tokens: list[str] = CHAT_TOKENS) -> str:
    """The question with random markup around some of its words and chat tokens around it."""
    words = []
    for word in question.split():
        if rng.random() < 0.3:
            opening, closing = rng.choice(MARKUP[:8])
            word = f"{opening}{word}{closing}"
        words.append(word)
    before = rng.sample(tokens, rng.randint(0, 3))
    after = rng.sample(tokens, rng.randint(0, 2))
    opening, closing = rng.choice(MARKUP)
    body = f"{opening}{' '.join(words)}{closing}"
    return " ".join([*before, body, *after])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(INVISIBLE), min_size=1, max_size=40).map("".join))
def test_only_invisible_characters_ask_for_a_question(text: str) -> None:
    with pytest.raises(QuestionError, match=EMPTY_QUESTION):
        clean_question(text, 500)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(SEED), st.randoms(use_true_random=False))
def test_markup_around_a_question_normalises_to_the_question(
    question: str, rng: random.Random
) -> None:
    assert normalise_question(wrap(question, rng), ["quothbot"]) == normalise_question(question)


def test_invisible_characters_inside_words_are_dropped() -> None:
    assert normalise_question("who\u200b met in La\u200dchin\ufe0f?") == "who met in Lachin?"
    assert normalise_question("ｗｈｏ met in Ｌａｃｈｉｎ？") == "who met in Lachin?"  # NFKC


def test_words_that_look_like_markup_are_kept() -> None:
    assert normalise_question("is 5 * 3 > 14 for snake_case_names?") == (
        "is 5 * 3 > 14 for snake_case_names?"
    )
    assert normalise_question("what did @someone_else post?") == "what did @someone_else post?"
    assert normalise_question("> quoted\n>>> also **bold** `x`") == "quoted also bold x"


def test_the_bot_s_own_mention_goes_only_when_named() -> None:
    assert normalise_question("@QuothBot who met?", ["quothbot"]) == "who met?"
    assert normalise_question("@quothbotx who met?", ["quothbot"]) == "@quothbotx who met?"


def test_the_service_answers_wrapped_seed_questions_as_the_plain_ones(
    service: AnsweringService,
) -> None:
    """The service knows no bot name (the adapters remove their own mention first)."""
    rng = random.Random(18)
    tokens = [token for token in CHAT_TOKENS if token != "@quothbot"]
    for question in SEED:
        wrapped = wrap(question, rng, tokens)
        plain, marked = service.answer(question), service.answer(wrapped)
        assert marked.question == plain.question
        assert marked.answered == plain.answered, wrapped
        assert [q.sentence for q in marked.quotes] == [q.sentence for q in plain.quotes], wrapped


def test_the_service_refuses_blank_looking_questions(service: AnsweringService) -> None:
    for text in ("\u200b", "\u200d\ufeff", "\u200e\u202e", "<@1> **", "||\u2060||"):
        with pytest.raises(QuestionError, match=EMPTY_QUESTION):
            service.answer(text)
