"""Text out of office documents: PDF (with its pages) and Word ``.docx``.

Reports, statements and briefings reach moderators as PDF or Word files. Each is read with a
maintained library (pypdf, python-docx) into paragraphs; a PDF's pages are kept, so a quote
cites its page. What cannot be read is refused in one line that says what to do, never
indexed as an empty or garbled article.
"""

from __future__ import annotations

import io
import logging
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from quoth.corpus.errors import ArticleFormatError
from quoth.corpus.pages import PagedText, assemble_pages

MAX_PDF_PAGES = 2000
"""More pages than this is a book or a scan dump, not an article; refused before reading."""
MIN_TEXT_CHARS_PER_PAGE = 20
"""Below this on average, the pages are pictures of text (a scan), not text."""
_FILE_NAME_TITLE = re.compile(r"(^microsoft \w+ - |\.(docx?|pdf|odt|rtf|txt)$|^untitled)", re.I)

for _name in ("pypdf", "pdfminer"):
    logging.getLogger(_name).setLevel(logging.ERROR)  # both warn on every odd object


@dataclass(frozen=True, slots=True)
class Document:
    """A document's paragraphs (one a line), pages when it has them, and its own metadata."""

    text: str
    meta: dict[str, str]
    pages: tuple[tuple[int, int], ...] = ()
    """(offset in ``text``, page number) where each page's text starts."""


def usable_title(title: object) -> str | None:
    """A document's stored title, unless it is empty or a file name a program put there."""
    text = str(title or "").strip()
    if not text or _FILE_NAME_TITLE.search(text):
        return None
    return text


def _pdf_date(value: object) -> str | None:
    if isinstance(value, datetime):
        return value.date().isoformat()
    return None


def read_pdf(data: bytes, max_pages: int = MAX_PDF_PAGES) -> Document:
    """The text layer of a PDF, page by page (pypdf), with running headers, footers and page
    numbers removed and wrapped lines joined."""
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError, PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise ArticleFormatError("is an encrypted PDF; save it without a password first")
        count = len(reader.pages)
        if count > max_pages:
            raise ArticleFormatError(f"has {count} pages; at most {max_pages} are read")
        pages = [page.extract_text() or "" for page in reader.pages]
        info = reader.metadata
        meta = _pdf_meta(info)
    except ArticleFormatError:
        raise
    except (FileNotDecryptedError, DependencyError):
        raise ArticleFormatError("is an encrypted PDF; save it without a password first") from None
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError) as error:
        raise ArticleFormatError(f"is a damaged PDF ({_first_line(error)})") from None
    return _paged(pages, meta)


def _pdf_meta(info: object) -> dict[str, str]:
    if info is None:
        return {}
    meta: dict[str, str] = {}
    title = usable_title(getattr(info, "title", None))
    if title:
        meta["title"] = title
    published = _pdf_date(getattr(info, "creation_date", None))
    if published:
        meta["published"] = published
    return meta


def read_pdf_pdfminer(data: bytes, max_pages: int = MAX_PDF_PAGES) -> Document:
    """The same through pdfminer.six's layout analysis; kept to measure against pypdf
    (``bench/documents.py``), not used to index."""
    from pdfminer.high_level import extract_pages
    from pdfminer.layout import LTTextContainer

    pages: list[str] = []
    try:
        for number, layout in enumerate(extract_pages(io.BytesIO(data)), start=1):
            if number > max_pages:
                raise ArticleFormatError(f"has more than {max_pages} pages")
            pages.append(
                "".join(item.get_text() for item in layout if isinstance(item, LTTextContainer))
            )
    except ArticleFormatError:
        raise
    except Exception as error:  # pdfminer raises many unrelated types on a damaged file
        raise ArticleFormatError(f"is a damaged or encrypted PDF ({_first_line(error)})") from None
    return _paged(pages, {})


def _paged(pages: list[str], meta: dict[str, str]) -> Document:
    if not pages:
        raise ArticleFormatError("is a PDF without pages")
    if sum(len(page.strip()) for page in pages) < MIN_TEXT_CHARS_PER_PAGE * len(pages):
        raise ArticleFormatError("has no text layer (a scan?); OCR it first")
    paged: PagedText = assemble_pages(pages)
    return Document(paged.text, meta, paged.pages)


def read_docx(data: bytes) -> Document:
    """A Word file's body paragraphs and table rows in document order (python-docx); page
    headers and footers live apart from the body in a .docx and are left out with it. Its
    stored creation date is not taken: templates carry theirs into every file."""
    import docx
    from docx.opc.exceptions import PackageNotFoundError
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    try:
        document = docx.Document(io.BytesIO(data))
        lines: list[str] = []
        for block in document.iter_inner_content():
            if isinstance(block, Paragraph):
                lines.append(block.text)
            elif isinstance(block, Table):
                lines.extend(_table_lines(block))
        properties = document.core_properties
        meta: dict[str, str] = {}
        title = usable_title(properties.title)
        if title:
            meta["title"] = title
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as error:
        raise ArticleFormatError(f"is not a readable Word file ({_first_line(error)})") from None
    return Document("\n".join(lines), meta)


def _table_lines(table: Any) -> list[str]:
    """A line per row, its cells joined by " | " (a merged cell, which python-docx reports
    in every column it spans, once)."""
    lines: list[str] = []
    for row in table.rows:
        cells: list[str] = []
        previous: object = None  # the cell's XML element, held so that ``is`` compares it
        for cell in row.cells:
            if cell._tc is previous:
                continue
            previous = cell._tc
            cells.append(" ".join(p.text for p in cell.paragraphs).strip())
        if any(cells):
            lines.append(" | ".join(cells))
    return lines


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return (text.splitlines()[0] if text else type(error).__name__)[:120]


READERS: dict[str, Callable[[bytes], Document]] = {".pdf": read_pdf, ".docx": read_docx}
"""Binary formats by suffix; the text formats are read in :mod:`quoth.corpus.formats`."""
