"""Follow-ups where people ask: the real PTB and discord.py bots against their stand-ins, a
conversation carried from one replica to another over PostgreSQL, and what is kept."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from quoth import metrics
from quoth.bot.conversation import Conversation, Person, conversation_key
from quoth.bot.discord_bot import DiscordBot
from quoth.bot.library import Library
from quoth.retrieval import AnsweringService
from quoth.state.postgres import PostgresState

from .conftest import fresh_database, settings_for
from .discord_stand_in import BOT_USER, DiscordStandIn
from .telegram_stand_in import BotApiStandIn
from .test_discord_bot import ErrorLog, discord_settings
from .test_discord_bot import running_bot as running_discord_bot
from .test_telegram import GROUP, USER, Harness, bot_settings, running_bot

CHIEF = "Who is Pakistan's Army Chief?"
LACHIN = "Did he go to Lachin too?"
TREATY = "Which water treaty did India suspend?"
SIGNED = "When was it signed?"


@pytest.fixture
async def harness(
    telegram_api: BotApiStandIn, service: AnsweringService, shared_index_dir: Path
) -> AsyncIterator[Harness]:
    settings = bot_settings(telegram_api, settings_for(shared_index_dir))
    async with running_bot(telegram_api, settings, service) as running:
        yield running


def follow_ups(platform: str, outcome: str) -> float:
    labels = {"platform": platform, "outcome": outcome}
    return metrics.REGISTRY.get_sample_value("quoth_follow_ups_total", labels) or 0.0


async def test_telegram_reads_a_follow_up_in_its_private_chat_and_says_how(
    harness: Harness,
) -> None:
    before = follow_ups("telegram", "resolved")
    await harness.ask(CHIEF)
    reply = await harness.ask(LACHIN)
    assert reply.markup.startswith("<i>Read as: Did Asim Munir go to Lachin too?</i>\n")
    assert "accompanied the PM" in reply.text
    assert follow_ups("telegram", "resolved") == before + 1
    other = await harness.ask(LACHIN, chat=USER + 1, user=USER + 1)  # another person's chat
    assert "Read as" not in other.text


async def test_telegram_reply_to_an_older_answer_makes_it_the_context(harness: Harness) -> None:
    server = harness.server
    treaty = await harness.ask(TREATY)
    await harness.ask(CHIEF)  # the conversation moved on
    replied = server.messages[(USER, treaty.message_id)]
    message = server.push_message(USER, USER, SIGNED, reply_to=replied)
    reply = await server.reply_to(message)
    assert "Read as: When was" in reply.text and "Indus Waters Treaty" in reply.text
    assert "signed in 1960" in reply.text


async def test_telegram_new_forgets_and_a_reply_to_someone_else_is_read_as_sent(
    harness: Harness,
) -> None:
    server = harness.server
    await harness.ask(CHIEF)
    forgotten = await harness.ask("/new")
    assert "Starting over" in forgotten.text
    assert "Read as" not in (await harness.ask(LACHIN)).text
    await harness.ask(CHIEF)
    someone = server.push_message(GROUP, USER + 7, "I think he was there")
    elsewhere = server.push_message(GROUP, USER, f"@{server.username} {LACHIN}", reply_to=someone)
    assert "Read as" not in (await server.reply_to(elsewhere)).text


async def test_telegram_groups_keep_each_person_and_each_topic_apart(harness: Harness) -> None:
    server = harness.server
    mention = f"@{server.username} "
    await server.reply_to(server.push_message(GROUP, USER, mention + CHIEF))
    neighbour = server.push_message(GROUP, USER + 1, mention + LACHIN)
    assert "Read as" not in (await server.reply_to(neighbour)).text  # not the asker's context
    own = server.push_message(GROUP, USER, mention + LACHIN)
    assert "Read as: Did Asim Munir" in (await server.reply_to(own)).text
    in_topic = server.push_message(GROUP, USER, mention + TREATY, topic=5)
    await server.reply_to(in_topic)
    other_topic = server.push_message(GROUP, USER, mention + SIGNED, topic=6)
    assert "Read as" not in (await server.reply_to(other_topic)).text
    same_topic = server.push_message(GROUP, USER, mention + SIGNED, topic=5)
    assert "Indus Waters Treaty" in (await server.reply_to(same_topic)).text.split("\n")[0]


async def test_inline_mode_stays_stateless(harness: Harness) -> None:
    server = harness.server
    await harness.ask(CHIEF)
    answered = await server.inline_answer(server.push_inline_query(USER, LACHIN))
    assert all("Read as" not in r["input_message_content"]["message_text"]
               for r in answered["results"])  # fmt: skip


@pytest.fixture
async def discord_bot(
    discord_api: DiscordStandIn, service: AnsweringService, shared_index_dir: Path
) -> AsyncIterator[DiscordBot]:
    errors = ErrorLog()
    logging.getLogger().addHandler(errors)
    settings = discord_settings(discord_api, settings_for(shared_index_dir))
    try:
        async with running_discord_bot(discord_api, settings, service) as running:
            yield running
    finally:
        logging.getLogger().removeHandler(errors)
    assert not errors.records, [r.getMessage() for r in errors.records]
    assert not discord_api.rejected, discord_api.rejected


async def test_discord_reads_mentions_and_replies_in_context(
    discord_bot: DiscordBot, discord_api: DiscordStandIn
) -> None:
    server, user = discord_api, 555000000000000009

    async def mention(text: str, reply_to: int | None = None) -> tuple[str, int]:
        asked = await server.push_message(
            f"<@{BOT_USER}> {text}", user, mentions=[BOT_USER], reply_to=reply_to
        )
        sent = await server.reply(asked)
        return sent.shown, sent.message_id

    treaty, treaty_id = await mention(TREATY)
    assert "Indus Waters Treaty" in treaty
    await mention(CHIEF)
    shown, _ = await mention(LACHIN)
    assert shown.startswith("*Read as: Did Asim Munir go to Lachin too?*\n")  # italics
    replied, _ = await mention(SIGNED, reply_to=treaty_id)  # the older answer is the context
    assert "Read as: When was" in replied and "1960" in replied
    forgotten = await server.reply(await server.push_command("new", {}, user_id=user))
    assert "Starting over" in forgotten.shown
    shown, _ = await mention(LACHIN)
    assert "Read as" not in shown


async def test_a_follow_up_reaching_another_replica_is_read_in_context(
    postgres_url: str, service: AnsweringService, shared_index_dir: Path
) -> None:
    url = fresh_database(postgres_url, "followup_replicas")
    settings = settings_for(shared_index_dir)
    states = [PostgresState(url, 100), PostgresState(url, 100)]
    first, second = (Conversation(Library(settings, service, state)) for state in states)
    person = Person("telegram", 31337)
    try:
        asked = await first.ask(person, CHIEF, "private", where="31337:0")
        assert asked.answer is not None and asked.answer.read_as is None
        followed = await second.ask(person, LACHIN, "private", where="31337:0")
        assert followed.answer is not None
        assert followed.answer.read_as == "Did Asim Munir go to Lachin too?"
    finally:
        for state in states:
            state.close()


async def test_the_context_keeps_no_ids_and_logs_no_text(
    service: AnsweringService, shared_index_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    library = Library(settings_for(shared_index_dir), service)
    conversation = Conversation(library)
    person = Person("telegram", 424242)
    caplog.set_level(logging.DEBUG)
    await conversation.ask(person, CHIEF, "private", where="424242:0")
    await conversation.ask(person, LACHIN, "private", where="424242:0")
    key = conversation_key(person, "424242:0")
    assert "424242" not in key and len(library.state.context(key)) == 2
    logged = " ".join(record.getMessage() for record in caplog.records)
    assert "Lachin" not in logged and "Asim" not in logged and "follow_up=pronoun" in logged


async def test_a_flood_of_hostile_follow_ups_is_answered_as_sent_and_stays_bounded(
    service: AnsweringService, shared_index_dir: Path
) -> None:
    library = Library(settings_for(shared_index_dir, rate_limit_per_minute=1000), service)
    conversation = Conversation(library)
    hostile = ["he " * 160 + "?", "<b>it</b> there then?", "What about ?", "And \u202e?"]
    replies = await asyncio.gather(
        *(
            conversation.ask(Person("discord", user), hostile[user % 4], "dm", where=str(user))
            for user in range(40)
        )
    )
    assert all(reply.answer is not None or reply.text for reply in replies)
    assert all(
        reply.answer is None or reply.answer.read_as is None for reply in replies
    )  # no context: as sent
