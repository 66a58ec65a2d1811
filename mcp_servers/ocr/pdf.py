"""Pages of a PDF: the text layer through pypdf first, pixels recognised for pages without one.

pypdf reads each page's text layer; pdfium (already needed to rasterise scanned pages) places
each text line on the page. A page whose text layer is empty is a scan: it is rendered at
`RASTER_DPI` and handed to the OCR engine, and its boxes are reported in PDF points like the rest.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator, Sequence

import pypdfium2 as pdfium
from pypdf import PdfReader
from pypdf.errors import PdfReadError, PyPdfError

from mcp_servers.ocr import layout
from mcp_servers.ocr.document import Page, TextLine
from mcp_servers.ocr.engines import OcrEngine
from mcp_servers.ocr.errors import InvalidInput
from mcp_servers.ocr.language import Language, detect_language
from mcp_servers.ocr.pagination import select_pages
from mcp_servers.ocr.sources import InputLimits

# 200 dpi keeps receipt-sized print (8-10 pt) well above the recogniser's ~20 px line height.
RASTER_DPI = 200
POINTS_PER_INCH = 72

# PDFium is not thread-safe; the server reads documents in worker threads.
_PDFIUM = threading.Lock()


class PdfFile:
    """An opened PDF."""

    def __init__(self, data: bytes, limits: InputLimits) -> None:
        self._data = data
        self._limits = limits
        try:
            self._reader = PdfReader(io.BytesIO(data))
            if self._reader.is_encrypted and not self._reader.decrypt(""):
                raise InvalidInput("the PDF is password-protected: send an unprotected copy")
            self.page_count = len(self._reader.pages)
        except (PdfReadError, PyPdfError, ValueError, KeyError, TypeError) as exc:
            raise InvalidInput(f"the PDF could not be read: {exc}") from exc

    def pages(
        self, requested: Sequence[int] | None, engine: OcrEngine, language: Language | None = None
    ) -> Iterator[Page]:
        """Each selected page, from its text layer or recognised by `engine`."""
        numbers = select_pages(requested, self.page_count, self._limits.max_pages)
        with _PDFIUM:
            try:
                rendered = pdfium.PdfDocument(self._data)
            except pdfium.PdfiumError as exc:
                raise InvalidInput(f"the PDF could not be opened: {exc}") from exc
        try:
            for number in numbers:
                text = self._text_layer(number)
                if text:
                    yield self._text_page(rendered, number, text, language)
                else:
                    yield self._scanned_page(rendered, number, engine, language)
        finally:
            with _PDFIUM:
                rendered.close()

    def _text_layer(self, number: int) -> str:
        try:
            text = self._reader.pages[number - 1].extract_text() or ""
        except (PdfReadError, PyPdfError, ValueError, KeyError, TypeError) as exc:
            raise InvalidInput(f"page {number} of the PDF could not be read: {exc}") from exc
        return "\n".join(line.rstrip() for line in text.strip().splitlines())

    def _text_page(
        self, rendered: pdfium.PdfDocument, number: int, text: str, language: Language | None
    ) -> Page:
        with _PDFIUM:
            page = rendered[number - 1]
            width, height = page.get_size()
            textpage = page.get_textpage()
            lines = []
            for index in range(textpage.count_rects()):
                left, bottom, right, top = textpage.get_rect(index)
                line_text = textpage.get_text_bounded(left, bottom, right, top).strip()
                if line_text:
                    # PDF space has its origin bottom-left; pages here have it top-left.
                    y0, y1 = height - top, height - bottom
                    box = [(left, y0), (right, y0), (right, y1), (left, y1)]
                    lines.append(TextLine(text=line_text, box=_rounded(box), confidence=1.0))
            textpage.close()
            page.close()
        return Page(
            number=number,
            source="text_layer",
            language=language or detect_language(text),
            width=width,
            height=height,
            unit="pt",
            text=text,
            lines=lines,
        )

    def _scanned_page(
        self, rendered: pdfium.PdfDocument, number: int, engine: OcrEngine, language: Language | None
    ) -> Page:
        with _PDFIUM:
            page = rendered[number - 1]
            width, height = page.get_size()
            scale = RASTER_DPI / POINTS_PER_INCH
            # A huge page is rendered coarser rather than refused: we choose its resolution.
            pixels = width * height * scale * scale
            if pixels > self._limits.max_pixels:
                scale *= (self._limits.max_pixels / pixels) ** 0.5
            image = page.render(scale=scale).to_pil().convert("RGB")
            page.close()
        recognition = engine.recognise(image, language)
        recognised = [
            TextLine(
                text=line.text,
                box=_rounded([(x / scale, y / scale) for x, y in line.box]),
                confidence=line.confidence,
            )
            for line in recognition.lines
        ]
        lines = layout.in_reading_order(recognised)
        return Page(
            number=number,
            source="ocr",
            engine=recognition.engine,
            language=recognition.language,
            width=width,
            height=height,
            unit="pt",
            text=layout.page_text(lines),
            lines=lines,
        )


def _rounded(box: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    return [(round(x, 2), round(y, 2)) for x, y in box]
