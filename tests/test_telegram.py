"""The real python-telegram-bot application against the local Bot API stand-in."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from quoth import runtime
from quoth.bot.conversation import NOT_A_MODERATOR
from quoth.bot.library import Library
from quoth.bot.telegram import TelegramBot
from quoth.config import Settings, load_settings
from quoth.index import Embedder
from quoth.messages import CLOSEST_LEAD, NOT_IN_SOURCES
from quoth.retrieval import AnsweringService

from .conftest import settings_for
from .telegram_stand_in import TEST_TOKEN, BotApiStandIn, SentMessage
from .web_stand_in import PARAGRAPHS, Entry, Resource, news_page, rss, serving

TOKEN = TEST_TOKEN
MODERATOR = 4242
USER = 1001
GROUP = -100500
BRIDGE = "Port Meridian votes for a lifting bridge"
BRIDGE_URL = "https://meridian-daily.example/news/lifting-bridge"


@dataclass
class Harness:
    server: BotApiStandIn
    bot: TelegramBot
    app: Any
    errors: list[BaseException] = field(default_factory=list)

    async def ask(self, text: str, chat: int = USER, user: int = USER) -> SentMessage:
        message = self.server.push_message(chat, user, text)
        return await self.server.reply_to(message)


def bot_settings(server: BotApiStandIn, base: Settings, **extra: Any) -> Settings:
    return load_settings(
        **{
            **base.model_dump(exclude={"telegram_token", "telegram_api_url", "moderator_ids"}),
            "telegram_token": TOKEN,
            "telegram_api_url": server.root,
            "moderator_ids": [MODERATOR],
            **extra,
        }
    )


@contextlib.asynccontextmanager
async def running_bot(
    server: BotApiStandIn, settings: Settings, service: AnsweringService, **kwargs: Any
) -> AsyncIterator[Harness]:
    """Start the real Application with polling; fail the test on any handler error."""
    bot = TelegramBot(settings, Library(settings, service), **kwargs)
    app = bot.application()
    harness = Harness(server, bot, app)

    async def collect(update: object, context: Any) -> None:
        harness.errors.append(context.error)

    app.add_error_handler(collect)
    await app.initialize()
    await bot.on_startup(app)
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0.0, timeout=1)
    try:
        yield harness
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()
    assert not harness.errors, harness.errors


@pytest.fixture
def server(telegram_api: BotApiStandIn) -> BotApiStandIn:
    return telegram_api


@pytest.fixture
async def harness(
    server: BotApiStandIn, service: AnsweringService, shared_index_dir: Path
) -> AsyncIterator[Harness]:
    settings = bot_settings(server, settings_for(shared_index_dir))
    async with running_bot(server, settings, service) as running:
        yield running


@pytest.fixture
def own_service(corpus_copy: Path, tmp_path: Path, embedder: Embedder) -> AnsweringService:
    """A service over a writable corpus, for tests that change articles."""
    settings = settings_for(tmp_path / "idx", corpus_copy)
    runtime.reindex(settings, embedder)
    return runtime.open_service(settings, embedder)


async def test_commands_registered_at_start(harness: Harness) -> None:
    names = [c["command"] for c in harness.server.commands["default"]]
    assert names == ["ask", "sources", "new", "help"]
    moderator_menu = [c["command"] for c in harness.server.commands[f"chat:{MODERATOR}"]]
    assert {"reindex", "remove", "stats"} <= set(moderator_menu)


async def test_private_question_answered_with_quote_and_source(harness: Harness) -> None:
    harness.bot.typing_after_s = 0.0  # "typing…" at once, as for a slow answer
    question = harness.server.push_message(USER, USER, "When did Heydar Aliyev visit Pakistan?")
    reply = await harness.server.reply_to(question)
    assert "<blockquote>" in reply.markup
    assert "<b>Official records show that the visit of President Heydar Aliyev" in reply.markup
    assert "April 10, 1996" in reply.text
    link = f'href="https://t.me/{harness.server.username}?start=src_001_f864b6482b488930"'
    assert link in reply.markup
    assert reply.params["link_preview_options"] == {"is_disabled": True}
    assert reply.params["parse_mode"] == "HTML"
    assert any(m == "sendChatAction" and p["action"] == "typing" for m, p in harness.server.calls)


async def test_inline_mode_offers_each_quote_and_says_when_it_cannot(harness: Harness) -> None:
    server = harness.server
    answered = await server.inline_answer(
        server.push_inline_query(USER, "When did Heydar Aliyev visit Pakistan?")
    )
    results = answered["results"]
    assert 1 <= len(results) <= 5
    assert answered["is_personal"] == "true" and answered["cache_time"] == "10"  # form fields
    first = results[0]["input_message_content"]
    assert "April 10, 1996" in results[0]["description"]
    assert first["parse_mode"] == "HTML" and "<blockquote>" in first["message_text"]
    refused = await server.inline_answer(
        server.push_inline_query(USER, "What is the recipe for lemon cake?")
    )
    assert [r["title"] for r in refused["results"]] == ["Not in my sources"]
    blank = await server.inline_answer(server.push_inline_query(USER, "   "))
    assert blank["results"] == []
    # typing in inline mode neither logs half questions as gaps nor spends the chat budget
    assert not harness.bot.library.feedback.gaps(days=1, limit=10)


async def test_quick_answers_skip_the_typing_action(harness: Harness) -> None:
    harness.bot.typing_after_s = 30.0
    reply = await harness.ask("When did Heydar Aliyev visit Pakistan?")
    assert "April 10, 1996" in reply.text
    assert not [m for m, _ in harness.server.calls if m == "sendChatAction"]


MARKUP_ARTICLE = (
    "Lusk bridge\n\nThe Lusk bridge was opened in 1931 after four years of work. "
    "It was designed by the engineering firm Smith & <Jones> of Leeds. "
    "Tolls on the bridge were abolished in 1990.\n"
)


async def test_answer_phrase_underlined_in_a_real_reply_and_escaped(
    server: BotApiStandIn, tmp_path: Path, embedder: Embedder
) -> None:
    """The phrase the answer model found, underlined inside the bold sentence, with its
    ``&`` and ``<`` escaped so Telegram accepts the message and shows them as written."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "lusk.txt").write_text(MARKUP_ARTICLE, encoding="utf-8")
    settings = settings_for(tmp_path / "idx", corpus)
    runtime.reindex(settings, embedder)
    service = runtime.open_service(settings, embedder)
    question = "Which firm designed the Lusk bridge?"
    quote = service.answer(question).quotes[0]
    assert quote.phrase is not None and quote.phrase.text == "Smith & <Jones> of Leeds"
    async with running_bot(server, bot_settings(server, settings), service) as running:
        reply = await running.ask(question)
    underlined = "<u>Smith &amp; &lt;Jones&gt; of Leeds</u>"
    assert f"<b>It was designed by the engineering firm {underlined}" in reply.markup
    assert "Smith & <Jones> of Leeds." in reply.text  # the stand-in parsed it as Telegram would


