"""What reading a document produces: pages of text lines, each with its box and confidence.

These are the values the OCR tools return as `structuredContent`, so they double as the tools'
output schemas.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from mcp_servers.ocr.language import Language

Point = tuple[float, float]
DocumentFormat = Literal["png", "jpeg", "webp", "tiff", "pdf"]


class TextLine(BaseModel):
    """One line of text as read, where it sits on the page and how sure the reader is."""

    text: str
    box: list[Point] = Field(
        description="four corners (x, y) clockwise from top-left, in the page's unit, origin top-left"
    )
    confidence: float = Field(
        ge=0.0, le=1.0, description="1.0 for a PDF text layer; the engine's score otherwise"
    )

    @property
    def left(self) -> float:
        return min(x for x, _ in self.box)

    @property
    def right(self) -> float:
        return max(x for x, _ in self.box)

    @property
    def top(self) -> float:
        return min(y for _, y in self.box)

    @property
    def bottom(self) -> float:
        return max(y for _, y in self.box)

    @property
    def height(self) -> float:
        return self.bottom - self.top


class Page(BaseModel):
    """One page: its text in reading order and its lines."""

    number: int = Field(ge=1, description="1-based page number in the document")
    source: Literal["text_layer", "ocr"] = Field(description="PDF text layer, or recognised from pixels")
    engine: str | None = Field(
        default=None,
        description="what recognised the page from pixels: 'rapidocr', 'tesseract', or 'rapidocr+tesseract' "
        "(RapidOCR finding the lines, Tesseract reading them: Vietnamese pages under the 'auto' engine)",
    )
    language: Language | None = Field(
        default=None, description="the page's language: given by the caller, or detected from its text"
    )
    width: float
    height: float
    unit: Literal["px", "pt"] = Field(description="px for images, pt (1/72 inch) for PDF pages")
    text: str
    lines: list[TextLine]


class Document(BaseModel):
    """The pages read from one input."""

    format: DocumentFormat
    page_count: int = Field(description="pages in the whole document, read or not")
    text: str = Field(description="the text of the pages read, pages separated by a blank line")
    pages: list[Page]

    @classmethod
    def of(cls, format: DocumentFormat, page_count: int, pages: list[Page]) -> Document:
        return cls(
            format=format,
            page_count=page_count,
            text="\n\n".join(page.text for page in pages),
            pages=pages,
        )
