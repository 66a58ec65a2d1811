"""Turning a downloaded body into readable text: HTML via trafilatura, PDF via pypdf, text as is."""

from __future__ import annotations

import io
import re
import unicodedata
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Literal
from urllib.parse import urldefrag, urljoin

import trafilatura
from pypdf import PdfReader
from pypdf.errors import PdfReadError

from mcp_servers.search.errors import UnsupportedContent
from mcp_servers.search.fetcher import Download

PageKind = Literal["html", "pdf", "text"]

_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_META_CHARSET = re.compile(rb"""<meta[^>]+charset=["']?([A-Za-z0-9_\-:.]+)""", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_TITLE_LIMIT = 300


@dataclass(frozen=True)
class ReadablePage:
    """The readable text of one page, its title, and (for HTML) the links it holds."""

    kind: PageKind
    title: str
    text: str
    links: tuple[str, ...] = ()


def read(download: Download) -> ReadablePage:
    """The readable text of `download`, by its declared (or sniffed) type."""
    kind = _kind(download)
    if kind == "pdf":
        page = _read_pdf(download)
    elif kind == "html":
        page = _read_html(download)
    else:
        text = clean_text(decode(download.body, download.charset))
        page = ReadablePage(kind="text", title=_first_line(text), text=text)
    if not page.text.strip():
        raise UnsupportedContent(_empty_message(download.final_url, kind))
    return page


def _kind(download: Download) -> PageKind:
    if download.media_type == "application/pdf" or download.body.startswith(b"%PDF-"):
        return "pdf"
    if download.media_type in _HTML_TYPES:
        return "html"
    if download.media_type.startswith("text/") or download.media_type == "application/json":
        return "text"
    head = download.body[:1024].lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html")) or b"<body" in head:
        return "html"
    if b"\x00" in download.body[:4096]:
        raise UnsupportedContent(f"{download.final_url} is binary content, not HTML, PDF or text")
    return "text"


def _empty_message(url: str, kind: PageKind) -> str:
    if kind == "pdf":
        return f"{url} is a PDF without a text layer (a scan?); the OCR server can read images"
    return f"{url} holds no readable text"


def decode(body: bytes, charset: str | None) -> str:
    """Bytes to text: the declared charset, else a <meta charset>, else UTF-8, else Windows-1252."""
    for encoding in (charset, _meta_charset(body), "utf-8"):
        text = _decode_as(body, encoding) if encoding else None
        if text is not None:
            return text
    return body.decode("cp1252", errors="replace")


def _decode_as(body: bytes, encoding: str) -> str | None:
    """`body` decoded as `encoding`, or None when the declaration is unknown or wrong."""
    try:
        return body.decode(encoding)
    except (LookupError, UnicodeDecodeError):
        return None


def _meta_charset(body: bytes) -> str | None:
    match = _META_CHARSET.search(body[:4096])
    return match.group(1).decode("ascii").lower() if match else None


def clean_text(text: str) -> str:
    """NFC-normalised text without control characters or runs of blank lines."""
    text = _CONTROL.sub(" ", unicodedata.normalize("NFC", text))
    lines = [line.rstrip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _one_line(title: str) -> str:
    return " ".join(clean_text(title).split())[:_TITLE_LIMIT]


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()[:_TITLE_LIMIT]
    return ""


def _read_html(download: Download) -> ReadablePage:
    html = decode(download.body, download.charset)
    outline = _Outline()
    outline.feed(html)
    outline.close()
    document = trafilatura.bare_extraction(
        html, url=download.final_url, with_metadata=True, favor_recall=True, include_comments=False
    )
    text = getattr(document, "text", None) or trafilatura.html2txt(html) or ""
    title = outline.title or getattr(document, "title", None) or ""
    base = urljoin(download.final_url, outline.base or "")
    links = tuple(_absolute_links(outline.hrefs, base))
    return ReadablePage(kind="html", title=_one_line(title), text=clean_text(text), links=links)


def _read_pdf(download: Download) -> ReadablePage:
    try:
        reader = PdfReader(io.BytesIO(download.body))
        if reader.is_encrypted and not reader.decrypt(""):
            raise UnsupportedContent(f"{download.final_url} is a password-protected PDF")
        pages = [page.extract_text() or "" for page in reader.pages]
        title = str(reader.metadata.get("/Title") or "") if reader.metadata else ""
    except (PdfReadError, ValueError, KeyError) as exc:
        raise UnsupportedContent(f"{download.final_url} is not a readable PDF ({exc})") from exc
    text = clean_text("\n\n".join(pages))
    return ReadablePage(kind="pdf", title=_one_line(title) or _first_line(text), text=text)


def _absolute_links(hrefs: list[str], base: str) -> list[str]:
    seen: dict[str, None] = {}
    for href in hrefs:
        target, _fragment = urldefrag(urljoin(base, href.strip()))
        if target.startswith(("http://", "https://")):
            seen.setdefault(target, None)
    return list(seen)


class _Outline(HTMLParser):
    """The <title>, <base href> and <a href> targets of an HTML page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.title = ""
        self.base: str | None = None
        self.hrefs: list[str] = []
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "title" and not self.title:
            self._in_title = True
        elif tag == "base" and values.get("href") and self.base is None:
            self.base = values["href"]
        elif tag == "a" and values.get("href") and "nofollow" not in (values.get("rel") or "").lower():
            self.hrefs.append(values["href"] or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