async def test_refusal(harness: Harness) -> None:
    reply = await harness.ask("Who won the 2022 FIFA World Cup?")
    assert reply.text == NOT_IN_SOURCES


async def test_group_answers_only_when_addressed(harness: Harness) -> None:
    server = harness.server
    chatter = server.push_message(
        GROUP, USER, "Which water treaty did India suspend? asking nobody"
    )
    mention = server.push_message(
        GROUP, USER, f"@{server.username} Which water treaty did India suspend?"
    )
    reply = await server.reply_to(mention)
    assert "Indus Waters Treaty" in reply.text
    command = server.push_message(
        GROUP, USER, f"/ask@{server.username} Who is Armenia's foreign minister?"
    )
    assert "Mirzoyan" in (await server.reply_to(command)).text
    bot_message = server.messages[(GROUP, reply.message_id)]
    follow_up = server.push_message(
        GROUP, USER, "Who chaired the Security Council meeting?", reply_to=bot_message
    )
    assert "chaired the Security Council" in (await server.reply_to(follow_up)).text
    other = server.push_message(GROUP, USER, "@someone_else what about the JF-17 deal?")
    last = server.push_message(
        GROUP, USER, "/ask How much is the JF-17 deal with Azerbaijan worth?"
    )
    await server.reply_to(last)
    replied_to = {s.reply_to for s in server.sent}
    assert chatter["message_id"] not in replied_to and other["message_id"] not in replied_to


