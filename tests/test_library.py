"""Moderator operations shared by every chat platform, and the per-user rate limit."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from quoth import runtime
from quoth.bot.library import Library, ModerationError, safe_file_name
from quoth.config import load_settings
from quoth.corpus.writing import UPLOAD_PREFIX, write_atomically
from quoth.index import Embedder
from quoth.retrieval.refusal import STORED_NAME, default_refusal
from quoth.state.ratelimit import SlidingWindowLimiter

from .conftest import settings_for


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../etc/passwd.txt", "passwd.txt"),
        ("..\\..\\windows\\evil.md", "evil.md"),
        ("My Report (final).HTML", "My-Report-final.html"),
        ("/abs/path/note.markdown", "note.markdown"),
    ],
)
def test_safe_file_names(name: str, expected: str) -> None:
    assert safe_file_name(name) == expected


@pytest.mark.parametrize("name", ["photo.png", "noext", ".txt", "...md", "../.."])
def test_unsafe_or_unsupported_names_refused(name: str) -> None:
    with pytest.raises(ModerationError):
        safe_file_name(name)


WRITER = """
import sys
from pathlib import Path
from quoth.corpus.writing import write_atomically
target, size = Path(sys.argv[1]), int(sys.argv[2])
print("ready", flush=True)
for round in range(10_000):
    write_atomically(target, bytes([round % 256]) * size)
"""


def test_kill_during_upload_leaves_the_old_or_the_new_file(tmp_path: Path) -> None:
    """SIGKILL a process in the middle of replacing an uploaded article, twenty times: the
    article is always some complete version, never a torn one."""
    target, size = tmp_path / "article.txt", 4 * 1024 * 1024
    for attempt in range(20):
        process = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(target), str(size)], stdout=subprocess.PIPE
        )
        assert process.stdout is not None and process.stdout.readline() == b"ready\n"
        time.sleep(0.05 + 0.01 * attempt)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        if target.exists():
            data = target.read_bytes()
            assert len(data) == size and data == data[:1] * size
    visible = [p.name for p in tmp_path.iterdir() if not p.name.startswith(".")]
    assert visible == ["article.txt"]  # torn temporaries are hidden, and the loader skips them


def test_torn_uploads_discarded_at_start(
    corpus_copy: Path, tmp_path: Path, embedder: Embedder
) -> None:
    settings = settings_for(tmp_path / "idx", corpus_copy)
    runtime.reindex(settings, embedder)
    library = Library(settings, runtime.open_service(settings, embedder))
    torn = corpus_copy / f"{UPLOAD_PREFIX}x1y2"
    torn.write_bytes(b"half an art")
    assert library.discard_torn_uploads() == [torn]
    assert not torn.exists() and len(list(corpus_copy.glob("*.txt"))) == 5


def test_atomic_write_leaves_no_partial_file(tmp_path: Path) -> None:
    target = tmp_path / "a.txt"
    write_atomically(target, b"complete")
    assert target.read_bytes() == b"complete"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_library_upload_and_remove_stay_inside_the_corpus(
    corpus_copy: Path, tmp_path: Path, embedder: Embedder
) -> None:
    settings = settings_for(tmp_path / "idx", corpus_copy, max_upload_bytes=2048)
    runtime.reindex(settings, embedder)
    library = Library(settings, runtime.open_service(settings, embedder))
    saved = library.save_upload("../outside.txt", b"Inside now. Safe and sound.")
    assert saved.path == corpus_copy / "outside.txt" and not (tmp_path / "outside.txt").exists()
    assert library.save_upload("outside.txt", b"Changed text.").replaced
    with pytest.raises(ModerationError, match="limit is 2 KB"):
        library.save_upload("big.txt", b"x" * 4096)
    with pytest.raises(ModerationError, match="not UTF-8"):
        library.save_upload("latin.txt", "café".encode("latin-1"))
    with pytest.raises(ModerationError, match="No article with id"):
        library.remove("../idx")
    assert library.remove("outside") == [corpus_copy / "outside.txt"]


def test_no_corpus_folder_means_no_uploads(shared_index_dir: Path, embedder: Embedder) -> None:
    settings = load_settings(index_dir=shared_index_dir)
    library = Library(settings, runtime.open_service(settings, embedder))
    with pytest.raises(ModerationError, match="QUOTH_CORPUS_DIR"):
        library.save_upload("a.txt", b"text")


def test_rate_limiter_window() -> None:
    now = [0.0]
    limiter = SlidingWindowLimiter[int](2, window=60, clock=lambda: now[0])
    assert limiter.acquire(1) == 0 and limiter.acquire(1) == 0
    assert limiter.acquire(1) == pytest.approx(60)
    assert limiter.acquire(2) == 0
    now[0] = 30
    assert limiter.acquire(1) == pytest.approx(30)
    now[0] = 60.5
    assert limiter.acquire(1) == 0


async def test_reindex_takes_up_a_new_calibration(
    corpus_copy: Path, tmp_path: Path, embedder: Embedder
) -> None:
    settings = settings_for(tmp_path / "idx", corpus_copy)
    runtime.reindex(settings, embedder)
    library = Library(settings, runtime.open_service(settings, embedder))
    packaged = default_refusal(library.service.reranker)
    assert library.service.refusal == packaged and packaged.reranker == "quoth-answer"
    calibrated = replace(packaged, threshold=0.5, fitted_on={"probes.jsonl": 40})
    calibrated.save(settings.index_dir / STORED_NAME)
    await library.reindex()
    assert library.service.refusal == calibrated
    assert library.service.threshold() == 0.5


async def test_a_due_merge_runs_in_the_background_while_questions_are_answered(
    corpus_copy: Path, tmp_path: Path, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    from quoth.index import layered
    from quoth.index.layered import LayeredIndex

    settings = settings_for(tmp_path / "idx", corpus_copy)
    runtime.reindex(settings, embedder)
    library = Library(settings, runtime.open_service(settings, embedder))
    monkeypatch.setattr(layered, "MERGE_FLOOR", 30)  # this corpus is far below the real floor
    for path in sorted(corpus_copy.glob("*.txt"))[:3]:
        path.write_text(path.read_text() + "\nThe lighthouse on Gull Island opened in 1887.")
    report = await library.reindex()
    assert report.layered and report.merge_due and library.merging
    assert isinstance(library.service.index, LayeredIndex)  # the delta serves at once

    async def ask_while_merging() -> int:
        answered = 0
        while library.merging:
            answer = await asyncio.to_thread(
                library.service.answer, "Which water treaty did India suspend?"
            )
            assert "Indus Waters Treaty" in answer.quotes[0].sentence
            answered += 1
        return answered

    asking = asyncio.create_task(ask_while_merging())
    # A reindex asked for while the merge runs waits for it, then writes a delta over the
    # new base.
    (corpus_copy / "extra.md").write_text("# Extra\n\nThe ferry to Gull Island runs twice a day.")
    report = await library.reindex()
    assert await asking >= 1
    assert report.layered and not report.merge_due and report.added == ["extra"]
    index = library.service.index
    assert isinstance(index, LayeredIndex) and len(index.delta.articles) == 1
    assert index.base.manifest.articles == {
        k: v for k, v in index.manifest.articles.items() if k != "extra"
    }  # the merged base holds the three changed articles as they are now
    answer = library.service.answer("When did the lighthouse on Gull Island open?")
    assert "1887" in answer.quotes[0].sentence
