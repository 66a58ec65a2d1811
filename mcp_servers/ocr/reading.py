"""Reading a document: bytes in, pages of lines with boxes and confidence out."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence

from mcp_servers.ocr import formats, layout
from mcp_servers.ocr.document import Document, Page
from mcp_servers.ocr.engines import Engines
from mcp_servers.ocr.images import ImageFile
from mcp_servers.ocr.language import Language
from mcp_servers.ocr.pagination import select_pages
from mcp_servers.ocr.pdf import PdfFile
from mcp_servers.ocr.sources import InputLimits

PageRead = Callable[[int, int], None]
"""Told `(pages read, pages to read)` after each page: the progress of a long document."""


class DocumentReader:
    """Reads images and PDFs with the server's engines, within its input caps. Blocking: call it
    from a worker thread."""

    def __init__(self, engines: Engines, limits: InputLimits) -> None:
        self._engines = engines
        self._limits = limits

    def read(
        self,
        data: bytes,
        *,
        engine: str | None = None,
        pages: Sequence[int] | None = None,
        language: Language | None = None,
        on_page: PageRead | None = None,
    ) -> Document:
        """Every selected page of `data` (all pages when `pages` is None), in `language` when the
        caller knows it (detected page by page otherwise); `on_page` follows the reading."""
        chosen = self._engines.get(engine)
        kind = formats.sniff(data)
        if kind == "pdf":
            pdf = PdfFile(data, self._limits)
            total = len(select_pages(pages, pdf.page_count, self._limits.max_pages))
            read_pages = _counted(pdf.pages(pages, chosen, language), total, on_page)
            return Document.of(kind, pdf.page_count, list(read_pages))
        image = ImageFile(data, self._limits)
        total = len(select_pages(pages, image.page_count, self._limits.max_pages))
        read: list[Page] = []
        for number, picture in image.pages(pages):
            recognition = chosen.recognise(picture, language)
            lines = layout.in_reading_order(recognition.lines)
            read.append(
                Page(
                    number=number,
                    source="ocr",
                    engine=recognition.engine,
                    language=recognition.language,
                    width=picture.width,
                    height=picture.height,
                    unit="px",
                    text=layout.page_text(lines),
                    lines=lines,
                )
            )
            if on_page is not None:
                on_page(len(read), total)
        return Document.of(kind, image.page_count, read)


def _counted(pages: Iterable[Page], total: int, on_page: PageRead | None) -> Iterator[Page]:
    for done, page in enumerate(pages, 1):
        yield page
        if on_page is not None:
            on_page(done, total)
