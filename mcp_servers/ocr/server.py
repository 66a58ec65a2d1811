"""The OCR MCP server: read images and PDFs, and pull the fields out of invoices and receipts.

Every tool reads its input as an upload reference (`upload://<handle>`, fetched from the gateway
as the caller), as base64, or from the caller's own folder (the tenant comes from the verified
mesh token), recognises text off the event loop, and returns the lines with their boxes
and confidences as `structuredContent` plus a readable text.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Annotated, Any

import anyio
import structlog
from mcp.server.mcpserver import Context
from mcp_types import CallToolResult, ToolAnnotations
from pydantic import Field

from agentmesh.settings import Settings
from agentmesh.uploads import is_upload_reference
from mcp_servers.common.bootstrap import ServeOptions, new_server
from mcp_servers.common.lifecycle import serve_tenant_lifecycle
from mcp_servers.common.progress import ToolProgress
from mcp_servers.common.results import render_meta, structured_result
from mcp_servers.common.server import DomainServer
from mcp_servers.common.uploads import UploadReader
from mcp_servers.ocr.document import Document
from mcp_servers.ocr.engines import EngineName, Engines
from mcp_servers.ocr.invoice import InvoiceField, InvoiceFields, extract_invoice_fields
from mcp_servers.ocr.language import Language
from mcp_servers.ocr.reading import DocumentReader
from mcp_servers.ocr.sources import DocumentSource, InputLimits

log = structlog.get_logger(__name__)

INSTRUCTIONS = (
    "Reads text from images (PNG, JPEG, WebP, TIFF) and PDFs, in English and Vietnamese "
    "(diacritics kept). ocr_image(image) returns the text lines with boxes and confidence; "
    "ocr_document(document, engine, pages, language) does the same page by page, using a PDF's "
    "text layer where it has one; extract_invoice_fields(document) returns company (the vendor), "
    "date (ISO), total (the grand total, a number), tax code and invoice number, each with its "
    "confidence and source line. Inputs are an upload reference (upload://<handle>), base64 "
    "(or a data: URL), or a path inside your own folder."
)

Input = Annotated[
    str,
    Field(
        min_length=1,
        description=(
            "the file: an upload reference 'upload://<handle>', base64 (or a data: URL), "
            "or a path inside your folder such as 'scans/a.png'"
        ),
    ),
]
Engine = Annotated[
    EngineName | None,
    Field(
        description="OCR engine: 'auto' (default: RapidOCR, and Tesseract's Vietnamese model on Vietnamese "
        "pages), 'rapidocr', or 'tesseract' (if installed on the server)"
    ),
]
DocumentLanguage = Annotated[
    Language | None,
    Field(
        description="the document's language, 'vi' or 'en', when known; detected page by page when omitted"
    ),
]
PageNumber = Annotated[int, Field(ge=1)]
Pages = Annotated[
    list[PageNumber] | None,
    Field(max_length=1000, description="1-based page numbers to read; all pages when omitted"),
]

FIELD_NAMES = ("company", "date", "total", "tax_code", "invoice_number")
# How the text of a result names each structured field (the field names themselves are the
# stable contract: `company` is the vendor).
FIELD_LABELS = {
    "company": "Vendor",
    "date": "Date",
    "total": "Total",
    "tax_code": "Tax code",
    "invoice_number": "Invoice number",
}
LANGUAGE_NAMES = {"en": "English", "vi": "Vietnamese"}
_VIETNAMESE_WORDS = {
    "labels": {
        "image": "ảnh hoặc tệp PDF (đính kèm vào tin nhắn)",
        "document": "ảnh hoặc tệp PDF (đính kèm vào tin nhắn)",
        "company": "Đơn vị bán",
        "date": "Ngày",
        "total": "Tổng cộng",
        "tax_code": "Mã số thuế",
        "invoice_number": "Số hóa đơn",
        "pages_read": "Số trang đã đọc",
        "language": "Ngôn ngữ",
        "text": "Nội dung",
        "format": "Định dạng",
        "pages": "Các trang",
    },
    "values": {"en": "tiếng Anh", "vi": "tiếng Việt"},
}


# What a host asks an English reader for when the file is missing (the schema's description is
# written for clients and names upload references and folders).
_ENGLISH_WORDS: dict[str, object] = {
    "labels": {
        "image": "image or PDF (attach it to your message)",
        "document": "image or PDF (attach it to your message)",
    }
}


def _translations(title: str) -> dict[str, dict[str, object]]:
    """How a host answers a reader of each language with a tool's results; `title` names its
    action in Vietnamese."""
    return {"vi": {"title": title, **_VIETNAMESE_WORDS}, "en": _ENGLISH_WORDS}


def _read_only(title: str) -> ToolAnnotations:
    return ToolAnnotations(
        title=title, read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
    )


def build_server(settings: Settings, options: ServeOptions) -> DomainServer:
    """The OCR server, with one RapidOCR instance for the process (loaded on first use)."""
    server, tenants = new_server("ocr", settings, options, instructions=INSTRUCTIONS)
    limits = InputLimits.from_settings(settings)
    source = DocumentSource(settings.ocr_allowed_dir, limits)
    uploads = UploadReader(settings)
    reader = DocumentReader(Engines(settings), limits)

    async def read(
        tool: str,
        value: str,
        engine: str | None = None,
        pages: Sequence[int] | None = None,
        language: Language | None = None,
        ctx: Context[Any, Any] | None = None,
    ) -> Document:
        tenant_id = tenants.current().tenant_id
        if is_upload_reference(value):
            data = (await uploads.read(value, max_bytes=limits.max_bytes)).data
            source.check_size(len(data))
        else:
            data = await anyio.to_thread.run_sync(source.read, value, tenant_id)
        # One progress step per page read, for a client that sent a progressToken.
        report = ToolProgress(ctx, server.client_log_levels, logger="ocr").in_thread()
        document = await anyio.to_thread.run_sync(
            functools.partial(
                reader.read,
                data,
                engine=engine,
                pages=pages,
                language=language,
                on_page=lambda done, total: report(done, total, f"read page {done} of {total}"),
            )
        )
        log.info(
            "document_read",
            tool=tool,
            tenant_id=tenant_id,
            format=document.format,
            pages=len(document.pages),
            lines=sum(len(page.lines) for page in document.pages),
            engines=sorted({page.engine for page in document.pages if page.engine}),
            languages=sorted({page.language for page in document.pages if page.language}),
        )
        return document

    @server.tool(
        title="Read an image",
        annotations=_read_only("Read an image"),
        meta=render_meta("summary_text", fields=["text"], translations=_translations("đọc chữ trong ảnh")),
    )
    async def ocr_image(
        image: Input, ctx: Context[Any, Any] | None = None
    ) -> Annotated[CallToolResult, Document]:
        """Read the text of an image (PNG, JPEG, WebP, TIFF; a PDF works too) with the server's
        default engine: the text in reading order and each line with its box and confidence.
        Đọc chữ trong ảnh, nhận dạng văn bản (OCR): ảnh ghi gì."""
        document = await read("ocr_image", image, ctx=ctx)
        return structured_result(document, _document_text(document))

    @server.tool(
        title="Read a document",
        annotations=_read_only("Read a document"),
        meta=render_meta("summary_text", fields=["text"], translations=_translations("đọc tài liệu")),
    )
    async def ocr_document(
        document: Input,
        engine: Engine = None,
        pages: Pages = None,
        language: DocumentLanguage = None,
        ctx: Context[Any, Any] | None = None,
    ) -> Annotated[CallToolResult, Document]:
        """Read a document page by page: PNG, JPEG, WebP, TIFF (every frame) or PDF. A PDF page with
        a text layer is read from it; a scanned page is recognised. Returns each page's text, its
        language and its lines with boxes and confidence. Đọc tài liệu, bản scan, file PDF."""
        read_document = await read("ocr_document", document, engine, pages, language, ctx)
        return structured_result(read_document, _document_text(read_document))

    @server.tool(
        name="extract_invoice_fields",
        title="Invoice fields",
        annotations=_read_only("Invoice fields"),
        meta=render_meta(
            "structured_json",
            fields=list(FIELD_NAMES),
            translations=_translations("trích xuất thông tin hóa đơn"),
        ),
    )
    async def extract_fields(
        document: Input,
        engine: Engine = None,
        language: DocumentLanguage = None,
        ctx: Context[Any, Any] | None = None,
    ) -> Annotated[CallToolResult, InvoiceFields]:
        """Extract the fields of an invoice or receipt, English or Vietnamese: company (the vendor),
        date (ISO 8601), total (the grand total after discounts and tax, a number: "Tổng cộng",
        "Thành tiền", "TOTAL", never a subtotal such as "Tạm tính"), tax code (MST, GST/SST/VAT
        number) and invoice number, each with its confidence and the line it was read from. A field
        that is not found is null. Trích xuất thông tin hóa đơn: đơn vị bán, ngày, tổng tiền, mã số
        thuế, số hóa đơn."""
        read_document = await read("extract_invoice_fields", document, engine, language=language, ctx=ctx)
        fields = extract_invoice_fields(read_document)
        return structured_result(fields, _fields_text(fields))

    async def delete_tenant(tenant_id: str) -> dict[str, int]:
        return {"files": await anyio.to_thread.run_sync(source.delete_tenant_folder, tenant_id)}

    serve_tenant_lifecycle(server, "ocr", settings, delete=delete_tenant)
    return server


def _document_text(document: Document) -> str:
    if not any(page.lines for page in document.pages):
        return f"No text found in the {document.format.upper()} ({len(document.pages)} page(s) read)."
    parts = [f"Read {len(document.pages)} of {document.page_count} page(s) of a {document.format.upper()}."]
    for page in document.pages:
        how = "text layer" if page.source == "text_layer" else f"OCR ({page.engine})"
        language = f", {LANGUAGE_NAMES[page.language]}" if page.language else ""
        mean = sum(line.confidence for line in page.lines) / len(page.lines) if page.lines else 0.0
        parts.append(
            f"--- page {page.number}: {how}{language}, {len(page.lines)} lines, confidence {mean:.2f} ---"
        )
        parts.append(page.text)
    return "\n".join(parts)


def _fields_text(fields: InvoiceFields) -> str:
    """The fields found in one sentence, then those not found, then where each was read."""
    found = [(name, getattr(fields, name)) for name in FIELD_NAMES if getattr(fields, name).value is not None]
    missing = [FIELD_LABELS[name].lower() for name in FIELD_NAMES if getattr(fields, name).value is None]
    if found:
        summary = "; ".join(f"{FIELD_LABELS[name]}: {_field_value(field)}" for name, field in found) + "."
    else:
        summary = "No invoice fields found."
    rows = [summary, f"Not found: {', '.join(missing)}." if missing else "All fields found."]
    for name, field in found:
        rows.append(
            f'{FIELD_LABELS[name]} read from "{field.source_line}" (confidence {field.confidence:.2f}).'
        )
    return "\n".join(rows)


def _field_value(field: InvoiceField) -> str:
    if isinstance(field.value, float):
        return f"{field.value:,.0f}" if field.value == int(field.value) else f"{field.value:,.2f}"
    return str(field.value)
