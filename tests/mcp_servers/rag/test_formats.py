"""Text, Markdown, HTML and PDF uploads become titled documents split into sections."""

from __future__ import annotations

import pytest

from mcp_servers.rag.errors import EmptyDocument, InvalidDocument
from mcp_servers.rag.formats import parse_document, source_type_of
from tests.mcp_servers.rag.documents import scanned_pdf, text_pdf


def test_markdown_headings_become_a_heading_path_and_the_lone_h1_the_title() -> None:
    text = "# Handbook\n\nWelcome.\n\n## Leave\n\n### Sick leave\n\nTen days.\n\n## Travel\n\nBook early."
    document = parse_document(text.encode(), "markdown", fallback_title="file")
    assert document.title == "Handbook"
    assert [(s.headings, s.text) for s in document.sections] == [
        ((), "Welcome."),
        (("Leave", "Sick leave"), "Ten days."),
        (("Travel",), "Book early."),
    ]


def test_markdown_code_fences_and_setext_headings() -> None:
    text = "Intro\n=====\n\nSome text.\n\n```\n# not a heading\n```\n\nUsage\n-----\n\nCall it."
    document = parse_document(text.encode(), "markdown", fallback_title="file")
    assert document.title == "Intro", "the lone top-level heading titles the document"
    assert [s.headings for s in document.sections] == [(), ("Usage",)]
    assert "# not a heading" in document.sections[0].text


def test_html_keeps_headings_and_text_and_drops_scripts() -> None:
    html = (
        b"<html><head><title>Prices</title><style>p{}</style></head><body><h1>Prices</h1>"
        b"<p>Basic plan: <b>10 USD</b> a month.</p><script>alert(1)</script>"
        b"<h2>Discounts</h2><ul><li>Yearly: 2 months free.</li><li>Students: 50%.</li></ul></body></html>"
    )
    document = parse_document(html, "html", fallback_title="file")
    assert document.title == "Prices"
    assert [(s.headings, s.text) for s in document.sections] == [
        (("Prices",), "Basic plan: 10 USD a month."),
        (("Prices", "Discounts"), "Yearly: 2 months free.\n\nStudents: 50%."),
    ]


def test_pdf_text_layer_is_read_page_by_page() -> None:
    pdf = text_pdf([["Invoice rules", "Pay within 30 days."], ["Second page."]], title="Rules")
    document = parse_document(pdf, "pdf", fallback_title="file")
    assert document.title == "Rules"
    assert [(s.page, s.text) for s in document.sections] == [
        (1, "Invoice rules\nPay within 30 days."),
        (2, "Second page."),
    ]


@pytest.mark.parametrize(
    ("data", "source_type", "error", "message"),
    [
        (scanned_pdf(), "pdf", EmptyDocument, "no text layer"),
        (b"%PDF-1.7 garbage", "pdf", InvalidDocument, "the PDF could not be read"),
        (b"\xff\xfe\x00bad", "text", InvalidDocument, "not valid UTF-8"),
        (b"  \n\n ", "text", EmptyDocument, "no text to index"),
    ],
)
def test_unreadable_documents_are_refused_with_the_reason(
    data: bytes, source_type: str, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        parse_document(data, source_type, fallback_title="file")  # type: ignore[arg-type]


def test_the_kind_comes_from_the_name_then_the_mime_type_then_the_bytes() -> None:
    assert source_type_of("notes.MD", None, b"") == "markdown"
    assert source_type_of("upload", "application/pdf", b"") == "pdf"
    assert source_type_of(None, None, b"%PDF-1.4") == "pdf"
    assert source_type_of(None, None, b"<!DOCTYPE html><html>") == "html"
    assert source_type_of(None, None, b"plain words") == "text"
    with pytest.raises(InvalidDocument, match=r"unsupported document type '\.xlsx'"):
        source_type_of("sheet.xlsx", None, b"")
