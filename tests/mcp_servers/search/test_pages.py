"""Reading pages: HTML through trafilatura, PDF through pypdf, text by its charset; with citations."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mcp_servers.search.errors import UnsupportedContent
from mcp_servers.search.extraction import read
from mcp_servers.search.fetcher import Download, PageFetcher
from mcp_servers.search.pages import FetchedPage, fetch_page
from tests.mcp_servers.search.conftest import LOOPBACK_ALLOWED


def _download(body: bytes, media_type: str, charset: str | None = None) -> Download:
    return Download(
        requested_url="https://example.com/a/b.html",
        final_url="https://example.com/a/b.html",
        status=200,
        media_type=media_type,
        charset=charset,
        body=body,
        redirects=(),
        fetched_at=datetime.now(UTC),
    )


async def test_html_gives_the_article_text_title_and_citation(site: str, fetcher: PageFetcher) -> None:
    page = await fetch_page(fetcher, f"{site}/redirect/1", LOOPBACK_ALLOWED)
    assert page.kind == "html"
    assert page.title == "Chính sách đổi trả"
    assert "đổi trả hàng trong vòng 30 ngày" in page.text
    assert "<p>" not in page.text
    result = FetchedPage.of(page, indexed=True)
    assert result.citation.url == f"{site}/redirect/1"
    assert result.citation.final_url == f"{site}/page.html"
    assert result.citation.title == "Chính sách đổi trả"
    assert result.citation.fetched_at.tzinfo is not None
    assert result.redirects == [f"{site}/redirect/0", f"{site}/page.html"]


async def test_pdf_text_and_title_come_from_the_document(site: str, fetcher: PageFetcher) -> None:
    page = await fetch_page(fetcher, f"{site}/report.pdf", LOOPBACK_ALLOWED)
    assert page.kind == "pdf"
    assert page.title == "Quarterly report"
    assert "Revenue grew 12 percent in Q3" in page.text
    assert "Net margin (adjusted) reached 8.5%" in page.text


async def test_a_pdf_without_a_text_layer_says_so(site: str, fetcher: PageFetcher) -> None:
    with pytest.raises(UnsupportedContent, match="without a text layer"):
        await fetch_page(fetcher, f"{site}/scan.pdf", LOOPBACK_ALLOWED)


async def test_plain_text_is_decoded_with_its_declared_charset(site: str, fetcher: PageFetcher) -> None:
    page = await fetch_page(fetcher, f"{site}/notes.txt", LOOPBACK_ALLOWED)
    assert page.kind == "text"
    assert page.text == "Menu: café crème brûlée\nPrix: 7 €"
    assert page.title == "Menu: café crème brûlée"


async def test_undeclared_binary_content_is_refused(site: str, fetcher: PageFetcher) -> None:
    with pytest.raises(UnsupportedContent, match="binary content"):
        await fetch_page(fetcher, f"{site}/blob", LOOPBACK_ALLOWED)


def test_links_are_absolute_without_fragments_and_skip_nofollow() -> None:
    html = (
        b"<html><head><title>Links</title></head><body><p>Enough words to be read as text here.</p>"
        b'<a href="c.html#part">c</a> <a href="/root">root</a> <a href="mailto:x@y">mail</a>'
        b'<a href="https://other.org/x">other</a> <a rel="nofollow" href="/hidden">hidden</a>'
        b'<a href="c.html">again</a></body></html>'
    )
    page = read(_download(html, "text/html"))
    assert page.links == ("https://example.com/a/c.html", "https://example.com/root", "https://other.org/x")


def test_a_meta_charset_is_honoured_when_the_header_has_none() -> None:
    html = (
        "<html><head><meta charset='windows-1252'><title>Résumé</title></head>"
        "<body><p>Déjà vu</p></body></html>"
    )
    page = read(_download(html.encode("cp1252"), "text/html"))
    assert page.title == "Résumé"
    assert "Déjà vu" in page.text


def test_html_is_recognised_without_a_content_type() -> None:
    page = read(_download(b"<!doctype html><html><body><p>Xin ch\xc3\xa0o</p></body></html>", ""))
    assert page.kind == "html"
    assert "Xin chào" in page.text


def test_a_broken_pdf_is_reported_as_unreadable() -> None:
    with pytest.raises(UnsupportedContent, match="not a readable PDF"):
        read(_download(b"%PDF-1.4\nthis is not really a pdf", "application/pdf"))


def test_an_empty_page_is_reported_as_having_no_text() -> None:
    with pytest.raises(UnsupportedContent, match="holds no readable text"):
        read(_download(b"<html><body>   </body></html>", "text/html"))
