"""The OCR server as deployed: `agentmesh serve ocr` over HTTP, called with mesh tokens.

Two tenants share the server; each has its own folder under the allowed directory.
"""

from __future__ import annotations

import base64
import difflib
import json
import re
import shutil
import subprocess
import sys
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters, stdio_client
from PIL import Image

from agentmesh.settings import Settings, load_settings
from mcp_servers.common.errors import error_code
from mcp_servers.ocr.dates import parse_date
from tests.conftest import require_backend
from tests.mcp_servers.ocr.rendering import encoded, multipage_tiff, scanned_pdf, text_image, text_layer_pdf
from tests.support.mcp import http_client, mesh_token
from tests.support.processes import running_server

TOOLS = ["ocr_image", "ocr_document", "extract_invoice_fields"]
SROIE = Path(__file__).resolve().parents[4] / "shared" / "data" / "sroie"
# Base64 travels in the request body, which the MCP transport caps at 4 MiB.
MAX_BYTES = 1_000_000
MAX_PIXELS = 6_000_000
MAX_PAGES = 4

HELLO = text_image(["Hello OCR world", "Invoice 12345"])
VIETNAMESE_RECEIPT = text_image(
    [
        "CÀ PHÊ SƯƠNG MAI",
        "12 Lê Lợi, Quận 1, TP. Hồ Chí Minh",
        ("Ngày:", "06/12/2023 14:05"),
        ("Tạm tính", "330.000"),
        ("Thuế GTGT (10%)", "33.000"),
        ("Tổng cộng", "363.000 ₫"),
        ("Tiền khách đưa", "500.000 ₫"),
        ("Tiền thừa", "137.000 ₫"),
    ],
    size=30,
    width=760,
)


def require_tesseract(model: str) -> None:
    """Tesseract with `model` installed, or a skip (a failure under CI)."""
    if shutil.which("tesseract") is None:
        require_backend("tesseract", "Tesseract is not installed (apt-get install tesseract-ocr)")
    listed = subprocess.run(["tesseract", "--list-langs"], capture_output=True, text=True, check=False)
    if model not in listed.stdout.split():
        require_backend(f"tesseract-ocr-{model}", f"the Tesseract model {model} is not installed")


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ocr-server")


@pytest.fixture(scope="module")
def allowed_dir(data_dir: Path) -> Path:
    root = data_dir / "allowed"
    (root / "acme" / "scans").mkdir(parents=True)
    (root / "globex").mkdir(parents=True)
    # Read by path; a text-layer PDF keeps these tests free of OCR time.
    (root / "acme" / "scans" / "hello.pdf").write_bytes(text_layer_pdf([["Hello OCR world"]]))
    (data_dir / "private.pdf").write_bytes(text_layer_pdf([["Not yours"]]))
    (root / "acme" / "scans" / "escape.pdf").symlink_to(data_dir / "private.pdf")
    return root


@pytest.fixture(scope="module")
def server_settings(data_dir: Path) -> Settings:
    return load_settings(AGENTMESH_DATA_DIR=data_dir)


@pytest.fixture(scope="module")
def server_url(data_dir: Path, allowed_dir: Path) -> Iterator[str]:
    with running_server(
        "ocr",
        data_dir,
        AGENTMESH_OCR_ALLOWED_DIR=str(allowed_dir),
        AGENTMESH_OCR_MAX_BYTES=str(MAX_BYTES),
        AGENTMESH_OCR_MAX_PIXELS=str(MAX_PIXELS),
        AGENTMESH_OCR_MAX_PAGES=str(MAX_PAGES),
    ) as url:
        yield url


async def call(
    settings: Settings, url: str, tool: str, arguments: dict[str, Any], tenant: str = "acme"
) -> Any:
    token = mesh_token(settings, "ocr", tenant=tenant, tools=TOOLS)
    async with http_client(url, token) as client:
        return await client.call_tool(tool, arguments)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def letters(text: str) -> str:
    """Text compared the way people read it: capitals, no spaces or punctuation."""
    return re.sub(r"[^0-9A-Z]", "", text.upper())


def reads_as(text: str, expected: str) -> bool:
    """OCR is not perfect: the text must match `expected` (compared by `letters`) at 90% or better."""
    return difflib.SequenceMatcher(None, letters(text), letters(expected)).ratio() >= 0.9


