"""The real discord.py client against the local Discord stand-in (REST + gateway)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from quoth import runtime
from quoth.bot import discord_render as dr
from quoth.bot.conversation import NOT_A_MODERATOR
from quoth.bot.discord_bot import DiscordBot
from quoth.bot.library import Library
from quoth.config import Settings, load_settings
from quoth.index import Embedder
from quoth.messages import NOT_IN_SOURCES
from quoth.retrieval import AnsweringService
from quoth.retrieval.question import EMPTY_QUESTION

from .conftest import settings_for
from .discord_stand_in import BOT_USER, MODERATOR_ROLE, TEST_TOKEN, DiscordStandIn
from .web_stand_in import PARAGRAPHS, news_page, serving

TOKEN = TEST_TOKEN
MODERATOR = 555000000000000001
USER = 555000000000000002


class ErrorLog(logging.Handler):
    """Collects errors that discord.py would otherwise only log (handler exceptions)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def error_log() -> Iterator[ErrorLog]:
    handler = ErrorLog()
    root = logging.getLogger()
    root.addHandler(handler)
    yield handler
    root.removeHandler(handler)


def discord_settings(server: DiscordStandIn, base: Settings, **extra: Any) -> Settings:
    return load_settings(
        **{
            **base.model_dump(exclude={"discord_token", "discord_api_url", "discord_gateway_url"}),
            "discord_token": TOKEN,
            "discord_api_url": server.api,
            "discord_gateway_url": server.gateway,
            "discord_moderator_ids": [MODERATOR],
            "discord_moderator_role": "Moderators",
            **extra,
        }
    )


@contextlib.asynccontextmanager
async def running_bot(
    server: DiscordStandIn, settings: Settings, service: AnsweringService, **kwargs: Any
) -> AsyncIterator[DiscordBot]:
    bot = DiscordBot(settings, Library(settings, service), guild_ready_timeout=0.1, **kwargs)
    await bot.start()
    try:
        yield bot
    finally:
        await bot.stop()


@pytest.fixture
def server(discord_api: DiscordStandIn) -> DiscordStandIn:
    return discord_api


@pytest.fixture
async def bot(
    server: DiscordStandIn, service: AnsweringService, shared_index_dir: Path, error_log: ErrorLog
) -> AsyncIterator[DiscordBot]:
    settings = discord_settings(server, settings_for(shared_index_dir))
    async with running_bot(server, settings, service) as running:
        yield running
    assert not error_log.records, [r.getMessage() for r in error_log.records]
    assert not server.rejected, server.rejected


@pytest.fixture
def own_settings(corpus_copy: Path, tmp_path: Path) -> Settings:
    """Settings over a writable copy of the corpus, for tests that change articles."""
    return settings_for(tmp_path / "idx", corpus_copy)


@pytest.fixture
def own_service(own_settings: Settings, embedder: Embedder) -> AnsweringService:
    runtime.reindex(own_settings, embedder)
    return runtime.open_service(own_settings, embedder)


@dataclass
class Own:
    """A bot's settings and service over a writable corpus copy (tests that add articles)."""

    settings: Settings
    service: AnsweringService
    corpus: Path


@pytest.fixture
def own(
    server: DiscordStandIn, own_settings: Settings, own_service: AnsweringService, corpus_copy: Path
) -> Own:
    return Own(discord_settings(server, own_settings), own_service, corpus_copy)


async def test_slash_commands_synced_at_start(bot: DiscordBot, server: DiscordStandIn) -> None:
    names = {command["name"] for command in server.commands}
    assert names == {
        "ask", "new", "sources", "source", "reindex", "stats", "gaps", "add", "remove",
        "follow", "unfollow", "feeds",
    }  # fmt: skip
    ask = next(c for c in server.commands if c["name"] == "ask")
    assert ask["options"][0]["name"] == "question" and ask["options"][0]["required"]


async def test_slash_ask_answered_with_quotes(bot: DiscordBot, server: DiscordStandIn) -> None:
    asked = await server.push_command(
        "ask", {"question": "Which Turkish naval ship arrived in Karachi?"}, user_id=USER
    )
    reply = await server.reply(asked)
    assert reply.route == "callback" and not reply.ephemeral
    description = reply.embed["description"]
    assert description.startswith("> ")
    assert "TCG Büyükada" in description
    bold = description.split("**")[1]  # the answering sentence is the bold one
    assert "Büyükada" in bold
    # the reference articles have no URL: the source line names the /source command
    assert "/source id:`" in description
    assert reply.payload["allowed_mentions"] == {"parse": []}
    assert server.callbacks[-1]["type"] == 4  # answered at once, no "thinking" deferral