@pytest.mark.parametrize(
    "question",
    [
        "<b>When</b> did Heydar Aliyev visit Pakistan? & </blockquote>",
        "🇦🇿🇵🇰 Which Turkish naval ship arrived in Karachi? 🚢",
        "متى زار حيدر علييف باكستان؟ When did Heydar Aliyev visit Pakistan?",
        "<script>alert(1)</script> &amp; &lt;",
    ],
)
async def test_hostile_questions_get_valid_html(harness: Harness, question: str) -> None:
    reply = await harness.ask(question)
    assert reply.text  # the stand-in accepted the markup (it rejects invalid HTML with a 400)
    assert "<script>" not in reply.markup


async def test_empty_and_overlong_questions_explained(harness: Harness) -> None:
    assert "Please type a question" in (await harness.ask("/ask")).text
    assert "Please type a question" in (await harness.ask("\u200b\u200d\ufeff\u200e\u202e")).text
    marked_up = await harness.ask(f"@{harness.server.username} **who** met in ||Lachin||?")
    assert marked_up.text != NOT_IN_SOURCES and "Lachin" in marked_up.text
    reply = await harness.ask("Why " * 1250)
    assert "5000 characters long" in reply.text or "characters long" in reply.text


async def test_deep_link_opens_the_article(harness: Harness) -> None:
    reply = await harness.ask("/start src_003_975446276cdc8a6f")
    assert reply.text.startswith(
        "Armenia and Pakistan to consider establishing diplomatic relations"
    )
    assert "Ararat Mirzoyan" in reply.text
    assert "no longer in my sources" in (await harness.ask("/start src_nothing")).text
    assert "Ask me a question" in (await harness.ask("/start")).text


async def test_votes_reasons_and_more_under_an_answer(harness: Harness) -> None:
    server = harness.server
    first = await harness.ask("/ask What did Aliyev say about Pakistan?", chat=GROUP)
    assert server.buttons(first) == [["👍", "👎", "More"]]

    async def press(user: int, label: str, sent: SentMessage = first) -> dict[str, Any]:
        return await server.callback_answer(server.push_button(user, sent, label))

    assert (await press(USER, "👍"))["text"] == "Thanks! Noted your 👍."
    assert "already voted" in (await press(USER, "👍"))["text"]
    assert (await press(MODERATOR, "👎"))["text"] == "Noted your 👎. What was wrong with it?"
    await server.wait_for(lambda s: len(server.buttons(first)) == 2)
    assert server.buttons(first)[1] == ["Wrong quote", "Not covered", "Outdated"]
    assert (await press(MODERATOR, "Wrong quote"))["text"] == "Thanks — noted: wrong quote."
    assert (await press(USER, "Outdated"))["text"] == "Thanks — noted: outdated."  # changed

    await press(USER, "More")
    follow_up = await server.wait_for(
        lambda s: s.method == "sendMessage" and s.reply_to == first.message_id
    )
    assert "<blockquote>" in follow_up.markup and follow_up.text != first.text
    assert server.buttons(first)[0] == ["👍", "👎"]  # "More" is spent, the votes stay
    assert server.buttons(follow_up)[0][:2] == ["👍", "👎"]

    gaps = await harness.ask("/gaps", chat=MODERATOR, user=MODERATOR)
    assert "(2×) What did Aliyev say about Pakistan? — 👎" in gaps.text
    assert "👎 outdated" in gaps.text and "👎 wrong quote" in gaps.text


async def test_buttons_of_unknown_answers_say_so(harness: Harness) -> None:
    """A button from before quoth stored answers (PTB's old cache ids), or of an answer
    pruned since: one clear line, as an alert."""
    server = harness.server
    answered = await harness.ask("Which Turkish naval ship arrived in Karachi?")
    message = server.messages[(USER, answered.message_id)]
    for data in ("4f9c2b7e0a1d4c3e9b8a7f6e5d4c3b2a", "v:gone:up", "m:gone", "r:gone:outdated"):
        query_id = f"cq-{data}"
        server._push(
            {
                "callback_query": {
                    "id": query_id,
                    "from": server.user(USER),
                    "message": message,
                    "chat_instance": "ci",
                    "data": data,
                }
            }
        )
        told = await server.callback_answer(query_id)
        assert told["text"].startswith("That button belongs to an answer") and told["show_alert"]