def error_text(result: Any) -> str:
    """The text of a refusal, which also carries its code in `_meta`."""
    assert result.is_error, result
    assert error_code(result) is not None, result
    return result.content[0].text


async def test_tools_are_read_only_and_declare_output_schemas(
    server_settings: Settings, server_url: str
) -> None:
    token = mesh_token(server_settings, "ocr", tools=TOOLS)
    async with http_client(server_url, token) as client:
        listed = {tool.name: tool for tool in (await client.list_tools()).tools}
    assert sorted(listed) == sorted(TOOLS)
    for tool in listed.values():
        assert tool.annotations.read_only_hint is True
        assert tool.output_schema is not None
    assert set(listed["extract_invoice_fields"].output_schema["properties"]) >= {
        "company", "date", "total", "tax_code", "invoice_number"
    }  # fmt: skip


async def test_a_rendered_image_comes_back_as_lines_with_boxes_and_confidence(
    server_settings: Settings, server_url: str
) -> None:
    result = await call(server_settings, server_url, "ocr_image", {"image": b64(encoded(HELLO, "PNG"))})
    assert not result.is_error, result
    page = result.structured_content["pages"][0]
    assert page["source"] == "ocr" and page["engine"] == "rapidocr" and page["unit"] == "px"
    assert len(page["lines"]) == 2
    assert reads_as(page["lines"][0]["text"], "HELLOOCRWORLD"), page["lines"]
    assert reads_as(page["lines"][1]["text"], "INVOICE12345"), page["lines"]
    # The recogniser drops spaces; the server puts them back from the gaps between words.
    assert page["lines"][0]["text"].split()[-1].upper() in {"WORLD", "WORID", "WOR1D"}
    assert len(page["lines"][0]["text"].split()) == 3, page["lines"][0]["text"]
    for line in page["lines"]:
        assert len(line["box"]) == 4
        assert all(0 <= x <= HELLO.width and 0 <= y <= HELLO.height for x, y in line["box"])
        assert 0.5 < line["confidence"] <= 1.0
    first, second = page["lines"]
    assert max(y for _, y in first["box"]) <= min(y for _, y in second["box"]) + 5  # top to bottom
    assert result.content[0].text.endswith(page["text"])


@pytest.mark.parametrize(
    ("format", "options"), [("PNG", {}), ("JPEG", {"quality": 90}), ("WEBP", {"quality": 90}), ("TIFF", {})]
)
async def test_each_image_format_is_read(
    server_settings: Settings, server_url: str, format: str, options: dict[str, Any]
) -> None:
    result = await call(
        server_settings, server_url, "ocr_document", {"document": b64(encoded(HELLO, format, **options))}
    )
    assert not result.is_error, result
    assert result.structured_content["format"] == format.lower()
    assert reads_as(result.structured_content["text"], "HELLOOCRWORLDINVOICE12345"), (
        result.structured_content["text"]
    )


async def test_tiff_frames_are_pages_and_pages_can_be_chosen(
    server_settings: Settings, server_url: str
) -> None:
    tiff = multipage_tiff([HELLO, text_image(["Second page 42"])])
    result = await call(server_settings, server_url, "ocr_document", {"document": b64(tiff), "pages": [2]})
    assert not result.is_error, result
    assert result.structured_content["page_count"] == 2
    [page] = result.structured_content["pages"]
    assert page["number"] == 2
    assert reads_as(page["text"], "SECONDPAGE42"), page["text"]


async def test_a_pdf_with_a_text_layer_is_read_from_it(server_settings: Settings, server_url: str) -> None:
    pdf = text_layer_pdf([["Invoice No: INV-2024-001", "Total: 1,250.00"], ["Thank you"]])
    result = await call(server_settings, server_url, "ocr_document", {"document": b64(pdf)})
    assert not result.is_error, result
    first, second = result.structured_content["pages"]
    assert first["source"] == "text_layer" and first["unit"] == "pt"
    assert first["text"] == "Invoice No: INV-2024-001\nTotal: 1,250.00"
    assert [line["text"] for line in first["lines"]] == ["Invoice No: INV-2024-001", "Total: 1,250.00"]
    assert all(line["confidence"] == 1.0 for line in first["lines"])
    top, bottom = first["lines"][0]["box"][0][1], first["lines"][0]["box"][2][1]
    assert 50 < top < bottom < 100  # near the top of an A4 page, in points
    assert second["text"] == "Thank you"


