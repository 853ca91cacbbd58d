"""PDF and Word articles: text read with its pages, furniture removed, answered with the
page cited; and the files that cannot be read refused in one line, the rest indexed."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from quoth import runtime
from quoth.bot.library import Library, ModerationError
from quoth.bot.telegram_html import render_answer as telegram_answer
from quoth.corpus import load_corpus
from quoth.corpus.cleaning import normalise_whitespace
from quoth.corpus.documents import read_docx, read_pdf
from quoth.corpus.formats import ArticleFormatError
from quoth.corpus.loader import build_article
from quoth.corpus.pages import assemble_pages, page_at
from quoth.index import Embedder
from quoth.retrieval import AnsweringService
from quoth.terminal import source_line
from quoth.web.fetch import FetchLimits
from quoth.web.links import read_front_matter, refresh_links, save_link

from .conftest import settings_for
from .made_documents import HEADER, make_docx, make_pdf, make_scan
from .web_stand_in import PARAGRAPHS, Resource, serving

COST = PARAGRAPHS[1]  # "The new bridge will cost 48 million euros ..."
REPORT = [
    [PARAGRAPHS[0], PARAGRAPHS[2]],
    [COST, PARAGRAPHS[3]],
    [PARAGRAPHS[4], "The harbour master will report on the works to the council every month."],
]


def test_pdf_text_keeps_pages_and_drops_headers_and_page_numbers() -> None:
    document = read_pdf(make_pdf(REPORT, title="Harbour report 2026"))
    assert document.meta["title"] == "Harbour report 2026"
    assert HEADER not in document.text and "Page " not in document.text
    for paragraph in (p for page in REPORT for p in page):
        assert paragraph in document.text.split("\n")  # wrapped lines joined back, verbatim
    assert page_at(document.pages, document.text.index(COST)) == 2
    assert page_at(document.pages, document.text.index(PARAGRAPHS[4])) == 3
    assert page_at((), 0) is None


def test_a_paragraph_over_a_page_break_is_one_paragraph_citing_each_page() -> None:
    pages = [
        f"{HEADER}\nThe council agreed that the old bridge\n1",
        f"{HEADER}\nwill be taken down in May.\nThe ferry starts on Monday.\n2",
        f"{HEADER}\nThe works end in 2029.\n3",
    ]
    paged = assemble_pages(pages)
    assert paged.text.split("\n") == [
        "The council agreed that the old bridge will be taken down in May.",
        "The ferry starts on Monday.",
        "The works end in 2029.",
    ]
    assert page_at(paged.pages, paged.text.index("will be taken")) == 2
    assert page_at(paged.pages, 0) == 1


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (make_pdf([["A statement."]], encrypt="secret"), "is an encrypted PDF; save it without"),
        (make_pdf([["A statement of the harbour council."] * 3], encrypt=""), ""),
        (make_pdf(REPORT)[:1500], "is a damaged PDF"),
        (make_scan(), "has no text layer (a scan?); OCR it first"),
        (b"%PDF-1.7\nnot really", "is a damaged PDF"),
    ],
    ids=["encrypted", "only-against-editing", "truncated", "scanned", "garbage"],
)
def test_unreadable_pdfs_are_refused_in_one_line(data: bytes, message: str) -> None:
    if not message:  # encrypted with an empty password: anyone may read it, and so does quoth
        assert "harbour council" in read_pdf(data).text
        return
    with pytest.raises(ArticleFormatError, match=re.escape(message)) as caught:
        read_pdf(data)
    assert "\n" not in str(caught.value)


def test_aes_encrypted_pdf_open_to_readers_is_read() -> None:
    # Reports are often locked against editing with AES-256 (what PDF 2.0 writers use):
    # pypdf needs a cipher library to read those (PyCryptodome here).
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(make_pdf([REPORT[0]]))))
    writer.encrypt(user_password="", owner_password="owner-secret", algorithm="AES-256")
    locked = io.BytesIO()
    writer.write(locked)
    assert b"/AESV3" in locked.getvalue()
    assert normalise_whitespace(REPORT[0][0]) in normalise_whitespace(
        read_pdf(locked.getvalue()).text
    )


def test_thousands_of_pages_refused_before_reading() -> None:
    with pytest.raises(ArticleFormatError, match="has 3 pages; at most 2 are read"):
        read_pdf(make_pdf(REPORT), max_pages=2)


def test_word_file_body_and_tables_without_its_header_and_footer() -> None:
    data = make_docx(
        "Harbour statement", PARAGRAPHS[:2], [["Cost", "48 million euros"], ["Opens", "2029"]]
    )
    document = read_docx(data)
    assert document.meta == {"title": "Harbour statement"}
    assert document.text.split("\n") == [
        "Harbour statement",
        *PARAGRAPHS[:2],
        "Cost | 48 million euros",
        "Opens | 2029",
    ]
    assert HEADER not in document.text and "footer" not in document.text
    with pytest.raises(ArticleFormatError, match="is not a readable Word file"):
        read_docx(b"PK\x03\x04 truncated")


def test_documents_answered_with_their_page_and_bad_ones_skipped(
    tmp_path: Path, embedder: Embedder
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "report.pdf").write_bytes(make_pdf(REPORT, title="Harbour report 2026"))
    (corpus / "statement.docx").write_bytes(
        make_docx("Ferry statement", ["Residents of the harbour district ride the ferry free."])
    )
    (corpus / "locked.pdf").write_bytes(make_pdf([["Secret."]], encrypt="secret"))
    (corpus / "torn.pdf").write_bytes(make_pdf(REPORT)[:1500])
    loaded = load_corpus(corpus)
    assert sorted(a.id for a in loaded.articles) == ["report", "statement"]
    reasons = {Path(s.path).name: s.reason for s in loaded.skipped}
    assert reasons["locked.pdf"].startswith("is an encrypted PDF")
    assert reasons["torn.pdf"].startswith("is a damaged PDF")

    settings = settings_for(tmp_path / "index", corpus)
    runtime.reindex(settings, embedder)
    service = runtime.open_service(settings, embedder)
    answer = service.answer("How much will the new bridge cost?")
    quote = answer.quotes[0]
    assert quote.document_id == "report" and "48 million euros" in quote.sentence
    assert quote.page == 2
    assert source_line(quote.title, quote.url, quote.published, quote.page).endswith("p. 2")
    assert " · p. 2" in telegram_answer(answer, "quoth_bot")
    ferry = service.answer("Who rides the ferry for free?").quotes[0]
    assert ferry.document_id == "statement" and ferry.page is None


def test_uploads_take_documents_within_the_size_limit(
    tmp_path: Path, service: AnsweringService
) -> None:
    settings = settings_for(tmp_path / "index", tmp_path / "corpus", max_upload_bytes=20_000)
    library = Library(settings, service)
    saved = library.save_upload("Harbour Report.PDF", make_pdf(REPORT))
    assert saved.path.name == "Harbour-Report.pdf" and saved.doc_id == "Harbour-Report"
    with pytest.raises(ModerationError, match="was not added: it is an encrypted PDF"):
        library.save_upload("locked.pdf", make_pdf([["Secret."]], encrypt="secret"))
    with pytest.raises(ModerationError, match="KB; the limit is 19 KB"):
        library.save_upload("big.pdf", b"%PDF" + b"0" * 30_000)
    assert sorted(p.name for p in (tmp_path / "corpus").iterdir()) == ["Harbour-Report.pdf"]


def test_links_to_documents_are_kept_as_documents_and_refreshed(tmp_path: Path) -> None:
    limits = FetchLimits(timeout_s=5, max_bytes=500_000, allow_private=True)
    with serving() as site:
        site.resources["/files/report.pdf"] = Resource(
            make_pdf(REPORT, title="Harbour report 2026"), content_type="application/pdf"
        )
        site.resources["/files/statement.docx"] = Resource(
            make_docx("Ferry statement", PARAGRAPHS[4:]),
            content_type="application/octet-stream",  # as many file servers send it
        )
        report = save_link(tmp_path, site.url("/files/report.pdf"), limits, (3, 2))
        statement = save_link(tmp_path, site.url("/files/statement.docx"), limits, (3, 2))
        assert report.path.suffix == ".pdf" and statement.path.suffix == ".docx"
        assert (report.title, statement.title) == ("Harbour report 2026", "Ferry statement")
        article = build_article(report.doc_id, report.path, report.path.read_bytes())
        assert article.meta.url == site.url("/files/report.pdf") and len(article.pages) == 3
        assert read_front_matter(report.path)["etag"].startswith('"')
        refreshed = refresh_links(tmp_path, limits, (3, 2))
        assert refreshed.checked == 2 and len(refreshed.not_modified) == 2
    assert site.downloads["/files/report.pdf"] == 1
