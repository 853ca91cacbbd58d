"""Which PDF extractor keeps an article's sentences and their order: pypdf or pdfminer.six.

    pip install pdfminer.six==20260107   # not a dependency of quoth's: see below
    python -m bench.documents > bench/results/DATE-pdf-extractors.json

Real articles (the reference corpus and the development Wikipedia article, read from
``../shared``) are typeset here as PDFs the way reports are printed: one column and two
columns, justified, with a running header and a page number on every page. Each extractor's
text then goes through the same page assembly (:mod:`quoth.corpus.pages`), and is scored
on what a quote needs:

- ``sentences_kept``: share of the article's sentences found verbatim (spacing aside);
- ``in_order``: share of consecutive kept sentences that come out in reading order;
- ``furniture_left``: running headers and page numbers left in the text, per page;
- ``seconds``: extraction time, and its ratio to pypdf's in the same run.

pdfminer.six is measured only where it is installed: it requires cryptography, which
python-telegram-bot imports wherever it finds it, so no environment of quoth's carries it.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import itertools
import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.report import run_and_print
from quoth.corpus.cleaning import normalise_whitespace
from quoth.corpus.documents import Document, read_pdf, read_pdf_pdfminer
from quoth.corpus.splitting import sentence_spans

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("QUOTH_SHARED_DIR", REPO.parent / "shared"))
HEADER = "Example Ministry - Annual Report"
EXTRACTORS: dict[str, Callable[[bytes], Document]] = {"pypdf": read_pdf}
if importlib.util.find_spec("pdfminer") is not None:
    EXTRACTORS["pdfminer.six"] = read_pdf_pdfminer


def articles() -> dict[str, list[str]]:
    """Each shared article's paragraphs (lines long enough to be body text)."""
    files = sorted((SHARED / "corpus" / "articles").glob("*.txt"))
    files += sorted((SHARED / "eval" / "squad-dev" / "articles").glob("*.txt"))
    found = {}
    for path in files:
        lines = [normalise_whitespace(line) for line in path.read_text("utf-8").splitlines()]
        found[path.stem] = [line for line in lines if len(line.split()) >= 12]
    return found


def typeset(paragraphs: list[str], columns: int) -> bytes:
    """The paragraphs as a justified A4 PDF with a running header and page numbers."""
    from xml.sax.saxutils import escape

    from reportlab.lib.enums import TA_JUSTIFY
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
    from reportlab.platypus import BaseDocTemplate, Frame, PageTemplate, Paragraph

    width, height = A4
    margin, gap = 60.0, 18.0
    frame_width = (width - 2 * margin - gap * (columns - 1)) / columns
    frames = [
        Frame(margin + i * (frame_width + gap), margin, frame_width, height - 2 * margin)
        for i in range(columns)
    ]

    def furniture(canvas: Any, document: Any) -> None:
        canvas.saveState()
        canvas.setFont("Helvetica", 8)
        canvas.drawString(margin, height - 36, HEADER)
        canvas.drawCentredString(width / 2, 30, f"Page {document.page}")
        canvas.restoreState()

    buffer = io.BytesIO()
    document = BaseDocTemplate(buffer, pagesize=A4)
    document.addPageTemplates([PageTemplate("body", frames, onPage=furniture)])
    style = ParagraphStyle("body", getSampleStyleSheet()["BodyText"], alignment=TA_JUSTIFY)
    document.build([Paragraph(escape(p), style) for p in paragraphs])
    return buffer.getvalue()


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def score(paragraphs: list[str], document: Document, pages: int) -> dict[str, float]:
    text = _squash(document.text)
    positions = []
    total = 0
    for paragraph in paragraphs:
        for start, end in sentence_spans(paragraph):
            total += 1
            at = text.find(_squash(paragraph[start:end]))
            if at >= 0:
                positions.append(at)
    ordered = sum(1 for a, b in itertools.pairwise(positions) if b > a)
    left = document.text.count(HEADER) + len(re.findall(r"^Page \d+$", document.text, re.M))
    return {
        "sentences_kept": len(positions) / max(total, 1),
        "in_order": ordered / max(len(positions) - 1, 1),
        "furniture_left_per_page": left / max(pages, 1),
    }


def measure(_: Path) -> dict[str, Any]:
    from pypdf import PdfReader

    results: dict[str, Any] = {}
    for columns in (1, 2):
        layout: dict[str, Any] = {}
        for name, paragraphs in articles().items():
            pdf = typeset(paragraphs, columns)
            pages = len(PdfReader(io.BytesIO(pdf)).pages)
            row: dict[str, Any] = {"pages": pages}
            for extractor, read in EXTRACTORS.items():
                started = time.perf_counter()
                document = read(pdf)
                seconds = time.perf_counter() - started
                row[extractor] = {**score(paragraphs, document, pages), "seconds": seconds}
            layout[name] = row
        results[f"{columns}-column"] = {"articles": layout, "mean": _means(layout)}
    return results


def _means(layout: dict[str, Any]) -> dict[str, dict[str, float]]:
    means: dict[str, dict[str, float]] = {}
    for extractor in EXTRACTORS:
        rows = [row[extractor] for row in layout.values()]
        means[extractor] = {key: round(sum(r[key] for r in rows) / len(rows), 4) for key in rows[0]}
    base = means["pypdf"]["seconds"]
    for extractor in EXTRACTORS:
        means[extractor]["seconds_ratio_to_pypdf"] = round(means[extractor]["seconds"] / base, 2)
    return means


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, help="keep the work folder here")
    arguments = parser.parse_args()
    run_and_print(arguments.work, "quoth-bench-documents-", measure)


if __name__ == "__main__":
    main()
