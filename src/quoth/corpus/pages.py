"""From the lines of a paged document's pages to paragraphs that know their page.

A PDF's text layer holds what was printed, line by line: every page repeats its running
header, footer and page number, and a paragraph is broken wherever the printer wrapped it.
Quoting either would be wrong (a header is not the article; a sentence cut at a line end
reads as two), so this removes what repeats at the top or bottom of the pages, joins wrapped
lines back into paragraphs, and remembers each paragraph's page so a quote can cite it.
"""

from __future__ import annotations

import bisect
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from quoth.corpus.cleaning import normalise_whitespace

EDGE_LINES = 3
"""Lines at the top and at the bottom of a page where running headers and footers sit."""
_DIGITS = re.compile(r"\d+")
_PAGE_NUMBER = re.compile(
    r"^(?:[-–—(\[]\s*)?(?:page\s+|p\.\s*)?\d{1,5}(?:\s*(?:of|/)\s*\d{1,5})?(?:\s*[-–—)\]])?$",
    re.IGNORECASE,
)
_ROMAN_PAGE = re.compile(r"^[ivxlc]{1,7}$", re.IGNORECASE)
_SENTENCE_END = tuple(".!?…:;\"'”’»)")
_HYPHENATED = re.compile(r"[A-Za-z]-$")
SHORT_LINE = 0.6
"""A line shorter than this share of the page's usual line length ends its paragraph (a
heading, a paragraph's last line)."""


@dataclass(frozen=True, slots=True)
class PagedText:
    """Paragraphs on their own lines, and where each page's text starts in it.

    ``pages`` holds (character offset, page number) pairs in order; a page that kept no text
    (blank, or only furniture) has none."""

    text: str
    pages: tuple[tuple[int, int], ...]


def _shape(line: str) -> str:
    """A line with its numbers blanked, so "Page 3" and "Page 4" count as one repeat."""
    return _DIGITS.sub("#", line.casefold())


def is_page_number(line: str) -> bool:
    return bool(_PAGE_NUMBER.match(line) or _ROMAN_PAGE.match(line))


def _repeated_edges(pages: Sequence[Sequence[str]]) -> set[str]:
    """Shapes of lines found at the top or bottom of at least half of the pages (and on two
    at least): running headers and footers."""
    if len(pages) < 2:
        return set()
    seen: Counter[str] = Counter()
    for lines in pages:
        edges = {*lines[:EDGE_LINES], *lines[-EDGE_LINES:]}
        seen.update({_shape(line) for line in edges})
    needed = max(2, (len(pages) + 1) // 2)
    return {shape for shape, count in seen.items() if count >= needed}


def _strip_furniture(lines: list[str], repeated: set[str]) -> list[str]:
    """Drop running headers, footers and page numbers from the edges of one page (a PDF's
    text layer may hold a footer before the body: it is in the order it was drawn)."""
    edge = EDGE_LINES
    return [
        line
        for at, line in enumerate(lines)
        if not (
            (at < edge or at >= len(lines) - edge)
            and (is_page_number(line) or _shape(line) in repeated)
        )
    ]


def _join_wrapped(lines: Sequence[tuple[str, int]]) -> PagedText:
    """Join (line, page) pairs the printer wrapped back into paragraphs (one a line of the
    text; a paragraph may go on over a page break), and hyphenated words back into words; a
    line ends its paragraph when it ends a sentence or is clearly short."""
    if not lines:
        return PagedText("", ())
    lengths = sorted(len(line) for line, _ in lines)
    usual = lengths[(len(lengths) * 3) // 4]
    text: list[str] = []
    starts: list[tuple[int, int]] = []
    size = 0  # characters of the text so far
    open_paragraph = False
    for line, page in lines:
        if open_paragraph and _HYPHENATED.search(text[-1]) and line[:1].islower():
            text[-1] = text[-1][:-1]
            size -= 1
        elif open_paragraph:
            text.append(" ")
            size += 1
        elif text:
            text.append("\n")
            size += 1
        if not starts or starts[-1][1] != page:
            starts.append((size, page))
        text.append(line)
        size += len(line)
        open_paragraph = not (line.endswith(_SENTENCE_END) or len(line) < SHORT_LINE * usual)
    return PagedText("".join(text), tuple(starts))


def assemble_pages(pages: Sequence[str]) -> PagedText:
    """The text of a paged document, given each page's extracted text (page 1 first)."""
    page_lines = [
        [line for line in (normalise_whitespace(raw) for raw in page.splitlines()) if line]
        for page in pages
    ]
    repeated = _repeated_edges(page_lines)
    return _join_wrapped(
        [
            (line, number)
            for number, lines in enumerate(page_lines, start=1)
            for line in _strip_furniture(lines, repeated)
        ]
    )


def page_at(pages: Sequence[tuple[int, int]], offset: int) -> int | None:
    """The page a character offset of the text is on, or None for a text without pages."""
    if not pages:
        return None
    at = bisect.bisect_right([start for start, _ in pages], offset) - 1
    return pages[max(at, 0)][1]