async def test_titles_link_to_source_urls(
    server: DiscordStandIn, own: Own, error_log: ErrorLog
) -> None:
    article = own.corpus / "001_f864b6482b488930.txt"
    sidecar = article.with_name(f"{article.stem}.meta.json")
    sidecar.write_text('{"url": "https://news.example/a_(b) c", "title": "Naval [visit] *now*"}')
    async with running_bot(server, own.settings, own.service) as bot:
        await bot.library.reindex()
        asked = await server.push_command(
            "ask", {"question": "Which Turkish naval ship arrived in Karachi?"}, user_id=USER
        )
        description = (await server.reply(asked)).embed["description"]
    assert "— [Naval \\[visit\\] \\*now\\*](https://news.example/a_%28b%29%20c)" in description
    assert not error_log.records and not server.rejected


async def test_deferred_when_the_answer_is_slow(
    server: DiscordStandIn, service: AnsweringService, shared_index_dir: Path
) -> None:
    settings = discord_settings(server, settings_for(shared_index_dir))
    async with running_bot(server, settings, service, defer_after=0.0):
        asked = await server.push_command(
            "ask", {"question": "Which Turkish naval ship arrived in Karachi?"}, user_id=USER
        )
        reply = await server.reply(asked)
    assert server.callbacks[-1]["type"] == 5  # "thinking…" first
    assert reply.route == "followup" and "Büyükada" in reply.embed["description"]


async def test_mention_answered_and_other_talk_ignored(
    bot: DiscordBot, server: DiscordStandIn
) -> None:
    chatter = await server.push_message("Anyone seen the match last night?", USER)
    everyone = await server.push_message("@everyone when did Aliyev visit Pakistan?", USER)
    mention = await server.push_message(
        f"<@{BOT_USER}> When did Heydar Aliyev visit Pakistan?", USER, mentions=[BOT_USER]
    )
    reply = await server.reply(mention)
    assert reply.route == "channel" and "1996" in reply.embed["description"]
    assert int(reply.payload["message_reference"]["message_id"]) == mention
    assert reply.payload["allowed_mentions"]["replied_user"] is False
    assert server.typing  # "typing…" shown while answering
    assert await server.nothing_sent_for(chatter)
    assert await server.nothing_sent_for(everyone)


async def test_direct_message_answered(bot: DiscordBot, server: DiscordStandIn) -> None:
    asked = await server.push_message("When did Heydar Aliyev visit Pakistan?", USER, direct=True)
    assert "1996" in (await server.reply(asked)).embed["description"]
    from_bot = await server.push_message("When did Aliyev visit?", USER + 1, direct=True, bot=True)
    assert await server.nothing_sent_for(from_bot)


async def test_blank_looking_message_asks_for_a_question(
    bot: DiscordBot, server: DiscordStandIn
) -> None:
    blank = await server.push_message(
        f"<@{BOT_USER}> \u200b\ufeff <:wave:12> \u2066", USER, mentions=[BOT_USER]
    )
    assert (await server.reply(blank)).content == dr.escape(EMPTY_QUESTION)


async def test_refusal(bot: DiscordBot, server: DiscordStandIn) -> None:
    asked = await server.push_command(
        "ask", {"question": "Who won the 2022 FIFA World Cup?"}, user_id=USER
    )
    reply = await server.reply(asked)
    assert reply.content == dr.escape(NOT_IN_SOURCES) and not reply.embed


async def test_hostile_question_is_rendered_safely(bot: DiscordBot, server: DiscordStandIn) -> None:
    hostile = "@everyone <@&123456789012345678> **bold** [x](https://evil.example) " * 50
    asked = await server.push_command("ask", {"question": hostile[:3000]}, user_id=USER)
    reply = await server.reply(asked)  # too long for QUOTH_MAX_QUESTION_CHARS: a short error
    assert reply.ephemeral and "characters long" in reply.content
    mention = await server.push_message(f"<@{BOT_USER}> {hostile[:450]}", USER, mentions=[BOT_USER])
    answer = await server.reply(mention)
    assert answer.payload["allowed_mentions"]["parse"] == []  # and the stand-in saw no pings


async def test_hostile_article_text_is_escaped(
    server: DiscordStandIn, own: Own, error_log: ErrorLog
) -> None:
    hostile = (
        "The harbour authority of Karachi said @everyone and <@123456789012345678> must see "
        "**this** [phish](https://evil.example) ||spoiler|| `code` # heading > quote. "
    )
    (own.corpus / "hostile.txt").write_text(
        "Hostile harbour notice\n\n" + hostile * 60, encoding="utf-8"
    )
    async with running_bot(server, own.settings, own.service) as bot:
        await bot.library.reindex()
        asked = await server.push_command(
            "ask", {"question": "What did the harbour authority of Karachi say?"}, user_id=USER
        )
        reply = await server.reply(asked)
        shown = await server.push_command("source", {"id": "hostile"}, user_id=USER)
        article = await server.reply(shown)
    description = reply.embed["description"]
    assert "@\u200beveryone" in description and "\\*\\*this\\*\\*" in description
    assert "\\[phish\\](https://evil.example)" in description
    assert "\\|\\|spoiler\\|\\|" in description and "\\`code\\`" in description
    assert len(article.embed["description"]) <= dr.DESCRIPTION_LIMIT
    assert article.embed["title"] == "Hostile harbour notice"
    assert not error_log.records and not server.rejected  # no ping, no limit broken


