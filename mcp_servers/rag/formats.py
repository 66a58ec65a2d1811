"""Reading an upload as a document: plain text, Markdown, HTML or PDF, split into sections.

A section is the text under one heading path (`("Returns", "Refunds")`), so the chunker can keep
each chunk inside one section and every chunk can say where in the document it comes from.
PDF pages become sections of their own (a page number is the citation a reader can use).
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Literal

import lxml.html
import pypdf
from lxml import etree
from pypdf.errors import PdfReadError

from mcp_servers.rag.errors import EmptyDocument, InvalidDocument

SourceType = Literal["text", "markdown", "html", "pdf"]

_EXTENSIONS: dict[str, SourceType] = {
    ".txt": "text",
    ".text": "text",
    ".md": "markdown",
    ".markdown": "markdown",
    ".html": "html",
    ".htm": "html",
    ".pdf": "pdf",
}
_MIME_TYPES: dict[str, SourceType] = {
    "text/plain": "text",
    "text/markdown": "markdown",
    "text/x-markdown": "markdown",
    "text/html": "html",
    "application/xhtml+xml": "html",
    "application/pdf": "pdf",
}
MIME_OF: dict[SourceType, str] = {
    "text": "text/plain",
    "markdown": "text/markdown",
    "html": "text/html",
    "pdf": "application/pdf",
}

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SPACES = re.compile(r"[ \t\u00a0]+")
_BLANK_LINES = re.compile(r"\n\s*\n+")


@dataclass(frozen=True)
class Section:
    """The text under one heading path (empty path: before any heading), optionally on one page."""

    headings: tuple[str, ...]
    text: str
    page: int | None = None


@dataclass(frozen=True)
class ParsedDocument:
    """A document's title, kind and sections, ready for chunking."""

    title: str
    source_type: SourceType
    sections: list[Section] = field(default_factory=list)

    @property
    def text(self) -> str:
        """The whole readable text, headings as Markdown-style lines."""
        parts: list[str] = []
        last: tuple[str, ...] = ()
        for section in self.sections:
            if section.headings and section.headings != last:
                parts.append("#" * len(section.headings) + " " + section.headings[-1])
            last = section.headings
            if section.text:
                parts.append(section.text)
        return "\n\n".join(parts)


def source_type_of(filename: str | None, mime_type: str | None, data: bytes) -> SourceType:
    """The kind of an upload, from its file name, then its MIME type, then its first bytes."""
    suffix = PurePosixPath(filename or "").suffix.lower()
    if suffix in _EXTENSIONS:
        return _EXTENSIONS[suffix]
    mime = (mime_type or "").split(";")[0].strip().lower()
    if mime in _MIME_TYPES:
        return _MIME_TYPES[mime]
    if suffix or mime:
        shown = suffix or mime
        raise InvalidDocument(
            f"unsupported document type '{shown}': "
            "send text (.txt), Markdown (.md), HTML (.html) or PDF (.pdf)"
        )
    head = data[:512].lstrip().lower()
    if head.startswith(b"%pdf-"):
        return "pdf"
    if head.startswith((b"<!doctype html", b"<html")):
        return "html"
    return "text"


def parse_document(data: bytes, source_type: SourceType, *, fallback_title: str) -> ParsedDocument:
    """Parse `data` as `source_type`; raise `InvalidDocument` or `EmptyDocument` if unreadable."""
    if source_type == "pdf":
        document = _parse_pdf(data, fallback_title)
    elif source_type == "html":
        document = _parse_html(data, fallback_title)
    elif source_type == "markdown":
        document = parse_markdown(decode_text(data), fallback_title)
    else:
        document = parse_plain_text(decode_text(data), fallback_title)
    if not any(section.text for section in document.sections):
        raise EmptyDocument("the document holds no text to index")
    return document