async def test_a_scanned_pdf_is_recognised(server_settings: Settings, server_url: str) -> None:
    pdf = scanned_pdf([HELLO])
    result = await call(server_settings, server_url, "ocr_document", {"document": b64(pdf)})
    assert not result.is_error, result
    [page] = result.structured_content["pages"]
    assert page["source"] == "ocr" and page["engine"] == "rapidocr" and page["unit"] == "pt"
    assert reads_as(page["text"], "HELLOOCRWORLDINVOICE12345"), page["text"]
    # Boxes are in PDF points like the page size, not in raster pixels.
    assert all(0 <= x <= page["width"] and 0 <= y <= page["height"] for x, y in page["lines"][0]["box"])


@pytest.mark.parametrize(
    ("arguments", "expected", "code"),
    [
        (
            {"document": b64(b"GIF89a" + b"\x00" * 64)},
            r"expected PNG, JPEG, WebP, TIFF or PDF \(got GIF\)",
            "unsupported_format",
        ),
        ({"document": b64(encoded(HELLO, "PNG")[:200])}, r"could not be decoded", "invalid_document"),
        (
            {"document": "iVBORw0KGgo="},  # a PNG signature and nothing else
            r"^the image could not be decoded: not a PNG, JPEG, WebP or TIFF image, or a damaged one$",
            "invalid_document",
        ),
        ({"document": b64(b"%PDF-1.7\nnot really a pdf")}, r"PDF could not be read", "invalid_document"),
        ({"document": "A" * (MAX_BYTES * 2)}, r"the limit is 1,000,000 bytes", "too_large"),
        (
            {"document": b64(encoded(Image.new("L", (3000, 3000), 255), "PNG"))},
            r"3000x3000 = 9,000,000 pixels; the limit is 6,000,000 pixels",
            "too_large",
        ),
        (
            {"document": b64(multipage_tiff([Image.new("L", (64, 64), 255)] * 5))},
            r"5 pages; at most 4 are read per call",
            "too_large",
        ),
        (
            {"document": b64(encoded(HELLO, "PNG")), "pages": [3]},
            r"page 3 does not exist: the document has pages 1-1",
            "invalid_pages",
        ),
    ],
    ids=[
        "gif",
        "truncated-png",
        "png-signature-only",
        "broken-pdf",
        "too-many-bytes",
        "too-many-pixels",
        "too-many-pages",
        "no-such-page",
    ],
)
async def test_bad_or_oversized_input_gets_a_clear_error(
    server_settings: Settings, server_url: str, arguments: dict[str, Any], expected: str, code: str
) -> None:
    result = await call(server_settings, server_url, "ocr_document", arguments)
    assert re.search(expected, error_text(result)), error_text(result)
    assert error_code(result) == code
    assert "Traceback" not in error_text(result)


async def test_an_argument_outside_its_schema_is_refused(server_settings: Settings, server_url: str) -> None:
    result = await call(server_settings, server_url, "ocr_document", {"document": b64(b"x"), "pages": [0]})
    assert result.is_error
    result = await call(server_settings, server_url, "ocr_document", {"document": b64(b"x"), "engine": "gpt"})
    assert result.is_error


async def test_a_file_in_the_callers_folder_is_read_by_path(
    server_settings: Settings, server_url: str
) -> None:
    result = await call(server_settings, server_url, "ocr_document", {"document": "scans/hello.pdf"})
    assert not result.is_error, result
    assert result.structured_content["text"] == "Hello OCR world"


@pytest.mark.parametrize(
    ("tenant", "path", "expected"),
    [
        ("globex", "../acme/scans/hello.pdf", "outside your folder"),
        ("globex", "scans/hello.pdf", "no file 'scans/hello.pdf' in your folder"),
        ("acme", "../../private.pdf", "outside your folder"),
        ("acme", "scans/escape.pdf", "outside your folder"),
        ("acme", "/etc/hostname", "outside your folder"),
    ],
    ids=[
        "traversal-into-another-tenant",
        "another-tenants-file-name",
        "traversal-out",
        "symlink-out",
        "absolute",
    ],
)
async def test_paths_outside_the_callers_folder_are_refused(
    server_settings: Settings, server_url: str, allowed_dir: Path, tenant: str, path: str, expected: str
) -> None:
    result = await call(server_settings, server_url, "ocr_image", {"image": path}, tenant=tenant)
    assert expected in error_text(result)
    assert str(allowed_dir) not in error_text(result)  # the server's layout is not revealed


