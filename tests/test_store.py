"""The on-disk index: round trip, refusal of foreign or damaged indexes, crash safety."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from quoth import runtime
from quoth.index import (
    Embedder,
    IndexBusyError,
    IndexCorruptError,
    IndexData,
    IndexMismatchError,
    IndexNotFoundError,
    load_index,
)
from quoth.index.store import build_lock, write_index

from .conftest import ARTICLES, settings_for


@pytest.fixture
def index_copy(shared_index_dir: Path, tmp_path: Path) -> Path:
    target = tmp_path / "index"
    shutil.copytree(shared_index_dir, target, symlinks=True)
    return target


def test_round_trip(shared_index: IndexData, embedder: Embedder, tmp_path: Path) -> None:
    # written to a folder of its own: other tests may republish the shared index folder, so
    # reading that back would compare against whichever build ran last (order-dependent)
    index_dir = tmp_path / "idx"
    write_index(
        index_dir, shared_index.manifest, shared_index.articles, shared_index.sentences,
        shared_index.passages, shared_index.passage_ids, np.asarray(shared_index.passage_vectors),
        np.asarray(shared_index.sentence_vectors), shared_index.lexical,
    )  # fmt: skip
    again = load_index(index_dir, embedder.name)
    assert isinstance(again, IndexData)
    # the vector index is built again from the same vectors: its bytes may differ, its answers not
    rebuilt = {"passages.faiss", "passages.flat.npy"}

    def kept(data: IndexData) -> dict[str, object]:
        files = {k: v for k, v in data.manifest.files.items() if k not in rebuilt}
        return data.manifest.model_dump() | {"files": files}

    assert kept(again) == kept(shared_index)
    assert set(again.manifest.files) == set(shared_index.manifest.files)
    probe = np.asarray(shared_index.passage_vectors[:3], dtype=np.float32)
    for row in range(3):
        assert again.dense_search(probe[row], 5) == shared_index.dense_search(probe[row], 5)
    assert np.array_equal(again.passages, shared_index.passages)
    assert np.array_equal(again.sentences, shared_index.sentences)
    assert np.array_equal(again.passage_vectors, shared_index.passage_vectors)
    assert [a.text for a in again.articles] == [a.text for a in shared_index.articles]
    assert again.vectors.size == len(again.passages) == again.manifest.passages
    assert np.allclose(
        np.linalg.norm(again.passage_vectors, axis=1), 1.0, atol=1e-3
    )  # stored as float16
    assert set(again.manifest.articles) == {p.stem for p in ARTICLES.glob("*.txt")}


def test_missing_index(tmp_path: Path) -> None:
    with pytest.raises(IndexNotFoundError, match="quoth index"):
        load_index(tmp_path / "none", "all-MiniLM-L6-v2")


def test_foreign_model_refused(index_copy: Path) -> None:
    with pytest.raises(IndexMismatchError, match="'all-MiniLM-L6-v2' but QUOTH_MODEL is 'other'"):
        load_index(index_copy, "other")


def test_other_format_refused(index_copy: Path, embedder: Embedder) -> None:
    manifest = index_copy / "current" / "manifest.json"
    data = json.loads(manifest.read_text())
    data["format_version"] = 99
    manifest.write_text(json.dumps(data))
    with pytest.raises(IndexMismatchError, match="format 99"):
        load_index(index_copy, embedder.name)


@pytest.mark.parametrize("name", ["passage_vectors.npy", "articles.json", "passages.flat.npy"])
def test_damaged_file_refused(index_copy: Path, embedder: Embedder, name: str) -> None:
    path = index_copy / "current" / name
    path.write_bytes(path.read_bytes()[:-7])
    with pytest.raises(IndexCorruptError, match=f"{name} is missing or damaged"):
        load_index(index_copy, embedder.name)


def test_damaged_manifest_refused(index_copy: Path, embedder: Embedder) -> None:
    (index_copy / "current" / "manifest.json").write_text("{")
    with pytest.raises(IndexCorruptError, match="manifest"):
        load_index(index_copy, embedder.name)


def test_failed_write_keeps_previous_index(
    index_copy: Path, shared_index: IndexData, embedder: Embedder
) -> None:
    before = load_index(index_copy, embedder.name).manifest
    whole = shared_index
    broken_ids = np.array([object()] * len(whole.passage_ids), dtype=object)
    with pytest.raises(ValueError, match="pickle"):
        write_index(
            index_copy, whole.manifest, whole.articles, whole.sentences, whole.passages,
            broken_ids, np.asarray(whole.passage_vectors), np.asarray(whole.sentence_vectors),
            whole.lexical,
        )  # fmt: skip
    assert load_index(index_copy, embedder.name).manifest == before
    assert not list((index_copy / "builds").glob(".staging-*"))


def test_second_builder_refused_while_one_runs(
    corpus_copy: Path, tmp_path: Path, embedder: Embedder
) -> None:
    index_dir = tmp_path / "idx"
    with build_lock(index_dir), pytest.raises(IndexBusyError, match="Another reindex"):
        runtime.reindex(settings_for(index_dir, corpus_copy), embedder)


def test_old_builds_pruned(corpus_copy: Path, tmp_path: Path, embedder: Embedder) -> None:
    index_dir = tmp_path / "idx"
    settings = settings_for(index_dir, corpus_copy)
    for _ in range(3):
        runtime.reindex(settings, embedder)
    builds = sorted((index_dir / "builds").iterdir())
    # The first build is the base both later deltas layer on; the current delta and one spare.
    assert len(builds) == 3
    assert (index_dir / "current").resolve() == builds[-1]
    for _ in range(2):
        runtime.reindex(settings, embedder)
    kept = sorted((index_dir / "builds").iterdir())
    assert kept[0] == builds[0] and builds[1] not in kept and len(kept) == 3
    load_index(index_dir, embedder.name)


def test_kill_during_reindex_leaves_an_index_that_loads(
    index_copy: Path, corpus_copy: Path, embedder: Embedder
) -> None:
    """SIGKILL a real ``quoth index`` as soon as it starts writing: old or new, never broken."""
    before = load_index(index_copy, embedder.name).manifest
    (corpus_copy / "extra.txt").write_text("An extra article was added. It says little.")
    env = {**os.environ, "QUOTH_INDEX_DIR": str(index_copy)}
    process = subprocess.Popen(
        [sys.executable, "-m", "quoth", "index", str(corpus_copy)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    builds = index_copy / "builds"
    while process.poll() is None and time.monotonic() < deadline:
        if any(builds.glob(".staging-*")):
            process.send_signal(signal.SIGKILL)
            break
        time.sleep(0.001)
    process.wait(timeout=60)
    after = load_index(index_copy, embedder.name).manifest
    assert after == before or "extra" in after.articles
    finished = subprocess.run(
        [sys.executable, "-m", "quoth", "index", str(corpus_copy)],
        env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert finished.returncode == 0, finished.stderr  # no stale lock or staging blocks it
    assert "extra" in load_index(index_copy, embedder.name).manifest.articles