def decode_text(data: bytes) -> str:
    """UTF-8 text (a byte-order mark is dropped); anything else is refused with a clear reason."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidDocument(f"the text is not valid UTF-8 (byte {exc.start}); send UTF-8 text") from exc


def clean_text(text: str) -> str:
    """Control characters removed, runs of spaces collapsed, paragraphs kept apart by one blank line."""
    text = _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def parse_plain_text(text: str, title: str) -> ParsedDocument:
    """Plain text: one section of paragraphs."""
    return ParsedDocument(title=title, source_type="text", sections=[Section((), clean_text(text))])


class _SectionBuilder:
    """Collects text under a stack of headings and cuts a section at every new heading."""

    def __init__(self) -> None:
        self.sections: list[Section] = []
        self._headings: list[tuple[int, str]] = []
        self._buffer: list[str] = []

    def heading(self, level: int, title: str) -> None:
        self._flush()
        while self._headings and self._headings[-1][0] >= level:
            self._headings.pop()
        self._headings.append((level, " ".join(title.split())))

    def add(self, text: str) -> None:
        self._buffer.append(text)

    def finish(self) -> list[Section]:
        self._flush()
        return self.sections

    def _flush(self) -> None:
        body = clean_text("".join(self._buffer))
        if body:
            self.sections.append(Section(tuple(title for _, title in self._headings), body))
        self._buffer.clear()


_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(```|~~~)")


def parse_markdown(text: str, fallback_title: str) -> ParsedDocument:
    """Markdown split at ATX (`## Heading`) and setext (underlined) headings, code fences respected.

    A single top-level heading over the whole text is the document's title rather than a section.
    """
    builder = _SectionBuilder()
    lines = text.replace("\r\n", "\n").split("\n")
    fence: str | None = None
    for number, line in enumerate(lines):
        fence_match = _FENCE.match(line)
        if fence is not None or fence_match:
            if fence is None and fence_match:
                fence = fence_match.group(1)
            elif fence_match and fence_match.group(1) == fence:
                fence = None
            builder.add(line + "\n")
            continue
        atx = _ATX.match(line)
        if atx and (atx.group(2) or "").strip():
            builder.heading(len(atx.group(1)), atx.group(2))
            continue
        following = lines[number + 1] if number + 1 < len(lines) else ""
        previous = lines[number - 1] if number else ""
        setext = _SETEXT.match(following)
        if setext and line.strip() and not previous.strip() and not _ATX.match(line):
            builder.heading(1 if setext.group(1).startswith("=") else 2, line)
            continue
        if _SETEXT.match(line) and previous.strip() and (number < 2 or not lines[number - 2].strip()):
            continue  # the underline of the setext heading just opened
        builder.add(line + "\n")
    return _titled(ParsedDocument(title=fallback_title, source_type="markdown", sections=builder.finish()))


def _titled(document: ParsedDocument) -> ParsedDocument:
    """Promote a top-level heading that every section sits under to the document's title."""
    firsts = {section.headings[0] if section.headings else None for section in document.sections}
    if len(firsts) != 1 or None in firsts:
        return document
    title = str(firsts.pop())
    sections = [Section(section.headings[1:], section.text, section.page) for section in document.sections]
    return ParsedDocument(title=title, source_type=document.source_type, sections=sections)


_SKIPPED_TAGS = frozenset({"script", "style", "noscript", "template", "svg", "head", "iframe", "object"})
_HEADING_TAGS = {f"h{level}": level for level in range(1, 7)}
_BLOCK_TAG_NAMES = (
    "address article aside blockquote br dd div dl dt figcaption figure footer form header hr li main "
    "nav ol p pre section table tbody thead tfoot tr td th ul"
)
_BLOCK_TAGS = frozenset(_BLOCK_TAG_NAMES.split())


def _parse_html(data: bytes, fallback_title: str) -> ParsedDocument:
    try:
        root = lxml.html.document_fromstring(data)
    except (etree.ParserError, ValueError) as exc:
        raise InvalidDocument(f"the HTML could not be parsed: {exc}") from exc
    title = " ".join((root.findtext(".//title") or "").split())
    body = root.find("body")
    builder = _SectionBuilder()
    _walk_html(body if body is not None else root, builder)
    sections = builder.finish()
    if title:
        return ParsedDocument(title=title, source_type="html", sections=sections)
    return _titled(ParsedDocument(title=fallback_title, source_type="html", sections=sections))


def _walk_html(element: etree._Element, builder: _SectionBuilder) -> None:
    """Feed the text of `element` to `builder`: headings open sections, blocks become paragraphs."""
    tag = element.tag if isinstance(element.tag, str) else ""
    if tag in _HEADING_TAGS:
        builder.heading(_HEADING_TAGS[tag], element.text_content())
    elif tag not in _SKIPPED_TAGS and tag:
        if tag in _BLOCK_TAGS:
            builder.add("\n\n")
        if element.text:
            builder.add(element.text.replace("\n", " "))
        for child in element:
            _walk_html(child, builder)
        if tag in _BLOCK_TAGS:
            builder.add("\n\n")
    if element.tail:
        builder.add(element.tail.replace("\n", " "))


def _parse_pdf(data: bytes, fallback_title: str) -> ParsedDocument:
    """The text layer of each page (pypdf); a PDF without one is refused with what to do instead."""
    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise InvalidDocument("the PDF is encrypted with a password; send an unencrypted copy")
        pages = [page.extract_text() or "" for page in reader.pages]
        metadata_title = (reader.metadata.title if reader.metadata else None) or ""
    except (PdfReadError, ValueError, KeyError, TypeError) as exc:
        raise InvalidDocument(f"the PDF could not be read: {exc}") from exc
    sections = [
        Section((), cleaned, page=number)
        for number, text in enumerate(pages, start=1)
        if (cleaned := clean_text(text))
    ]
    if not sections:
        raise EmptyDocument(
            "the PDF has no text layer (a scan?): read it with the OCR server's ocr_document, "
            "then ingest the text with ingest_text"
        )
    title = " ".join(str(metadata_title).split()) or fallback_title
    return ParsedDocument(title=title, source_type="pdf", sections=sections)
