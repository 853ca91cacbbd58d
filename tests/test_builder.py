"""Incremental builds: only changed articles are embedded again."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from quoth import runtime
from quoth.corpus import CorpusError, split_passages, split_sentences
from quoth.index import Embedder
from quoth.index.lexical import tokenize

from .conftest import settings_for
from .index_views import bm25_by_content, live_passages, same_passages


def test_only_the_changed_article_is_embedded(
    corpus_copy: Path, tmp_path: Path, embedder: Embedder
) -> None:
    settings = settings_for(tmp_path / "idx", corpus_copy)
    first, report = runtime.rebuild(settings, embedder)
    assert report.added and not report.changed and report.reused == 0

    target = sorted(corpus_copy.glob("002_*.txt"))[0]
    target.write_text(target.read_text() + "\nA new closing sentence was added today.")
    second, report = runtime.rebuild(settings, embedder)

    changed = next(a for a in second.articles if a.id == target.stem)
    sentences = split_sentences(changed.id, changed.text)
    passages = split_passages(changed.id, changed.text, sentences, 3, 2)
    assert report.changed == [target.stem]
    assert report.added == report.removed == []
    assert report.reused == 4
    assert report.embedded_texts == len(sentences) + len(passages)
    before, after = live_passages(first), live_passages(second)
    kept = {k: v for k, v in before.items() if v[0] != target.stem}
    assert kept and all(np.array_equal(after[k][3], v[3]) for k, v in kept.items())

    # BM25 from stored term counts scores exactly like a build from nothing.
    scratch, _ = runtime.rebuild(settings_for(tmp_path / "scratch", corpus_copy), embedder)
    for question in ("new closing sentence added today", "Heydar Aliyev visit 1996"):
        terms = tokenize([question])[0]
        for incremental, fresh in zip(
            bm25_by_content(second, terms), bm25_by_content(scratch, terms), strict=True
        ):
            assert any(incremental.values())
            assert incremental.keys() == fresh.keys()
            assert np.allclose([incremental[k] for k in fresh], list(fresh.values()))


def test_added_and_removed_articles_reported(
    corpus_copy: Path, tmp_path: Path, embedder: Embedder
) -> None:
    settings = settings_for(tmp_path / "idx", corpus_copy)
    runtime.rebuild(settings, embedder)
    removed = sorted(corpus_copy.glob("004_*.txt"))[0]
    removed.unlink()
    (corpus_copy / "new-one.md").write_text("# Fresh\n\nThe bridge opened in June 2021.")
    index, report = runtime.rebuild(settings, embedder)
    assert report.added == ["new-one"]
    assert report.removed == [removed.stem]
    assert report.reused == 4
    assert removed.stem not in index.manifest.articles


def test_changed_chunking_re_embeds_everything(
    corpus_copy: Path, tmp_path: Path, embedder: Embedder
) -> None:
    runtime.rebuild(settings_for(tmp_path / "idx", corpus_copy), embedder)
    settings = settings_for(tmp_path / "idx", corpus_copy, passage_sentences=2, passage_overlap=1)
    index, report = runtime.rebuild(settings, embedder)
    assert report.reused == 0
    assert index.manifest.passage_sentences == 2


def test_empty_corpus_refused_and_index_kept(tmp_path: Path, embedder: Embedder) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(CorpusError, match="No articles"):
        runtime.rebuild(settings_for(tmp_path / "idx", empty), embedder)


def test_unchanged_rebuild_reproduces_the_index(
    corpus_copy: Path, tmp_path: Path, embedder: Embedder
) -> None:
    settings = settings_for(tmp_path / "idx", corpus_copy)
    first, _ = runtime.rebuild(settings, embedder)
    second, report = runtime.rebuild(settings, embedder)
    assert report.embedded_texts == 0 and report.reused == len(first.articles)
    same_passages(first, second)
