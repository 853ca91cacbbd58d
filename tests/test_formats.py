"""Reading .txt, .md and .html files and their metadata."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from quoth.corpus.formats import ArticleFormatError, parse_article


def write(path: Path, text: str) -> bytes:
    path.write_text(text, encoding="utf-8")
    return path.read_bytes()


def test_markdown_front_matter_and_markup_removed(tmp_path: Path) -> None:
    path = tmp_path / "guide.md"
    data = write(
        path,
        "---\ntitle: The Guide\nurl: https://example.org/guide\npublished: 2024-01-02\n---\n"
        "# Heading\n\nSome *emphasis* and a [link](https://x.y).\n\n- item one\n- item two\n",
    )
    raw = parse_article(path, data)
    assert raw.meta == {
        "title": "The Guide",
        "url": "https://example.org/guide",
        "published": "2024-01-02",
    }
    lines = [line for line in raw.text.splitlines() if line.strip()]
    assert lines == ["Heading", "Some emphasis and a link.", "item one", "item two"]


def test_html_metadata_and_body(tmp_path: Path) -> None:
    path = tmp_path / "page.html"
    data = write(
        path,
        """<html><head><title>Site | Story</title>
        <meta property="og:title" content="The Story">
        <link rel="canonical" href="https://news.example/story">
        <meta property="article:published_time" content="2025-03-04T10:00:00Z">
        <script>var tracking = 1;</script></head>
        <body><nav>Home News Sport</nav><article><h1>The Story</h1>
        <p>First paragraph &amp; more.</p><p>Second <b>bold</b> paragraph.</p></article>
        <footer>Copyright</footer></body></html>""",
    )
    raw = parse_article(path, data)
    assert raw.meta["title"] == "The Story"
    assert raw.meta["url"] == "https://news.example/story"
    assert raw.meta["published"].startswith("2025-03-04")
    lines = [line.strip() for line in raw.text.splitlines() if line.strip()]
    assert lines == ["The Story", "First paragraph & more.", "Second bold paragraph."]
    assert "tracking" not in raw.text and "Copyright" not in raw.text


def test_sidecar_metadata_overrides(tmp_path: Path) -> None:
    path = tmp_path / "note.txt"
    data = write(path, "Body text here.")
    (tmp_path / "note.meta.json").write_text(
        json.dumps({"title": "Sidecar title", "url": "https://e.org/n", "ignored": 1})
    )
    raw = parse_article(path, data)
    assert raw.meta == {"title": "Sidecar title", "url": "https://e.org/n"}


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("bin.txt", b"\x00\x01\x02binary", "binary"),
        ("latin.txt", "café".encode("latin-1"), "not UTF-8"),
        ("bad.md", b"---\ntitle: [unclosed\n---\nbody", "front matter"),
    ],
)
def test_unusable_files_explain_why(tmp_path: Path, name: str, data: bytes, message: str) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(ArticleFormatError, match=message):
        parse_article(path, data)


def test_broken_sidecar_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    data = write(path, "Text.")
    (tmp_path / "a.meta.json").write_text("{not json")
    with pytest.raises(ArticleFormatError, match=r"a\.meta\.json"):
        parse_article(path, data)
