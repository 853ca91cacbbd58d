"""``quoth serve`` as a process: Telegram and Discord together over one loaded index."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from quoth.bot.discord_bot import DiscordBot
from quoth.bot.library import Library
from quoth.bot.serve import ConnectionLostError, serve_until_stopped
from quoth.retrieval import AnsweringService

from .conftest import settings_for
from .discord_stand_in import DiscordStandIn
from .telegram_stand_in import BotApiStandIn
from .test_discord_bot import TOKEN as DISCORD_TOKEN
from .test_discord_bot import discord_settings
from .test_telegram import TOKEN as TELEGRAM_TOKEN
from .test_telegram import USER, quoth_health, spawn_serve


@pytest.fixture
def stand_ins(
    telegram_api: BotApiStandIn, discord_api: DiscordStandIn
) -> tuple[BotApiStandIn, DiscordStandIn]:
    return telegram_api, discord_api


async def test_both_platforms_in_one_process(
    stand_ins: tuple[BotApiStandIn, DiscordStandIn], shared_index_dir: Path, tmp_path: Path
) -> None:
    """One process answers on both platforms, reports healthy as both, stops cleanly on
    SIGTERM and never prints either token."""
    telegram, discord = stand_ins
    env = {
        **os.environ,
        "QUOTH_HEALTH_FILE": str(tmp_path / "health.json"),
        "QUOTH_INDEX_DIR": str(shared_index_dir),
        "QUOTH_TELEGRAM_TOKEN": TELEGRAM_TOKEN,
        "QUOTH_TELEGRAM_API_URL": telegram.root,
        "QUOTH_DISCORD_TOKEN": DISCORD_TOKEN,
        "QUOTH_DISCORD_API_URL": discord.api,
        "QUOTH_DISCORD_GATEWAY_URL": discord.gateway,
    }
    process = spawn_serve(env, "--platform", "both")
    try:
        question = telegram.push_message(USER, USER, "Which Turkish naval ship arrived in Karachi?")
        on_telegram = await telegram.reply_to(question, timeout=90)
        await asyncio.wait_for(discord.identified.wait(), 90)
        asked = await discord.push_command(
            "ask", {"question": "Which Turkish naval ship arrived in Karachi?"}, user_id=USER
        )
        on_discord = await discord.reply(asked)
        health = await asyncio.to_thread(quoth_health, env)
        for _ in range(50):  # the heartbeat starts once every platform is connected
            if health.returncode == 0:
                break
            await asyncio.sleep(0.2)
            health = await asyncio.to_thread(quoth_health, env)
        process.send_signal(signal.SIGTERM)
        output, _ = await asyncio.to_thread(process.communicate, timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert "TCG Büyükada" in on_telegram.text and "TCG Büyükada" in on_discord.shown
    assert health.returncode == 0 and "ok: telegram+discord bot, 5 articles" in health.stdout
    assert process.returncode == 0, output
    assert "not running" in quoth_health(env).stderr
    for secret in (TELEGRAM_TOKEN, DISCORD_TOKEN, DISCORD_TOKEN.split(".")[1]):
        assert secret not in output
    assert "platform=discord via=slash" in output and "platform=telegram via=private" in output
    assert not discord.rejected


def test_nothing_to_serve_is_one_line(tmp_path: Path, shared_index_dir: Path) -> None:
    env = {**os.environ, "QUOTH_INDEX_DIR": str(shared_index_dir)}
    for name in ("QUOTH_TELEGRAM_TOKEN", "QUOTH_DISCORD_TOKEN"):
        env.pop(name, None)
    completed = subprocess.run(
        [sys.executable, "-m", "quoth", "serve"], env=env, capture_output=True, text=True,
        timeout=60, check=False,
    )  # fmt: skip
    assert completed.returncode == 1
    assert completed.stderr.startswith("Error: Nothing to serve: set QUOTH_TELEGRAM_TOKEN")
    assert "Traceback" not in completed.stderr
    only_discord = subprocess.run(
        [sys.executable, "-m", "quoth", "serve", "--platform", "discord"],
        env={**env, "QUOTH_TELEGRAM_TOKEN": "1:x"}, capture_output=True, text=True,
        timeout=60, check=False,
    )  # fmt: skip
    assert only_discord.returncode == 1
    assert "QUOTH_DISCORD_TOKEN is not set" in only_discord.stderr


async def test_a_lost_connection_stops_serving_with_a_reason(
    discord_api: DiscordStandIn, shared_index_dir: Path, service: AnsweringService, tmp_path: Path
) -> None:
    """A fatal gateway close ends serve_until_stopped (so the container restarts), and the
    heartbeat file goes with it."""
    discord = discord_api
    base = settings_for(shared_index_dir, health_file=tmp_path / "health.json")
    settings = discord_settings(discord, base)
    library = Library(settings, service)
    bot = DiscordBot(settings, library, guild_ready_timeout=0.1)
    serving = asyncio.create_task(serve_until_stopped(library, [bot]))
    await asyncio.wait_for(discord.identified.wait(), 30)
    for _ in range(100):
        if settings.health_file.exists():
            break
        await asyncio.sleep(0.05)
    assert settings.health_file.exists()
    await discord.close_gateway(4004)  # "authentication failed": no reconnect
    with pytest.raises(ConnectionLostError, match="discord connection ended"):
        await asyncio.wait_for(serving, 30)
    assert not settings.health_file.exists()
