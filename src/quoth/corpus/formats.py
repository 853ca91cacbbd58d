"""Turn one article file (plain text, Markdown, HTML, PDF or Word) into text plus the metadata
it carries.

Each format reduces to the same thing: paragraphs of text separated by newlines, which the
cleaning rules then treat identically, so a page saved as HTML and the same page pasted as
text end up with the same passages.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from markdown_it import MarkdownIt
from selectolax.lexbor import LexborHTMLParser as HTMLParser

from quoth.corpus.errors import ArticleFormatError as ArticleFormatError  # its old home

TEXT_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm")
DOCUMENT_SUFFIXES = (".pdf", ".docx")
"""Binary documents (:mod:`quoth.corpus.documents`): no web furniture to clean, pages kept."""
SUPPORTED_SUFFIXES = TEXT_SUFFIXES + DOCUMENT_SUFFIXES
META_FIELDS = ("title", "url", "published", "source")
_DROP_TAGS = (
    "script", "style", "noscript", "nav", "header", "footer", "aside", "form", "iframe",
    "svg", "button", "figure", "template",
)  # fmt: skip
_BLOCK_TAGS = (
    "p", "div", "section", "article", "main", "li", "h1", "h2", "h3", "h4", "h5", "h6",
    "blockquote", "pre", "tr", "br", "dd", "dt", "figcaption", "td",
)  # fmt: skip


@dataclass(slots=True)
class RawArticle:
    """Text with paragraphs on their own lines, and whatever metadata the file declared."""

    text: str
    meta: dict[str, str] = field(default_factory=dict)
    pages: tuple[tuple[int, int], ...] = ()
    """For a paged document: (offset in ``text``, page number) where each page starts."""
    document: bool = False
    """An office document, not a web page: its text needs none of the web cleaning."""


def _string_meta(data: Any, origin: str) -> dict[str, str]:
    if not isinstance(data, dict):
        raise ArticleFormatError(f"{origin} must be a mapping of {', '.join(META_FIELDS)}")
    return {key: str(data[key]).strip() for key in META_FIELDS if data.get(key)}


def split_front_matter(text: str) -> tuple[dict[str, str], str]:
    """Separate a leading ``---`` YAML block from the body, as static-site generators write it."""
    if not text.startswith("---"):
        return {}, text
    lines = text.split("\n")
    for end, line in enumerate(lines[1:], start=1):
        if line.strip() in ("---", "..."):
            try:
                data = yaml.safe_load("\n".join(lines[1:end])) or {}
            except yaml.YAMLError as error:
                mark = getattr(error, "problem_mark", None)
                where = f" (line {mark.line + 1})" if mark is not None else ""
                problem = getattr(error, "problem", None) or "syntax error"
                raise ArticleFormatError(
                    f"front matter is not valid YAML{where}: {problem}"
                ) from None
            return _string_meta(data, "front matter"), "\n".join(lines[end + 1 :])
    return {}, text


def html_to_text(html: str) -> tuple[str, dict[str, str]]:
    """Extract readable paragraphs and page metadata from an HTML document."""
    tree = HTMLParser(html)
    meta: dict[str, str] = {}
    for key, selectors in {
        "title": ('meta[property="og:title"]', "title", "h1"),
        "url": ('link[rel="canonical"]', 'meta[property="og:url"]'),
        "published": ('meta[property="article:published_time"]', "time[datetime]"),
        "source": ('meta[property="og:site_name"]',),
    }.items():
        for selector in selectors:
            node = tree.css_first(selector)
            if node is None:
                continue
            value = (
                node.attributes.get("content")
                or node.attributes.get("href")
                or node.attributes.get("datetime")
                or node.text(strip=True)
            )
            if value:
                meta[key] = value.strip()
                break
    root = tree.css_first("article") or tree.css_first("main") or tree.body or tree.root
    if root is None:
        return "", meta
    root.strip_tags(list(_DROP_TAGS))
    for tag in _BLOCK_TAGS:
        for node in root.css(tag):
            node.insert_after("\n")
    return root.text(separator="", strip=False), meta


_MARKDOWN = MarkdownIt("commonmark")


def markdown_to_text(markdown: str) -> str:
    """Render Markdown to plain paragraphs, so link syntax and emphasis never reach a quote."""
    text, _ = html_to_text(f"<html><body>{_MARKDOWN.render(markdown)}</body></html>")
    return text


def read_sidecar(path: Path) -> dict[str, str]:
    """Read ``NAME.meta.json`` next to an article, the metadata channel for plain text files."""
    sidecar = path.with_name(f"{path.stem}.meta.json")
    if not sidecar.is_file():
        return {}
    try:
        data = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ArticleFormatError(f"{sidecar.name} is not valid JSON: {error}") from None
    return _string_meta(data, sidecar.name)


def decode_article_bytes(data: bytes) -> str:
    """Decode UTF-8 (with or without BOM); anything else is rejected rather than garbled."""
    if b"\x00" in data[:8192]:
        raise ArticleFormatError("looks like a binary file, not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ArticleFormatError(f"is not UTF-8 text (byte {error.start})") from None


def parse_article(path: Path, data: bytes) -> RawArticle:
    """Parse an article file's bytes according to its suffix, merging sidecar metadata."""
    suffix = path.suffix.lower()
    if suffix in DOCUMENT_SUFFIXES:
        from quoth.corpus.documents import READERS  # pypdf, python-docx: loaded when needed

        document = READERS[suffix](data)
        declared = {**document.meta, **read_sidecar(path)}
        return RawArticle(document.text, declared, document.pages, document=True)
    text = decode_article_bytes(data)
    meta: dict[str, str] = {}
    if suffix in (".md", ".markdown"):
        meta, body = split_front_matter(text)
        text = markdown_to_text(body)
    elif suffix in (".html", ".htm"):
        text, meta = html_to_text(text)
    elif suffix == ".txt":
        meta, text = split_front_matter(text)
    else:
        raise ArticleFormatError(f"unsupported file type {suffix or '(none)'}")
    meta.update(read_sidecar(path))
    return RawArticle(text=text, meta=meta)
