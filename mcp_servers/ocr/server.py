"""The OCR MCP server: read images and PDFs, and pull the fields out of invoices and receipts.

Every tool reads its input as base64 or from the caller's own folder (the tenant comes from the
verified mesh token), recognises text off the event loop, and returns the lines with their boxes
and confidences as `structuredContent` plus a readable text.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Annotated

import anyio
import structlog
from mcp_types import CallToolResult, ToolAnnotations
from pydantic import Field

from agentmesh.settings import Settings
from mcp_servers.common.bootstrap import ServeOptions, new_server
from mcp_servers.common.results import render_meta, structured_result
from mcp_servers.common.server import DomainServer
from mcp_servers.ocr.document import Document
from mcp_servers.ocr.engines import EngineName, Engines
from mcp_servers.ocr.invoice import InvoiceField, InvoiceFields, extract_invoice_fields
from mcp_servers.ocr.reading import DocumentReader
from mcp_servers.ocr.sources import DocumentSource, InputLimits

log = structlog.get_logger(__name__)

INSTRUCTIONS = (
    "Reads text from images (PNG, JPEG, WebP, TIFF) and PDFs. ocr_image(image) returns the text "
    "lines with boxes and confidence; ocr_document(document, engine, pages) does the same page by "
    "page, using a PDF's text layer where it has one; extract_invoice_fields(document) returns "
    "company, date (ISO), total (a number), tax code and invoice number, each with its confidence "
    "and source line. Inputs are base64 (or a data: URL) or a path inside your own folder."
)

Input = Annotated[
    str,
    Field(
        min_length=1,
        description="the file as base64 (or a data: URL), or a path inside your folder such as 'scans/a.png'",
    ),
]
Engine = Annotated[
    EngineName | None,
    Field(description="OCR engine: 'rapidocr' (default) or 'tesseract' (if installed on the server)"),
]
PageNumber = Annotated[int, Field(ge=1)]
Pages = Annotated[
    list[PageNumber] | None,
    Field(max_length=1000, description="1-based page numbers to read; all pages when omitted"),
]

FIELD_NAMES = ("company", "date", "total", "tax_code", "invoice_number")

_READ_ONLY = ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=False)


def build_server(settings: Settings, options: ServeOptions) -> DomainServer:
    """The OCR server, with one RapidOCR instance for the process (loaded on first use)."""
    server, tenants = new_server("ocr", settings, options, instructions=INSTRUCTIONS)
    limits = InputLimits.from_settings(settings)
    source = DocumentSource(settings.ocr_allowed_dir, limits)
    reader = DocumentReader(Engines(settings), limits)

    async def read(
        tool: str, value: str, engine: str | None = None, pages: Sequence[int] | None = None
    ) -> Document:
        tenant_id = tenants.current().tenant_id
        data = await anyio.to_thread.run_sync(source.read, value, tenant_id)
        document = await anyio.to_thread.run_sync(
            functools.partial(reader.read, data, engine=engine, pages=pages)
        )
        log.info(
            "document_read",
            tool=tool,
            tenant_id=tenant_id,
            format=document.format,
            pages=len(document.pages),
            lines=sum(len(page.lines) for page in document.pages),
        )
        return document

    @server.tool(annotations=_READ_ONLY, meta=render_meta("summary_text", fields=["text"]))
    async def ocr_image(image: Input) -> Annotated[CallToolResult, Document]:
        """Read the text of an image (PNG, JPEG, WebP, TIFF; a PDF works too) with the server's
        default engine: the text in reading order and each line with its box and confidence."""
        document = await read("ocr_image", image)
        return structured_result(document, _document_text(document))

    @server.tool(annotations=_READ_ONLY, meta=render_meta("summary_text", fields=["text"]))
    async def ocr_document(
        document: Input, engine: Engine = None, pages: Pages = None
    ) -> Annotated[CallToolResult, Document]:
        """Read a document page by page: PNG, JPEG, WebP, TIFF (every frame) or PDF. A PDF page with
        a text layer is read from it; a scanned page is recognised. Returns each page's text and its
        lines with boxes and confidence."""
        read_document = await read("ocr_document", document, engine, pages)
        return structured_result(read_document, _document_text(read_document))

    @server.tool(
        name="extract_invoice_fields",
        annotations=_READ_ONLY,
        meta=render_meta("structured_json", fields=list(FIELD_NAMES)),
    )
    async def extract_fields(
        document: Input, engine: Engine = None
    ) -> Annotated[CallToolResult, InvoiceFields]:
        """Extract the fields of an invoice or receipt: company, date (ISO 8601), total (a number),
        tax code (MST, GST/SST/VAT number) and invoice number, each with its confidence and the
        line it was read from. A field that is not found is null."""
        read_document = await read("extract_invoice_fields", document, engine)
        fields = extract_invoice_fields(read_document)
        return structured_result(fields, _fields_text(fields))

    return server


def _document_text(document: Document) -> str:
    if not any(page.lines for page in document.pages):
        return f"No text found in the {document.format.upper()} ({len(document.pages)} page(s) read)."
    parts = [f"Read {len(document.pages)} of {document.page_count} page(s) of a {document.format.upper()}."]
    for page in document.pages:
        how = "text layer" if page.source == "text_layer" else f"OCR ({page.engine})"
        mean = sum(line.confidence for line in page.lines) / len(page.lines) if page.lines else 0.0
        parts.append(f"--- page {page.number}: {how}, {len(page.lines)} lines, confidence {mean:.2f} ---")
        parts.append(page.text)
    return "\n".join(parts)


def _fields_text(fields: InvoiceFields) -> str:
    rows = []
    for name in FIELD_NAMES:
        found: InvoiceField = getattr(fields, name)
        label = name.replace("_", " ")
        if found.value is None:
            rows.append(f"{label}: not found")
        else:
            where = f'from "{found.source_line}"'
            rows.append(f"{label}: {found.value} (confidence {found.confidence:.2f}; {where})")
    return "\n".join(rows)
