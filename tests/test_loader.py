"""Loading a folder: ids, derived titles, skipped files, whole-corpus errors."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from quoth.corpus import CorpusError, load_corpus
from quoth.corpus.models import Article

from .conftest import ARTICLES


def test_real_corpus_ids_and_titles() -> None:
    corpus = load_corpus(ARTICLES)
    assert not corpus.skipped
    titles = {a.id: a.meta.title for a in corpus.articles}
    assert sorted(titles) == sorted(p.stem for p in ARTICLES.glob("*.txt"))
    by_prefix = {k[:3]: v for k, v in titles.items()}
    assert by_prefix["003"] == "Armenia and Pakistan to consider establishing diplomatic relations"
    # No headline line: the first sentence, shortened at a word boundary.
    assert by_prefix["000"].startswith("Amid rising regional tensions, Pakistan and Azerbaijan")
    assert by_prefix["000"].endswith("…") and len(by_prefix["000"]) <= 90


def test_recursive_ids_unique_and_hidden_ignored(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / ".git").mkdir()
    (tmp_path / "a" / "note.txt").write_text("First note. It is short.")
    (tmp_path / "b" / "note.md").write_text("# Second\n\nAnother note.")
    (tmp_path / ".git" / "x.txt").write_text("hidden")
    (tmp_path / "image.png").write_bytes(b"\x89PNG")
    ids = sorted(a.id for a in load_corpus(tmp_path).articles)
    assert ids == ["a--note", "b--note"]


def test_bad_files_skipped_rest_loaded(tmp_path: Path) -> None:
    (tmp_path / "good.txt").write_text("A good article. With two sentences.")
    (tmp_path / "binary.txt").write_bytes(b"\x00\xff\x00\xff")
    (tmp_path / "empty.txt").write_text("")
    (tmp_path / "latin1.txt").write_bytes("Café au lait.".encode("latin-1"))
    (tmp_path / "utf16.md").write_bytes("A UTF-16 article. Two sentences.".encode("utf-16"))
    (tmp_path / "huge.txt").write_bytes(b"Huge sentence here. " * 300_000)
    (tmp_path / "pdf.html").write_bytes(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\x00")
    corpus = load_corpus(tmp_path)
    assert [a.id for a in corpus.articles] == ["good"]
    reasons = {Path(s.path).name: s.reason for s in corpus.skipped}
    assert set(reasons) == {
        "binary.txt",
        "empty.txt",
        "latin1.txt",
        "utf16.md",
        "huge.txt",
        "pdf.html",
    }
    assert "larger than 5 MB" in reasons["huge.txt"]
    assert "binary" in reasons["binary.txt"]
    assert "no article text" in reasons["empty.txt"]
    assert "not UTF-8" in reasons["latin1.txt"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_permission_denied_skipped(tmp_path: Path) -> None:
    (tmp_path / "good.txt").write_text("A good article.")
    locked = tmp_path / "locked.txt"
    locked.write_text("secret")
    locked.chmod(0)
    corpus = load_corpus(tmp_path)
    assert [a.id for a in corpus.articles] == ["good"]
    assert "Permission denied" in corpus.skipped[0].reason


def test_missing_and_non_folder_corpus(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="does not exist"):
        load_corpus(tmp_path / "nope")
    file = tmp_path / "file.txt"
    file.write_text("x")
    with pytest.raises(CorpusError, match="not a folder"):
        load_corpus(file)


def test_unchanged_files_are_taken_from_the_previous_index(tmp_path: Path) -> None:
    from quoth.index.store import ArticleRecord

    note = tmp_path / "note.txt"
    note.write_text("Original text. Two sentences.")
    first = load_corpus(tmp_path).articles[0]
    remembered = ArticleRecord(
        id=first.id, title="Remembered", path=first.path, hash=first.hash,
        text="Remembered text.", source_hash=first.source_hash,
    )  # fmt: skip
    known = {first.path: remembered}
    assert load_corpus(tmp_path, known).articles[0].text == "Remembered text."  # not re-parsed
    (tmp_path / "note.meta.json").write_text('{"title": "New title"}')
    reparsed = load_corpus(tmp_path, known).articles[0]
    assert reparsed.meta.title == "New title" and reparsed.text.startswith("Original")
    note.write_text("Edited text.")
    assert load_corpus(tmp_path, known).articles[0].text == "Edited text."


def test_a_file_stamped_unchanged_is_not_read_and_a_fresh_one_is_hashed(tmp_path: Path) -> None:
    from quoth.index.store import ArticleRecord

    note, hour_ago = tmp_path / "note.txt", time.time() - 3600
    note.write_text("Original text. Two sentences.")
    os.utime(note, (hour_ago, hour_ago))
    first = load_corpus(tmp_path).articles[0]
    assert first.source_stamp.startswith(f"{note.stat().st_size}:")

    def remembered(article: Article) -> dict[str, ArticleRecord]:
        record = ArticleRecord(
            id=article.id, title=article.meta.title, path=article.path, hash=article.hash,
            text=article.text, source_hash=article.source_hash,
            source_stamp=article.source_stamp,
        )  # fmt: skip
        return {article.path: record}

    # Same size and time as stamped: taken from the index without reading the file.
    note.write_text("Replaced text. Two sentences.")  # same length
    os.utime(note, (hour_ago, hour_ago))
    assert load_corpus(tmp_path, remembered(first)).articles[0].text.startswith("Original")

    # A file written just now gets no stamp, so a same-size edit in the same clock tick is
    # still found by its bytes next time.
    note.write_text("Original text. Two sentences.")
    fresh = load_corpus(tmp_path, remembered(first)).articles[0]
    assert fresh.source_stamp == "" and fresh.text.startswith("Original")
    stamp = note.stat()
    note.write_text("Replaced text. Two sentences.")
    os.utime(note, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    assert load_corpus(tmp_path, remembered(fresh)).articles[0].text.startswith("Replaced")

    # A sidecar's change changes the stamp.
    os.utime(note, (hour_ago, hour_ago))
    stamped = load_corpus(tmp_path).articles[0]
    (tmp_path / "note.meta.json").write_text('{"title": "New title"}')
    os.utime(tmp_path / "note.meta.json", (hour_ago, hour_ago))
    assert load_corpus(tmp_path, remembered(stamped)).articles[0].meta.title == "New title"