async def test_another_tenants_file_is_refused_by_absolute_path(
    server_settings: Settings, server_url: str, allowed_dir: Path
) -> None:
    path = str(allowed_dir / "acme" / "scans" / "hello.pdf")
    result = await call(server_settings, server_url, "ocr_image", {"image": path}, tenant="globex")
    assert "outside your folder" in error_text(result)


async def test_invoice_fields_of_a_synthetic_receipt(server_settings: Settings, server_url: str) -> None:
    receipt = text_image(
        [
            "SUNRISE TRADING SDN BHD",
            "GST REG NO: 000123456789",
            ("Invoice No:", "INV-7781"),
            ("Date:", "14/03/2019 10:22"),
            ("SUB TOTAL", "42.40"),
            ("GST 6%", "2.54"),
            ("TOTAL", "44.95"),
            ("CASH", "50.00"),
            ("CHANGE", "5.05"),
        ]
    )
    result = await call(
        server_settings, server_url, "extract_invoice_fields", {"document": b64(encoded(receipt, "PNG"))}
    )
    assert not result.is_error, result
    fields = result.structured_content
    assert reads_as(fields["company"]["value"], "SUNRISETRADINGSDNBHD"), fields["company"]["value"]
    assert fields["date"]["value"] == "2019-03-14"
    assert fields["total"]["value"] == 44.95
    assert fields["tax_code"]["value"] == "000123456789"
    assert fields["invoice_number"]["value"] == "INV-7781"
    for name in ("company", "date", "total", "tax_code", "invoice_number"):
        assert 0.3 < fields[name]["confidence"] <= 1.0
        assert fields[name]["source_line"]
    text = result.content[0].text
    assert text.startswith("Vendor: ") and "; Date: 2019-03-14; Total: 44.95; Tax code: 000123456789" in text
    assert "All fields found." in text


async def test_a_vietnamese_receipt_keeps_its_diacritics_and_gives_the_grand_total(
    server_settings: Settings, server_url: str
) -> None:
    require_tesseract("vie")
    document = b64(encoded(VIETNAMESE_RECEIPT, "JPEG", quality=90))
    read = await call(server_settings, server_url, "ocr_image", {"image": document})
    assert not read.is_error, read
    [page] = read.structured_content["pages"]
    assert page["engine"] == "rapidocr+tesseract" and page["language"] == "vi"
    text = unicodedata.normalize("NFC", page["text"])
    for expected in ("CÀ PHÊ SƯƠNG MAI", "Hồ Chí Minh", "Tạm tính", "Tổng cộng"):
        assert expected in text, text
    assert "Vietnamese" in read.content[0].text

    result = await call(server_settings, server_url, "extract_invoice_fields", {"document": document})
    assert not result.is_error, result
    fields = result.structured_content
    assert fields["total"]["value"] == 363000.0  # the grand total, not "Tạm tính" 330.000
    assert unicodedata.normalize("NFC", fields["total"]["source_line"]).startswith("Tổng cộng")
    assert unicodedata.normalize("NFC", fields["company"]["value"]) == "CÀ PHÊ SƯƠNG MAI"
    assert fields["date"]["value"] == "2023-12-06"
    assert fields["language"] == "vi"
    text = unicodedata.normalize("NFC", result.content[0].text)
    assert text.startswith("Vendor: CÀ PHÊ SƯƠNG MAI; Date: 2023-12-06; Total: 363,000")
    assert "Not found: tax code, invoice number." in text


async def test_the_language_can_be_given_instead_of_detected(
    server_settings: Settings, server_url: str
) -> None:
    result = await call(
        server_settings,
        server_url,
        "ocr_document",
        {"document": b64(encoded(VIETNAMESE_RECEIPT, "PNG")), "language": "en"},
    )
    assert not result.is_error, result
    [page] = result.structured_content["pages"]
    assert page["language"] == "en" and page["engine"] == "rapidocr"
    refused = await call(
        server_settings,
        server_url,
        "ocr_document",
        {"document": b64(encoded(HELLO, "PNG")), "language": "fr"},
    )
    assert refused.is_error


async def test_fields_not_found_are_said_in_the_text(server_settings: Settings, server_url: str) -> None:
    result = await call(
        server_settings,
        server_url,
        "extract_invoice_fields",
        {"document": b64(text_layer_pdf([["12345", "67890"]]))},
    )
    assert not result.is_error, result
    assert result.content[0].text == (
        "No invoice fields found.\nNot found: vendor, date, total, tax code, invoice number."
    )
    assert result.structured_content["total"]["value"] is None