async def test_sources_paged_with_buttons(
    server: BotApiStandIn, service: AnsweringService, shared_index_dir: Path
) -> None:
    settings = bot_settings(server, settings_for(shared_index_dir))
    async with running_bot(server, settings, service, sources_per_page=2) as harness:
        first = await harness.ask("/sources")
        assert "page 1/3" in first.text and first.text.count("\n") == 3
        harness.server.push_button(USER, first, "Next ›")
        edited = await server.wait_for(lambda s: s.method == "editMessageText")
        assert "page 2/3" in edited.text and edited.message_id == first.message_id


async def test_rate_limit(
    server: BotApiStandIn, service: AnsweringService, shared_index_dir: Path
) -> None:
    settings = bot_settings(server, settings_for(shared_index_dir), rate_limit_per_minute=2)
    async with running_bot(server, settings, service) as harness:
        for _ in range(2):
            assert "Indus" in (await harness.ask("Which water treaty did India suspend?")).text
        assert "asking quickly" in (await harness.ask("Which water treaty did India suspend?")).text
        other = await harness.ask(
            "Which water treaty did India suspend?", chat=USER + 1, user=USER + 1
        )
        assert "Indus" in other.text  # the limit is per user


async def test_non_moderators_refused_and_logged(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, "quoth.conversation")
    for command in ("/reindex", "/stats", "/remove 001_f864b6482b488930"):
        assert (await harness.ask(command)).text == NOT_A_MODERATOR
    upload = harness.server.push_document(USER, USER, "evil.txt", b"Some text.")
    assert (await harness.server.reply_to(upload)).text == NOT_A_MODERATOR
    warned = [r for r in caplog.records if "non-moderator" in r.getMessage()]
    assert len(warned) == 4 and all(r.levelno == logging.WARNING for r in warned)
    assert all(f"user={USER}" not in r.getMessage() for r in warned)  # ids only at debug
    who = [
        r for r in caplog.records if r.levelno == logging.DEBUG and f"user={USER}" in r.getMessage()
    ]
    assert len(who) == 4


async def test_reindex_while_answering(
    server: BotApiStandIn, own_service: AnsweringService, corpus_copy: Path, tmp_path: Path
) -> None:
    settings = bot_settings(server, settings_for(tmp_path / "idx", corpus_copy))
    async with running_bot(server, settings, own_service) as harness:
        for path in corpus_copy.glob("*.txt"):  # every article changes: a long rebuild
            path.write_text(path.read_text() + "\nThe lighthouse on Gull Island opened in 1887.")
        start = await harness.ask("/reindex", chat=MODERATOR, user=MODERATOR)
        assert "background" in start.text
        answered_meanwhile = 0
        while not any("Indexed" in s.text for s in server.sent):
            reply = await harness.ask(
                "Which water treaty did India suspend?", chat=MODERATOR + 1, user=MODERATOR + 1
            )
            assert "Indus Waters Treaty" in reply.text
            answered_meanwhile += not any("Indexed" in s.text for s in server.sent)
        report = await server.wait_for(lambda s: "Indexed" in s.text)
        # 003 ends in a "Related Articles" footer, which swallows the appended line: unchanged.
        assert "0 new, 4 changed, 0 removed, 1 unchanged" in report.text
        assert answered_meanwhile >= 1
        assert (
            "Gull Island"
            in (await harness.ask("When did the lighthouse on Gull Island open?")).text
        )


