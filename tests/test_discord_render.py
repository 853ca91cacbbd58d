"""Discord Markdown rendering: escaping, links, and Discord's length limits."""

from __future__ import annotations

from dataclasses import replace

import pytest

from quoth.bot import discord_render as dr
from quoth.bot.text import visible_length
from quoth.index import ArticleRecord
from quoth.messages import NOT_IN_SOURCES
from quoth.retrieval import Answer, AnsweringService, AnswerState
from quoth.retrieval.phrase import MarkedPhrase

from .conftest import make_quote

HOSTILE = (
    "**b** __u__ ~~s~~ ||x|| `c` [l](https://evil.example) @everyone @here "
    "<@123456789012345678> <@&123456789012345678> \\ 🇵🇰 مرحبا \u202e \x07"
)


def test_real_answer_renders_quotes_with_bold_sentence(service: AnsweringService) -> None:
    answer = service.answer("When did Heydar Aliyev visit Pakistan?")
    reply = dr.render_answer(answer)
    assert reply.content is None and reply.embed is not None
    description = reply.embed.description or ""
    assert description.startswith("> ")
    first = answer.quotes[0]
    if first.phrase is None:
        assert f"**{dr.escape(first.sentence)}" in description
    else:  # the answer phrase underlined inside the bold sentence
        assert f"__{dr.escape(first.phrase.text)}__" in description
    assert description.count("\n— ") == len(answer.quotes)


def test_answer_phrase_underlined_inside_the_bold_sentence_and_escaped() -> None:
    sentence = "The toll was set at **5** __euros__ by @everyone in 1931."
    start = sentence.index("**5**")
    phrase = MarkedPhrase("**5** __euros__", start, start + len("**5** __euros__"), 0.9)
    quote = replace(make_quote(sentence, "Before.", "After."), phrase=phrase)
    description = dr.render_answer(Answer("q", AnswerState.ANSWER, [quote])).embed.description or ""  # type: ignore[union-attr]
    lead = dr.escape("The toll was set at ")
    tail = dr.escape(" by @everyone in 1931.")
    assert f"**{lead}__{dr.escape(phrase.text)}__{tail}**" in description
    assert "@everyone" not in description.replace(dr.escape("@everyone"), "")
    long = replace(quote, sentence=sentence * 200)  # cut to fit: nothing underlined
    cut = dr.render_answer(Answer("q", AnswerState.ANSWER, [long])).embed.description or ""  # type: ignore[union-attr]
    assert "__" + dr.escape(phrase.text) not in cut


def test_escape_neutralises_markdown_and_mentions() -> None:
    escaped = dr.escape(HOSTILE)
    for raw in ("**b**", "||x||", "`c`", "[l](", "@everyone", "@here", "<@1", "<@&"):
        assert raw not in escaped
    assert "\x07" not in escaped and "مرحبا" in escaped and "🇵🇰" in escaped
    assert dr.escape("# title\n- item\n> quote\n3. third") == (
        "\\# title\n\\- item\n\\> quote\n3\\. third"
    )
    assert dr.escape("a - b # c > d 3. e") == "a - b # c > d 3. e"  # only at a line start


@pytest.mark.parametrize("count", [1, 3, 10])
def test_long_hostile_quotes_fit_the_embed(count: int) -> None:
    long = (HOSTILE + " word ") * 200
    quotes = [make_quote(long, long, long, title=long, url="https://e.org/x") for _ in range(count)]
    reply = dr.render_answer(Answer("q", AnswerState.ANSWER, quotes))
    assert reply.embed is not None
    description = reply.embed.description or ""
    assert visible_length(description) <= dr.DESCRIPTION_LIMIT
    assert description.count("\n— [") == count  # every quote keeps its linked source
    assert "@everyone" not in description and "…" in description


def test_refusal_is_plain_text() -> None:
    reply = dr.render_answer(Answer("q", AnswerState.REFUSED))
    assert reply.embed is None and reply.content == dr.escape(NOT_IN_SOURCES)


def test_article_and_sources_fit() -> None:
    record = ArticleRecord(id="a_b", title=HOSTILE * 5, path="a.txt", hash="h", text=HOSTILE * 400)
    article = dr.render_article(record)
    assert article.embed is not None
    assert visible_length(article.embed.title or "") <= dr.TITLE_LIMIT
    assert visible_length(article.embed.description or "") <= dr.DESCRIPTION_LIMIT
    listing = dr.render_sources([record] * 45, page=2, per_page=20)
    assert listing.embed is not None and listing.embed.title == "My sources (45 articles, page 3/3)"
    lines = (listing.embed.description or "").splitlines()
    assert len(lines) == 5 and lines[0].startswith("41. **") and lines[0].endswith("`a_b`")
    assert visible_length(listing.embed.description or "") <= dr.DESCRIPTION_LIMIT
