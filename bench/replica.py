"""One Telegram webhook replica for :mod:`bench.replicas`: what ``quoth serve`` runs, with
the model stages optionally replaced by their own measured latency.

With ``BENCH_STUB_MODELS=questions.json`` the replica first answers every listed question
with the real embedder and cross-encoder, recording each output and each call's time; from
then on a call returns the recorded output after sleeping the median recorded time, holding
one lock per process. That is one machine's model pipeline (calls use all of its cores, so
they run one at a time), without the CPU: two replicas on this 2-core machine then behave
as two machines would.

    QUOTH_... python -m bench.replica
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from quoth import runtime
from quoth.bot.library import Library
from quoth.bot.serve import serve_until_stopped
from quoth.bot.telegram import TelegramBot
from quoth.config import load_settings
from quoth.index import Embedder
from quoth.retrieval import AnsweringService
from quoth.retrieval.rerank import Judgement, Reranker

MODEL_LOCK = threading.Lock()


class Replay:
    """Recorded outputs by input, played back after the recorded median time."""

    def __init__(self) -> None:
        self.outputs: dict[Any, Any] = {}
        self.seconds: list[float] = []
        self.replaying = False

    def call(self, key: Any, compute: Callable[[], Any]) -> Any:
        if self.replaying:
            with MODEL_LOCK:
                time.sleep(statistics.median(self.seconds))
            return self.outputs[key]
        started = time.perf_counter()
        output = compute()
        self.seconds.append(time.perf_counter() - started)
        self.outputs[key] = output
        return output


class ReplayEmbedder:
    def __init__(self, real: Embedder) -> None:
        self.real = real
        self.name = real.name
        self.replay = Replay()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def encode(self, texts: list[str]) -> npt.NDArray[np.float32]:
        result: npt.NDArray[np.float32] = self.replay.call(
            tuple(texts), lambda: self.real.encode(texts)
        )
        return result


class ReplayReranker:
    def __init__(self, real: Reranker) -> None:
        self.real = real
        self.name = real.name
        self.folder = real.folder
        self.replay = Replay()

    def score(self, question: str, texts: list[str]) -> npt.NDArray[np.float32]:
        result: npt.NDArray[np.float32] = self.replay.call(
            (question, tuple(texts)), lambda: self.real.score(question, texts)
        )
        return result

    def judge(self, question: str, texts: list[str]) -> Judgement:
        result: Judgement = self.replay.call(
            ("judge", question, tuple(texts)), lambda: self.real.judge(question, texts)
        )
        return result


def stubbed(service: AnsweringService, questions: list[str]) -> AnsweringService:
    assert service.reranker is not None
    embedder, reranker = ReplayEmbedder(service.embedder), ReplayReranker(service.reranker)
    replaying = AnsweringService(
        service.index,
        embedder,  # type: ignore[arg-type]
        service.options,
        reranker,
        service.refusal,
    )
    for question in questions:
        replaying.answer(question)
    embedder.replay.replaying = reranker.replay.replaying = True
    return replaying


def main() -> None:
    settings = load_settings()
    service = runtime.open_service(settings)
    stub = os.environ.get("BENCH_STUB_MODELS")
    if stub:
        service = stubbed(service, json.loads(Path(stub).read_text()))
    library = Library(settings, service, runtime.open_state(settings))
    asyncio.run(serve_until_stopped(library, [TelegramBot(settings, library)]))


if __name__ == "__main__":
    main()
