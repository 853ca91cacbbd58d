"""Changes published as changes: a version is a shared base build plus a small delta, and it
serves what a build from nothing over the same articles would serve."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from quoth import runtime
from quoth.index import Embedder, load_index
from quoth.index.layered import LayeredIndex
from quoth.index.lexical import tokenize
from quoth.index.reader import IndexReader
from quoth.retrieval.service import AnsweringService

from .conftest import SEED_QUESTIONS, settings_for
from .index_views import bm25_by_content, same_passages

QUESTIONS = [json.loads(line)["question"] for line in SEED_QUESTIONS.read_text().splitlines()]


def answers(service: AnsweringService) -> list[tuple[bool, list[tuple[str, str, float]]]]:
    out = []
    for question in QUESTIONS:
        answer = service.answer(question)
        quotes = [(q.passage_id, q.sentence, round(q.score, 4)) for q in answer.quotes]
        out.append((answer.answered, quotes))
    return out


def assert_serves_like_a_fresh_build(
    index: IndexReader, corpus: Path, tmp_path: Path, embedder: Embedder
) -> None:
    scratch_dir = tmp_path / "scratch"
    shutil.rmtree(scratch_dir, ignore_errors=True)
    settings = settings_for(scratch_dir, corpus)
    fresh, _ = runtime.rebuild(settings, embedder)
    same_passages(index, fresh)
    for question in [*QUESTIONS[:8], "Pahalgam attack retaliation jets", "zzz unknown"]:
        terms = tokenize([question])[0]
        for ours, theirs in zip(
            bm25_by_content(index, terms), bm25_by_content(fresh, terms), strict=True
        ):
            assert ours.keys() == theirs.keys()
            assert np.allclose([ours[k] for k in theirs], list(theirs.values()), atol=1e-5)
    assert answers(runtime.serving(settings, index, embedder)) == answers(
        runtime.serving(settings, fresh, embedder)
    )


def test_successive_changes_serve_like_a_build_from_nothing(
    corpus_copy: Path, tmp_path: Path, embedder: Embedder
) -> None:
    settings = settings_for(tmp_path / "idx", corpus_copy)
    index, report = runtime.rebuild(settings, embedder)
    assert not report.layered
    files = sorted(corpus_copy.glob("*.txt"))
    original = files[1].read_text()
    removed_text = files[3].read_text()

    def change(path: Path, text: str) -> None:
        nonlocal index, report
        path.write_text(text)
        index, report = runtime.rebuild(settings, embedder, previous=index)

    change(files[1], original + "\nThe ministry added a correction on Tuesday.")  # changed
    change(corpus_copy / "bridge.md", "# Bridge\n\nThe bridge over the Kura opened in 2021.")
    files[3].unlink()  # removed
    index, report = runtime.rebuild(settings, embedder, previous=index)
    assert report.removed == [files[3].stem] and report.layered
    change(files[1], original + "\nA second correction followed on Friday.")  # again
    change(files[3], removed_text)  # re-added as it was: served from the base again
    assert report.added == [files[3].stem] and report.embedded_texts == 0
    change(files[1], original)  # back to the base's text
    assert isinstance(index, LayeredIndex)
    assert report.embedded_texts == 0 and index.removed_articles.size == 0
    (corpus_copy / "bridge.md").unlink()
    index, report = runtime.rebuild(settings, embedder, previous=index)
    change(files[0], files[0].read_text().replace("Pakistan", "Pakistan's", 3))
    assert isinstance(index, LayeredIndex) and report.layered
    assert len(index.delta.articles) == 1 and index.removed_articles.tolist() == [0]

    # What is on disk opens as the same version, and serves like a build from nothing.
    reopened = load_index(settings.index_dir, embedder.name)
    assert isinstance(reopened, LayeredIndex)
    same_passages(index, reopened)
    assert_serves_like_a_fresh_build(reopened, corpus_copy, tmp_path, embedder)


@pytest.fixture
def small_merge_limit(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """A merge due past 30 passages: the reference corpus is far below the real floor."""
    from quoth.index import layered

    monkeypatch.setattr(layered, "MERGE_FLOOR", 30)
    return monkeypatch


def test_a_delta_past_its_share_is_due_a_merge_and_a_merge_copies_every_vector(
    corpus_copy: Path, tmp_path: Path, embedder: Embedder, small_merge_limit: pytest.MonkeyPatch
) -> None:
    from quoth.index import vectors

    small_merge_limit.setattr(vectors, "CODES_FROM", 40)  # the delta past it: 8-bit codes
    settings = settings_for(tmp_path / "idx", corpus_copy)
    base, _ = runtime.rebuild(settings, embedder)
    files = sorted(corpus_copy.glob("*.txt"))
    files[0].write_text(files[0].read_text() + "\nOne more line.")
    index, report = runtime.rebuild(settings, embedder, previous=base)
    assert report.layered and not report.merge_due  # one article: under the limit
    for path in files[1:]:
        path.write_text(path.read_text() + "\nThe committee met again on Thursday to review it.")
    index, report = runtime.rebuild(settings, embedder, previous=index)
    # Past the limit: still only a delta (what serves at once), with the merge due.
    assert report.layered and report.merge_due and isinstance(index, LayeredIndex)
    assert report.embedded_texts > 0 and len(report.changed) >= 3  # 003 ends in boilerplate
    assert not all(a.source_stamp for a in index.articles)  # files written just now
    assert index.delta.manifest.vector_index == "sq8"  # searched as codes, re-scored exactly
    assert_serves_like_a_fresh_build(index, corpus_copy, tmp_path, embedder)
    for path in files:  # ...are older by the time the merge runs
        os.utime(path, (time.time() - 60, time.time() - 60))
    done = runtime.merge(settings, embedder, previous=index)
    assert done is not None  # the files backend always merges
    merged, merge_report = done
    assert not merge_report.layered and not isinstance(merged, LayeredIndex)
    assert all(a.source_stamp for a in merged.articles)  # later reindexes need not read them
    assert merge_report.embedded_texts == 0 and merge_report.changed == []
    assert_serves_like_a_fresh_build(merged, corpus_copy, tmp_path, embedder)


def test_a_change_far_past_the_limit_is_written_whole_at_once(
    corpus_copy: Path, tmp_path: Path, embedder: Embedder, small_merge_limit: pytest.MonkeyPatch
) -> None:
    from quoth.index import layered

    small_merge_limit.setattr(layered, "DELTA_CEILING_FACTOR", 2)  # 60 passages at most
    settings = settings_for(tmp_path / "idx", corpus_copy)
    base, _ = runtime.rebuild(settings, embedder)
    for path in sorted(corpus_copy.glob("*.txt")):
        path.write_text(path.read_text() + "\nThe committee met again on Thursday to review it.")
    index, report = runtime.rebuild(settings, embedder, previous=base)
    assert not report.layered and not report.merge_due and not isinstance(index, LayeredIndex)


def test_a_reader_of_an_old_version_keeps_answering(
    corpus_copy: Path, tmp_path: Path, embedder: Embedder
) -> None:
    settings = settings_for(tmp_path / "idx", corpus_copy)
    runtime.rebuild(settings, embedder)
    files = sorted(corpus_copy.glob("*.txt"))
    files[2].write_text(files[2].read_text() + "\nA note was appended.")
    runtime.rebuild(settings, embedder)
    old = runtime.open_service(settings, embedder)
    before = answers(old)
    for number in range(3):  # each publication prunes older versions' folders
        files[number].write_text(files[number].read_text() + f"\nUpdate {number}.")
        runtime.rebuild(settings, embedder)
    assert answers(old) == before


def test_a_copied_folder_with_a_delta_opens_and_lends_its_vectors(
    corpus_copy: Path, tmp_path: Path, embedder: Embedder
) -> None:
    """A copy made by a tool that follows links (``current`` becomes a real folder) still
    finds the delta's base, so a replica's copied build cache embeds nothing again."""
    settings = settings_for(tmp_path / "idx", corpus_copy)
    runtime.rebuild(settings, embedder)
    extra = corpus_copy / "extra.txt"
    extra.write_text("Quoth test note\n\nThe quoth test garden grows seventeen blue tulips.")
    runtime.rebuild(settings, embedder)
    shutil.copytree(settings.index_dir, tmp_path / "copy")  # links followed
    copied = settings_for(tmp_path / "copy", corpus_copy)
    assert isinstance(load_index(copied.index_dir, embedder.name), LayeredIndex)
    extra.write_text(extra.read_text() + " They flower in May.")
    _, report = runtime.rebuild(copied, embedder)
    assert report.changed == ["extra"] and report.reused == 5 and report.layered