async def test_upload_stats_and_remove(
    server: BotApiStandIn, own_service: AnsweringService, corpus_copy: Path, tmp_path: Path
) -> None:
    settings = bot_settings(server, settings_for(tmp_path / "idx", corpus_copy))
    async with running_bot(server, settings, own_service) as harness:
        text = (
            b"---\ntitle: Gull Island light\nurl: https://example.org/gull\n---\n"
            b"The lighthouse on Gull Island opened on 3 March 1887. Its lamp burned whale oil."
        )
        upload = server.push_document(MODERATOR, MODERATOR, "../../gull island.md", text)
        assert (await server.reply_to(upload)).text.startswith("Added gull-island")
        await server.wait_for(lambda s: "1 new" in s.text)
        assert (corpus_copy / "gull-island.md").read_bytes() == text
        answer = await harness.ask("When did the lighthouse on Gull Island open?")
        assert "3 March 1887" in answer.text and 'href="https://example.org/gull"' in answer.markup

        bad = server.push_document(MODERATOR, MODERATOR, "photo.png", b"\x89PNG")
        assert "Only .txt" in (await server.reply_to(bad)).text
        binary = server.push_document(MODERATOR, MODERATOR, "blob.txt", b"\x00\x01\x02")
        assert "binary" in (await server.reply_to(binary)).text
        assert not (corpus_copy / "blob.txt").exists()

        stats = await harness.ask("/stats", chat=MODERATOR, user=MODERATOR)
        assert "articles: 6" in stats.text and "answered: 1" in stats.text
        refused = await harness.ask("What is the recipe for lemon cake?")
        assert "couldn't find" in refused.text
        gaps = await harness.ask("/gaps 7", chat=MODERATOR, user=MODERATOR)
        assert "(1×) What is the recipe for lemon cake?" in gaps.text
        usage = await harness.ask("/gaps soon", chat=MODERATOR, user=MODERATOR)
        assert usage.text.startswith("Usage: /gaps")

        removed = await harness.ask("/remove gull-island", chat=MODERATOR, user=MODERATOR)
        assert removed.text.startswith("Removed gull-island")
        await server.wait_for(lambda s: "1 removed" in s.text)
        assert not (corpus_copy / "gull-island.md").exists()
        assert (
            await harness.ask("When did the lighthouse on Gull Island open?")
        ).text == NOT_IN_SOURCES
        missing = await harness.ask("/remove ../../etc/passwd", chat=MODERATOR, user=MODERATOR)
        assert "No article with id" in missing.text


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_webhook_requires_the_secret_and_answers_a_redelivery_once(
    server: BotApiStandIn, service: AnsweringService, shared_index_dir: Path
) -> None:
    port = free_port()
    hook = f"http://127.0.0.1:{port}/hook"
    settings = bot_settings(
        server,
        settings_for(shared_index_dir),
        webhook_url=hook,
        webhook_secret="s3cret-value",
        webhook_listen="127.0.0.1",
        webhook_port=port,
    )
    bot = TelegramBot(settings, Library(settings, service))
    await bot.start()
    try:
        assert server.webhook == {"url": hook, "secret_token": "s3cret-value"}
        update = {
            "update_id": 1,
            "message": {
                "message_id": 5,
                "date": int(time.time()),
                "chat": {"id": USER, "type": "private"},
                "from": server.user(USER),
                "text": "Which water treaty did India suspend?",
            },
        }
        secret = {"X-Telegram-Bot-Api-Secret-Token": "s3cret-value"}
        async with httpx.AsyncClient(timeout=30) as client:
            wrong = await client.post(
                hook, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "guess"}
            )
            missing = await client.post(hook, json=update)
            assert wrong.status_code == missing.status_code == 403
            assert (await client.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200
            garbage = await client.post(hook, content=b"{not json", headers=secret)
            assert garbage.status_code == 400
            assert not server.sent
            right = await client.post(hook, json=update, headers=secret)
            # acknowledged only once answered: the reply is already there
            assert right.status_code == 200 and len(server.sent) == 1
            again = await client.post(hook, json=update, headers=secret)
            assert again.status_code == 200
            scraped = await client.get(f"http://127.0.0.1:{port}/metrics")
        claims = {
            s.labels["outcome"]: s.value
            for family in text_string_to_metric_families(scraped.text)
            for s in family.samples
            if s.name == "quoth_webhook_claims_total"
        }
        assert claims["mine"] >= 1 and claims["done"] >= 1  # counted since the process began
        assert [s.reply_to for s in server.sent] == [5]
        assert "Indus Waters Treaty" in server.sent[0].text
    finally:
        await bot.stop()


async def test_reply_latency_over_200_questions(harness: Harness) -> None:
    """Question injected -> sendMessage received, through the real library and HTTP.

    Questions are paced at 12 a second (two Bot API calls each) so that PTB's flood limiter,
    which holds the bot to Telegram's 30 requests a second, does not dominate the figure.
    """
    asked = [
        "When did Heydar Aliyev visit Pakistan?",
        "Which water treaty did India suspend?",
        "Who won the 2022 FIFA World Cup?",
        "Who is Armenia's foreign minister?",
    ]
    latencies = []
    for number in range(200):
        started = time.perf_counter()
        reply = await harness.ask(
            asked[number % len(asked)], chat=10_000 + number, user=10_000 + number
        )
        latencies.append(time.perf_counter() - started)
        assert reply.text
        await asyncio.sleep(max(0.0, 1 / 12 - (time.perf_counter() - started)))
    latencies.sort()
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000
    print(f"\ntelegram reply latency over 200 questions: p50={p50:.1f} ms p99={p99:.1f} ms")


def spawn_serve(env: dict[str, str], *options: str) -> subprocess.Popen[str]:
    """``quoth serve`` as its own process, output (stdout and stderr) collected as text."""
    command = [sys.executable, "-m", "quoth", "serve", *options]
    return subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def quoth_health(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "quoth", "health"]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)