@pytest.mark.parametrize(
    "question", ["What is the total on this receipt?", "Tổng cộng trên hóa đơn này là bao nhiêu?"]
)
async def test_a_question_in_place_of_the_image_asks_for_the_image_and_reveals_no_setting(
    server_settings: Settings, server_url: str, allowed_dir: Path, question: str
) -> None:
    result = await call(server_settings, server_url, "extract_invoice_fields", {"document": question})
    message = error_text(result)
    assert "no document came with the request, only text: attach the image" in message
    assert error_code(result) == "invalid_document"
    assert "AGENTMESH" not in message and "ALLOWED_DIR" not in message and str(allowed_dir) not in message


@pytest.mark.skipif(not SROIE.is_dir(), reason=f"SROIE development data not found at {SROIE}")
async def test_invoice_fields_of_a_sroie_receipt(server_settings: Settings, server_url: str) -> None:
    key = json.loads((SROIE / "key" / "007.json").read_text())
    image = (SROIE / "img" / "007.jpg").read_bytes()
    result = await call(server_settings, server_url, "extract_invoice_fields", {"document": b64(image)})
    assert not result.is_error, result
    fields = result.structured_content
    assert fields["date"]["value"] == parse_date(key["date"]).isoformat()  # type: ignore[union-attr]
    assert fields["total"]["value"] == float(key["total"])
    assert letters(fields["company"]["value"]) == letters(key["company"])


async def test_tesseract_is_selectable_per_call(server_settings: Settings, server_url: str) -> None:
    require_tesseract("eng")
    result = await call(
        server_settings,
        server_url,
        "ocr_document",
        {"document": b64(encoded(HELLO, "PNG")), "engine": "tesseract"},
    )
    assert not result.is_error, result
    page = result.structured_content["pages"][0]
    assert page["engine"] == "tesseract"
    assert reads_as(page["text"], "HELLOOCRWORLDINVOICE12345"), page["text"]
    assert all(len(line["box"]) == 4 and 0 < line["confidence"] <= 1 for line in page["lines"])


async def test_tesseract_reads_vietnamese(server_settings: Settings, server_url: str) -> None:
    require_tesseract("vie")
    invoice = text_image(["Hóa đơn bán hàng", "Tổng cộng: 1.250.000 đ"], size=32)
    result = await call(
        server_settings,
        server_url,
        "ocr_document",
        {"document": b64(encoded(invoice, "PNG")), "engine": "tesseract"},
    )
    assert not result.is_error, result
    text = unicodedata.normalize("NFC", result.structured_content["text"]).lower()
    assert difflib.SequenceMatcher(None, text, "hóa đơn bán hàng\ntổng cộng: 1.250.000 đ").ratio() >= 0.85, (
        text
    )
    assert "cộng" in text


@pytest.mark.skipif(shutil.which("tesseract") is not None, reason="Tesseract is installed here")
async def test_tesseract_absent_is_a_clear_error(server_settings: Settings, server_url: str) -> None:
    result = await call(
        server_settings,
        server_url,
        "ocr_document",
        {"document": b64(encoded(HELLO, "PNG")), "engine": "tesseract"},
    )
    assert "Tesseract is not installed on this server" in error_text(result)


async def test_the_server_runs_over_stdio_for_one_tenant(tmp_path: Path) -> None:
    folder = tmp_path / "allowed" / "acme"
    folder.mkdir(parents=True)
    (folder / "note.pdf").write_bytes(text_layer_pdf([["Read over stdio"]]))
    parameters = StdioServerParameters(
        command=sys.executable,
        args=["-m", "agentmesh.cli", "serve", "ocr", "--transport", "stdio", "--tenant", "acme"],
        env={
            "AGENTMESH_DATA_DIR": str(tmp_path),
            "AGENTMESH_LOG_LEVEL": "WARNING",
            "AGENTMESH_OCR_ALLOWED_DIR": str(tmp_path / "allowed"),
        },
    )
    async with Client(stdio_client(parameters)) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
        result = await client.call_tool("ocr_document", {"document": "note.pdf"})
    assert names == set(TOOLS)
    assert result.structured_content["text"] == "Read over stdio"
