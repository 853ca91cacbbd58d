"""PDF and Word files written by the tests, as reports are printed: a running header and a
page number on every page of a PDF, a header and footer in a Word file; and the broken kinds
(encrypted, truncated, a scan without text)."""

from __future__ import annotations

import io

HEADER = "Port Meridian Harbour Council - Annual Report"


def make_pdf(pages: list[list[str]], title: str = "", encrypt: str | None = None) -> bytes:
    """One PDF page per list of paragraphs, each page with the running header and its number."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate

    width, height = A4

    def furniture(canvas: object, document: object) -> None:
        canvas.saveState()  # type: ignore[attr-defined]
        canvas.setFont("Helvetica", 8)  # type: ignore[attr-defined]
        canvas.drawString(60, height - 36, HEADER)  # type: ignore[attr-defined]
        page = document.page  # type: ignore[attr-defined]
        canvas.drawCentredString(width / 2, 30, f"Page {page}")  # type: ignore[attr-defined]
        canvas.restoreState()  # type: ignore[attr-defined]

    buffer = io.BytesIO()
    lock = None
    if encrypt is not None:  # "": anyone may open it; only editing needs the owner's password
        from reportlab.lib.pdfencrypt import StandardEncryption

        lock = StandardEncryption(encrypt, ownerPassword="owner-secret", canModify=0)
    document = SimpleDocTemplate(buffer, pagesize=A4, title=title, encrypt=lock)
    style = getSampleStyleSheet()["BodyText"]
    story: list[object] = []
    for number, paragraphs in enumerate(pages):
        if number:
            story.append(PageBreak())
        story.extend(Paragraph(text, style) for text in paragraphs)
    document.build(story, onFirstPage=furniture, onLaterPages=furniture)
    return buffer.getvalue()


def make_scan() -> bytes:
    """A PDF whose pages are pictures only: shapes, no text layer."""
    from reportlab.pdfgen.canvas import Canvas

    buffer = io.BytesIO()
    canvas = Canvas(buffer)
    for _ in range(2):
        canvas.rect(100, 100, 300, 500, fill=1)
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def make_docx(title: str, paragraphs: list[str], table: list[list[str]] | None = None) -> bytes:
    """A Word file with a heading, paragraphs, a table, and a header and footer."""
    import docx

    document = docx.Document()
    document.core_properties.title = title
    section = document.sections[0]
    section.header.paragraphs[0].text = HEADER
    section.footer.paragraphs[0].text = "Confidential - page footer"
    document.add_heading(title, level=1)
    for text in paragraphs:
        document.add_paragraph(text)
    if table:
        grid = document.add_table(rows=len(table), cols=len(table[0]))
        for r, row in enumerate(table):
            for c, text in enumerate(row):
                grid.cell(r, c).text = text
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()
