"""Telegram HTML rendering: escaping, limits, and cuts that never break markup."""

from __future__ import annotations

from dataclasses import replace

import pytest

from quoth.bot import telegram_html as th
from quoth.bot.text import visible_length
from quoth.index import IndexData
from quoth.messages import NOT_IN_SOURCES
from quoth.retrieval import Answer, AnsweringService, AnswerState
from quoth.retrieval.phrase import MarkedPhrase

from .conftest import make_quote as quote
from .telegram_stand_in import ParseEntitiesError, parse_telegram_html

HOSTILE = '<b>bold</b> & <a href="x">link</a> </blockquote> 🇵🇰 مرحبا \u202e \x07 &amp;'


def test_real_answer_renders_valid_html(service: AnsweringService) -> None:
    answer = service.answer("When did Heydar Aliyev visit Pakistan?")
    markup = th.render_answer(answer, "quoth_bot")
    visible = parse_telegram_html(markup)
    assert answer.quotes[0].sentence in visible
    assert markup.startswith("<blockquote>")


def test_hostile_article_text_is_escaped() -> None:
    answer = Answer(
        "q",
        AnswerState.ANSWER,
        [quote(HOSTILE, HOSTILE, HOSTILE, title=HOSTILE, url='https://e.org/?a=1&b="2"')],
    )
    markup = th.render_answer(answer, "quoth_bot")
    visible = parse_telegram_html(markup)
    assert HOSTILE in visible
    assert 'href="https://e.org/?a=1&amp;b=%222%22"' in markup


def test_answer_phrase_underlined_inside_bold_and_escaped() -> None:
    sentence = "Fares rose to <b>5</b> & more in 1931."
    start = sentence.index("<b>")
    phrase = MarkedPhrase("<b>5</b> & more", start, start + len("<b>5</b> & more"), 0.9)
    answer = Answer(
        "q", AnswerState.ANSWER, [replace(quote(sentence, "Before.", "After."), phrase=phrase)]
    )
    markup = th.render_answer(answer, "quoth_bot")
    assert "<b>Fares rose to <u>&lt;b&gt;5&lt;/b&gt; &amp; more</u> in 1931.</b>" in markup
    assert sentence in parse_telegram_html(markup)
    cut = th.render_answer(answer, "quoth_bot", limit=40)  # the phrase cut off: none shown
    assert "<u>" not in cut and parse_telegram_html(cut)


@pytest.mark.parametrize("count", [1, 3, 10])
def test_long_quotes_are_trimmed_within_the_limit(count: int) -> None:
    long = "word " * 3000 + "🇦🇿" * 500
    answer = Answer(
        "q", AnswerState.ANSWER, [quote(long, long, long, title=long) for _ in range(count)]
    )
    markup = th.render_answer(answer, "quoth_bot")
    visible = parse_telegram_html(markup)
    assert visible_length(visible) <= th.MESSAGE_LIMIT
    assert visible.count("— ") == count  # every quote keeps its source line
    assert "…" in visible


def test_deep_link_keys_are_safe_and_resolvable(shared_index: IndexData) -> None:
    for article in shared_index.articles:
        key = th.source_key(article.id)
        assert th.find_article(shared_index.articles, key) is article
    odd = th.source_key("sub--naïve report.v2")
    assert odd.startswith("h") and len(odd) <= 60 and odd.isalnum()
    assert th.source_link("bot", "a b", "https://x.org") == "https://x.org"
    assert th.source_link("bot", "abc", None) == "https://t.me/bot?start=src_abc"


def test_article_and_sources_fit() -> None:
    from quoth.index import ArticleRecord

    record = ArticleRecord(id="a", title="<T>", path="a.txt", hash="h", text="x & y " * 2000)
    assert visible_length(parse_telegram_html(th.render_article(record))) <= th.MESSAGE_LIMIT
    listing = th.render_sources([record] * 25, "bot", page=2, per_page=10)
    visible = parse_telegram_html(listing)
    assert "page 3/3" in visible and "21. <T>" in visible and "26." not in visible


def test_refusal_text() -> None:
    assert th.render_answer(Answer("q", AnswerState.REFUSED), "bot") == th.escape(NOT_IN_SOURCES)


def test_only_the_first_quote_is_unfolded() -> None:
    answer = Answer(
        "q", AnswerState.ANSWER, [quote(f"Sentence {n}.", title=f"T{n}") for n in range(3)]
    )
    markup = th.render_answer(answer, "quoth_bot")
    assert markup.startswith("<blockquote>") and markup.count("<blockquote>") == 1
    assert markup.count("<blockquote expandable>") == 2
    assert "Sentence 2." in parse_telegram_html(markup)  # valid for Telegram's parser
    with pytest.raises(ParseEntitiesError, match="expandable"):
        parse_telegram_html('<blockquote cite="x">q</blockquote>')


def test_the_link_preview_shows_the_first_source_on_the_web() -> None:
    from quoth.bot.telegram import link_preview

    on_web = Answer(
        "q", AnswerState.ANSWER, [quote("S.", url="https://news.example/a"), quote("T.")]
    )
    preview = link_preview(on_web)
    assert preview.url == "https://news.example/a" and not preview.is_disabled
    assert link_preview(
        Answer("q", AnswerState.ANSWER, [quote("S."), quote("T.", url="https://x.org")])
    ).is_disabled
    assert link_preview(Answer("q", AnswerState.REFUSED, [])).is_disabled