async def test_sources_and_source(bot: DiscordBot, server: DiscordStandIn) -> None:
    listed = await server.reply(await server.push_command("sources", user_id=USER))
    assert listed.embed["title"] == "My sources (5 articles, page 1/1)"
    assert listed.embed["description"].count("\n") == 4
    shown = await server.push_command("source", {"id": "001_f864b6482b488930"}, user_id=USER)
    article = await server.reply(shown)
    assert "Pakistan" in article.embed["title"] + article.embed["description"]
    missing = await server.push_command("source", {"id": "../etc/passwd"}, user_id=USER)
    assert (await server.reply(missing)).ephemeral


async def test_source_id_autocomplete(bot: DiscordBot, server: DiscordStandIn) -> None:
    typed = await server.push_command("source", {"id": "f864"}, user_id=USER, kind=4, focused="id")
    choices = (await server.reply(typed)).payload["choices"]
    assert [c["value"] for c in choices] == ["001_f864b6482b488930"]


@pytest.mark.parametrize("command", ["reindex", "stats", "remove"])
async def test_moderator_commands_refused_for_others(
    bot: DiscordBot, server: DiscordStandIn, command: str
) -> None:
    options = {"id": "001_f864b6482b488930"} if command == "remove" else None
    asked = await server.push_command(command, options, user_id=USER)
    reply = await server.reply(asked)
    assert reply.ephemeral and reply.content == dr.escape(NOT_A_MODERATOR)
    assert await server.nothing_sent_for(asked, 0.3) is False  # only the refusal
    assert len(await server.replies(asked)) == 1


async def test_stats_for_moderator_by_id_and_by_role(
    bot: DiscordBot, server: DiscordStandIn
) -> None:
    by_id = await server.reply(await server.push_command("stats", user_id=MODERATOR))
    assert by_id.ephemeral and "articles: 5" in by_id.content
    by_role = await server.push_command("stats", user_id=USER, roles=[MODERATOR_ROLE])
    assert "passages:" in (await server.reply(by_role)).content
    in_dm = await server.push_command("stats", user_id=USER, direct=True)
    assert (await server.reply(in_dm)).content == dr.escape(NOT_A_MODERATOR)
    gaps = await server.reply(await server.push_command("gaps", {"days": 3}, user_id=MODERATOR))
    assert gaps.ephemeral and "last 3 days" in gaps.content


async def test_moderator_adds_and_removes_an_article(
    server: DiscordStandIn, own: Own, error_log: ErrorLog
) -> None:
    article = (
        b"Lighthouse keepers of Gwadar\n\nThe Gwadar lighthouse was repainted blue and white "
        b"in March 2031 by a crew of eleven volunteers from the fishing cooperative."
    )
    settings = own.settings.model_copy(
        update={"fetch_allow_private": True, "max_upload_bytes": 1_000_000}
    )
    with serving() as site:
        async with running_bot(server, settings, own.service) as bot:
            added = await server.push_command(
                "add", user_id=MODERATOR, attachment=("gwadar-lighthouse.txt", article)
            )
            first, report = await server.replies(added, 2, timeout=120)
            assert "Added gwadar-lighthouse" in first.shown
            assert "Added: gwadar-lighthouse" in report.shown
            asked = await server.push_command(
                "ask", {"question": "Who repainted the Gwadar lighthouse?"}, user_id=USER
            )
            assert "eleven volunteers" in (await server.reply(asked)).embed["description"]
            refused = await server.push_command(
                "add", user_id=USER, attachment=("evil.txt", b"Evil\n\nText of an evil article.")
            )
            assert (await server.reply(refused)).content == dr.escape(NOT_A_MODERATOR)
            wrong = await server.push_command(
                "add", user_id=MODERATOR, attachment=("tool.exe", b"MZ\x90\x00")
            )
            assert "Only" in (await server.reply(wrong)).content
            huge = await server.push_command(
                "add", user_id=MODERATOR, attachment=("huge.txt", b"Big. " * 250_000)
            )
            assert "too large; the limit is 976 KB" in (await server.reply(huge)).shown
            title = "Port Meridian votes for a lifting bridge"
            url = site.page(
                "/bridge", news_page(title, PARAGRAPHS, "https://m.example/b", "2026-11-24")
            )
            linked = await server.push_command("add", {"url": url}, user_id=MODERATOR)
            reply, report = await server.replies(linked, 2, timeout=120)
            assert reply.shown.startswith(f"Added “{title}” (web-127-0-0-1-bridge-")
            assert "Added: web-127-0-0-1-bridge-" in report.shown
            usage = await server.push_command("add", user_id=MODERATOR)
            assert "Usage: /add" in (await server.reply(usage)).shown
            sneaky = await server.push_command(
                "remove", {"id": "../../etc/passwd"}, user_id=MODERATOR
            )
            assert "No article with id" in (await server.reply(sneaky)).shown
            removed = await server.push_command(
                "remove", {"id": "gwadar-lighthouse"}, user_id=MODERATOR
            )
            _, after = await server.replies(removed, 2, timeout=120)
            assert "Removed: gwadar-lighthouse" in after.shown
            assert all(a.id != "gwadar-lighthouse" for a in bot.library.service.index.articles)
    assert not (own.settings.corpus_dir / "evil.txt").exists()  # type: ignore[operator]
    assert not error_log.records and not server.rejected


