"""Property-based tests: hostile questions and hostile article text, on every renderer.

The invariant is the platforms' own acceptance: every reply passes the validators of the
Telegram and Discord stand-ins (well-formed HTML, escaped Markdown, no pings, within every
limit), and nothing but a :class:`QuestionError` (a polite "please rephrase") ever escapes.

CI runs a few hundred cases. The dedicated run sets ``QUOTH_HOSTILE_EXAMPLES`` (for example
``QUOTH_HOSTILE_EXAMPLES=10000 pytest tests/test_hostile_input.py``) and every property then
tries that many cases; the question path, which runs the real models, tries a fifth as many.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quoth.bot import discord_render as dr
from quoth.bot import telegram_html as th
from quoth.bot.conversation import SOMETHING_WRONG
from quoth.bot.text import visible_length
from quoth.index import ArticleRecord
from quoth.retrieval import Answer, AnsweringService, AnswerState, QuestionError, Quote

from .conftest import settings_for
from .discord_stand_in import DiscordStandIn, validate_message
from .telegram_stand_in import BotApiStandIn, parse_telegram_html
from .test_discord_bot import TOKEN as DISCORD_TOKEN
from .test_discord_bot import discord_settings
from .test_discord_bot import running_bot as running_discord
from .test_telegram import bot_settings, running_bot

EXAMPLES = int(os.environ.get("QUOTH_HOSTILE_EXAMPLES", "150"))
PIECES = [
    "<b>", "</blockquote>", "<a href='x'>", "&amp;", "&", "&#0;", "<", ">", '"', "**", "__",
    "~~", "||", "`", "```", "[x](https://evil.example)", "](", "@everyone", "@here",
    "<@123456789012345678>", "<@!123456789012345678>", "<@&123456789012345678>", "<#1>",
    "\u202e", "\u200f", "\u200b", "🇵🇰", "👨‍👩‍👧", "\x00", "\x07", "\x1b[31m", "\r\n", "\n# ",
    "\n- ", "\n> ", "\n1. ", "\\", "مرحبا", "שלום", "ﷺ", "\ufeff", " ", "\t",
]  # fmt: skip
repeated = st.builds(
    lambda unit, times: unit * times, st.text(min_size=1, max_size=40), st.integers(1, 400)
)  # up to 16,000 characters: past every platform limit
hostile_text = st.one_of(
    st.text(max_size=80),
    st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=8)), max_size=30).map("".join),
    repeated,
)
hostile_url = st.one_of(
    st.none(),
    st.just("https://e.org/a (b)<c>\"d'"),
    hostile_text.map(lambda text: "https://e.org/" + text),
    hostile_text,
)
quotes = st.builds(
    Quote,
    passage_id=st.just("p"),
    document_id=hostile_text,
    title=hostile_text,
    url=hostile_url,
    published=st.one_of(st.none(), hostile_text),
    score=st.just(0.9),
    sentence=hostile_text,
    before=hostile_text,
    after=hostile_text,
    passage=st.just(""),
    start=st.just(0),
    end=st.just(1),
)
answers = st.builds(
    Answer,
    question=hostile_text,
    state=st.sampled_from(AnswerState),
    quotes=st.lists(quotes, max_size=10),
    read_as=st.one_of(st.none(), hostile_text, repeated),  # a follow-up's "Read as" line
)
articles = st.builds(
    ArticleRecord,
    id=hostile_text,
    title=hostile_text,
    path=st.just("a.txt"),
    hash=st.just("h"),
    text=hostile_text,
    url=hostile_url,
    published=st.one_of(st.none(), hostile_text),
)
PROPERTY = settings(max_examples=EXAMPLES, deadline=None)


def accepted_by_telegram(markup: str) -> None:
    visible = parse_telegram_html(markup)  # raises like Telegram's "can't parse entities"
    assert visible.strip(), "Telegram refuses empty messages"
    assert visible_length(visible) <= th.MESSAGE_LIMIT


def accepted_by_discord(reply: dr.Reply) -> None:
    payload: dict[str, Any] = {"allowed_mentions": dr.NO_MENTIONS.to_dict()}
    if reply.content is not None:
        payload["content"] = reply.content
    if reply.embed is not None:
        payload["embeds"] = [reply.embed.to_dict()]
    validate_message(payload)  # raises like Discord's "Invalid Form Body"


@PROPERTY
@given(answers)
def test_any_answer_renders_for_both_platforms(answer: Answer) -> None:
    accepted_by_telegram(th.render_answer(answer, "quoth_bot"))
    accepted_by_discord(dr.render_answer(answer))


@PROPERTY
@given(articles, st.integers(0, 5))
def test_any_article_and_source_list_renders(article: ArticleRecord, page: int) -> None:
    accepted_by_telegram(th.render_article(article))
    accepted_by_telegram(th.render_sources([article] * 12, "quoth_bot", page, 10))
    accepted_by_discord(dr.render_article(article))
    accepted_by_discord(dr.render_sources([article] * 45, page, 20))


@settings(
    max_examples=max(30, EXAMPLES // 5),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(hostile_text)
def test_any_question_is_answered_or_politely_refused(
    service: AnsweringService, question: str
) -> None:
    try:
        answer = service.answer(question)
    except QuestionError as error:
        accepted_by_discord(dr.text_reply(str(error)))
        return
    accepted_by_telegram(th.render_answer(answer, "quoth_bot"))
    accepted_by_discord(dr.render_answer(answer))


def hostile_messages(count: int, seed: int = 7) -> list[str]:
    """Messages a hostile user could send: injection pieces, controls, RTL, emoji, floods."""
    chooser = random.Random(seed)
    alphabet = [*PIECES, "a", "é", "Karachi", "?", " ", "ship"]
    messages = ["".join(chooser.choices(alphabet, k=chooser.randint(1, 60))) for _ in range(count)]
    messages += ["x" * 4096, "🇵🇰" * 2100, "<b>" * 1500, "\u202e" + "@everyone " * 300]
    return [m for m in messages if m.strip() and "\x00" not in m]  # Telegram drops NULs


async def test_hostile_messages_through_the_telegram_bot(
    telegram_api: BotApiStandIn, service: AnsweringService, shared_index_dir: Path
) -> None:
    settings = bot_settings(
        telegram_api, settings_for(shared_index_dir), rate_limit_per_minute=1000
    )
    async with running_bot(telegram_api, settings, service) as harness:  # fails on handler errors
        for number, text in enumerate(hostile_messages(60)):
            reply = await harness.ask(text, chat=3000 + number, user=3000 + number)
            assert reply.text and reply.text != SOMETHING_WRONG
        still = await harness.ask("When did Heydar Aliyev visit Pakistan?")
        assert "1996" in still.text


async def test_hostile_messages_through_the_discord_bot(
    service: AnsweringService, shared_index_dir: Path
) -> None:
    server = DiscordStandIn(DISCORD_TOKEN)
    await server.start()
    settings = discord_settings(server, settings_for(shared_index_dir), rate_limit_per_minute=1000)
    try:
        async with running_discord(server, settings, service):
            for number, text in enumerate(hostile_messages(60)):
                asked = await server.push_message(text[:1900], 4000 + number, direct=True)
                reply = await server.reply(asked)
                assert reply.shown and "went wrong" not in reply.shown
            still = await server.push_message(
                "When did Heydar Aliyev visit Pakistan?", 1, direct=True
            )
            assert "1996" in (await server.reply(still)).shown
        assert not server.rejected, server.rejected  # every reply passed Discord's checks
    finally:
        await server.stop()