async def test_serve_command_end_to_end(
    server: BotApiStandIn, shared_index_dir: Path, tmp_path: Path
) -> None:
    """``quoth serve`` as a process: answers, registers commands, reports healthy, stops on
    SIGTERM (and then reports unhealthy), hides the token."""
    env = {
        "QUOTH_HEALTH_FILE": str(tmp_path / "health.json"),
        **os.environ,
        "QUOTH_TELEGRAM_TOKEN": TOKEN,
        "QUOTH_TELEGRAM_API_URL": server.root,
        "QUOTH_INDEX_DIR": str(shared_index_dir),
        "QUOTH_MODERATOR_IDS": str(MODERATOR),
    }
    process = spawn_serve(env)
    try:
        question = server.push_message(USER, USER, "Which Turkish naval ship arrived in Karachi?")
        reply = await server.reply_to(question, timeout=90)
        assert "TCG Büyükada" in reply.text
        assert "default" in server.commands
        health = await asyncio.to_thread(quoth_health, env)
        assert health.returncode == 0 and "ok: telegram bot, 5 articles" in health.stdout
        process.send_signal(signal.SIGTERM)
        output, _ = await asyncio.to_thread(process.communicate, timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, output
    stopped = quoth_health(env)
    assert stopped.returncode == 1 and "not running" in stopped.stderr
    assert TOKEN not in output and TOKEN.split(":")[1] not in output
    assert "platform=telegram via=private" in output and "state=answer" in output


async def test_articles_added_by_link_from_the_chat(
    server: BotApiStandIn, own_service: AnsweringService, corpus_copy: Path, tmp_path: Path
) -> None:
    base = settings_for(tmp_path / "idx", corpus_copy, fetch_allow_private=True)
    settings = bot_settings(server, base)
    with serving() as site:
        url = site.page("/news/bridge", news_page(BRIDGE, PARAGRAPHS, BRIDGE_URL, "2026-11-24"))
        async with running_bot(server, settings, own_service) as harness:
            added = await harness.ask(f"/add {url}", chat=MODERATOR, user=MODERATOR)
            assert added.text.startswith(f"Added “{BRIDGE}” (web-127-0-0-1-bridge-")
            assert added.text.endswith("passages. Indexing it now…")
            await server.wait_for(lambda s: "1 new" in s.text)
            answer = await harness.ask("How much will the new bridge in Port Meridian cost?")
            assert "48 million euros" in answer.text
            assert answer.params["link_preview_options"] == {  # as sent, after PTB's defaults
                "is_disabled": False,
                "url": BRIDGE_URL,
                "prefer_small_media": True,
                "show_above_text": False,
            }

            again = await harness.ask(url, chat=MODERATOR, user=MODERATOR)  # just the link
            assert again.text.startswith("Already in my sources, unchanged")
            unreachable = await harness.ask(
                "/add http://127.0.0.1:1/x", chat=MODERATOR, user=MODERATOR
            )
            assert unreachable.text.startswith("Could not reach 127.0.0.1")
            assert (await harness.ask(f"/add {url}")).text == NOT_A_MODERATOR
            asked = await harness.ask(url)  # anyone else's link is a question, not an addition
            assert "couldn't find" in asked.text or asked.text.startswith(CLOSEST_LEAD)
        assert site.downloads["/news/bridge"] == 2


async def test_feeds_followed_from_the_chat_and_refreshed_by_the_serving_loop(
    server: BotApiStandIn, own_service: AnsweringService, corpus_copy: Path, tmp_path: Path
) -> None:
    base = settings_for(
        tmp_path / "idx",
        corpus_copy,
        fetch_allow_private=True,
        feedback_file=tmp_path / "state.sqlite3",
        feed_interval=0.001,  # every feed is due again at once
    )
    settings = bot_settings(server, base)
    with serving() as site:
        bridge = site.page("/news/bridge", news_page(BRIDGE, PARAGRAPHS, BRIDGE_URL, "2026-11-24"))
        feed = site.url("/feed.rss")
        site.resources["/feed.rss"] = Resource(
            rss("Meridian Daily", [Entry(BRIDGE, bridge)]), "application/rss+xml"
        )
        async with running_bot(server, settings, own_service) as harness:
            assert (await harness.ask(f"/follow {feed}")).text == NOT_A_MODERATOR
            followed = await harness.ask(f"/follow {feed}", chat=MODERATOR, user=MODERATOR)
            assert followed.text.startswith(f"Following {feed}. It added 1 article.")
            assert followed.text.endswith("Indexing them now…")
            await server.wait_for(lambda s: "1 new" in s.text)
            answer = await harness.ask("How much will the new bridge in Port Meridian cost?")
            assert "48 million euros" in answer.text

            ferry = "The harbour ferry will run all night during the summer festival week."
            site.page("/news/ferry", news_page("Night ferry", [ferry, *PARAGRAPHS[2:]], "", ""))
            entries = [Entry("Night ferry", site.url("/news/ferry")), Entry(BRIDGE, bridge)]
            site.resources["/feed.rss"] = Resource(rss("Meridian Daily", entries), "text/xml")
            reports = await harness.bot.library.feed_round()  # what the serving loop runs
            assert reports is not None and len(reports[0].added) == 1
            answer = await harness.ask("When will the harbour ferry run all night?")
            assert "summer festival week" in answer.text

            listed = await harness.ask("/feeds", chat=MODERATOR, user=MODERATOR)
            assert "Meridian Daily" in listed.text and "2 articles added" in listed.text
            stopped = await harness.ask(f"/unfollow {feed}", chat=MODERATOR, user=MODERATOR)
            assert stopped.text.startswith("Stopped following it; its 2 articles stay")
            assert (
                "No feeds are followed"
                in (await harness.ask("/feeds", chat=MODERATOR, user=MODERATOR)).text
            )
    assert site.downloads["/news/bridge"] == 1


async def test_quoth_speaks_the_users_language_and_quotes_verbatim(harness: Harness) -> None:
    server = harness.server
    server.languages[USER + 7] = "ru"
    refused = await harness.ask("What is the recipe for lemon cake?", USER + 7, USER + 7)
    assert refused.text.startswith("В моих источниках об этом ничего нет.")
    answer = await harness.ask("What did Aliyev say about Pakistan?", USER + 7, USER + 7)
    assert "Aliyev" in answer.text  # the quote, verbatim
    assert server.buttons(answer) == [["👍", "👎", "Ещё"]]
    told = await server.callback_answer(server.push_button(USER + 7, answer, "👎"))
    assert told["text"] == "Ваш 👎 учтён. Что было не так?"
    await server.wait_for(lambda s: len(server.buttons(answer)) == 2)
    assert server.buttons(answer)[1] == ["Неверная цитата", "Нет в источниках", "Устарело"]
    server.languages[USER + 8] = "ur"
    urdu = await harness.ask("/start", USER + 8, USER + 8)
    assert urdu.text.startswith("السلام علیکم!")