async def test_reindex_reports_in_the_channel(bot: DiscordBot, server: DiscordStandIn) -> None:
    asked = await server.push_command("reindex", user_id=MODERATOR)
    started, report = await server.replies(asked, 2, timeout=120)
    assert "background" in started.content
    assert report.route == "followup" and "articles" in report.content


async def test_bad_token_is_a_clear_error(
    server: DiscordStandIn, service: AnsweringService, shared_index_dir: Path
) -> None:
    from quoth.config import ConfigError

    settings = discord_settings(server, settings_for(shared_index_dir), discord_token="wrong")
    bot = DiscordBot(settings, Library(settings, service))
    with pytest.raises(ConfigError, match="Discord rejected QUOTH_DISCORD_TOKEN"):
        await bot.start()


async def test_refused_intents_are_a_clear_error(
    server: DiscordStandIn, service: AnsweringService, shared_index_dir: Path
) -> None:
    from quoth.config import ConfigError

    server.refuse_identify = 4014  # "disallowed intents"
    settings = discord_settings(server, settings_for(shared_index_dir))
    bot = DiscordBot(settings, Library(settings, service))
    with pytest.raises(ConfigError, match="intents"):
        await bot.start()
    await bot.stop()


async def test_votes_reasons_and_more_as_buttons_that_survive_a_restart(
    server: DiscordStandIn, service: AnsweringService, tmp_path: Path, error_log: ErrorLog
) -> None:
    settings = discord_settings(server, settings_for(tmp_path / "unused"))
    async with running_bot(server, settings, service):
        asked = await server.push_command(
            "ask", {"question": "What did Aliyev say about Pakistan?"}, user_id=USER
        )
        answer = await server.reply(asked)
        assert answer.labels == ["👍", "👎", "More"]
        liked = await server.reply(await server.push_click(answer, "👍", user_id=USER))
        assert liked.ephemeral and liked.content == "Thanks! Noted your 👍."

    async with running_bot(server, settings, service):  # a restart: nothing kept in memory
        disliked = await server.reply(await server.push_click(answer, "👎", user_id=MODERATOR))
        assert disliked.ephemeral and "What was wrong" in disliked.content
        assert disliked.labels == ["Wrong quote", "Not covered", "Outdated"]
        reason = await server.reply(
            await server.push_click(disliked, "Outdated", user_id=MODERATOR)
        )
        assert reason.route == "update" and reason.content == "Thanks — noted: outdated."
        assert server.messages[disliked.message_id]["components"] == []

        clicked = await server.push_click(answer, "More", user_id=USER)
        edit, follow_up = await server.replies(clicked, 2)
        assert edit.route == "edit" and edit.labels == ["👍", "👎"]  # "More" is spent
        assert follow_up.route == "followup" and not follow_up.ephemeral
        assert follow_up.embed["description"] != answer.embed["description"]
        assert follow_up.labels[:2] == ["👍", "👎"]

        gaps = await server.reply(await server.push_command("gaps", user_id=MODERATOR))
        assert "What did Aliyev say about Pakistan? — 👎 outdated" in gaps.shown
    assert not error_log.records, [r.getMessage() for r in error_log.records]
    assert not server.rejected, server.rejected


async def test_replies_follow_the_discord_locale(bot: DiscordBot, server: DiscordStandIn) -> None:
    asked = await server.push_command(
        "ask", {"question": "What is the recipe for lemon cake?"}, user_id=USER, locale="tr"
    )
    assert (await server.reply(asked)).shown.startswith("Bunu kaynaklarımda bulamadım.")
