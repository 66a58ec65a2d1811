"""Invoice fields come from keywords, formats and layout, each with its source line."""

from __future__ import annotations

from collections.abc import Sequence

from mcp_servers.ocr.document import Document, Page, TextLine
from mcp_servers.ocr.invoice import extract_invoice_fields

ROW_HEIGHT = 30


def page(rows: Sequence[str | tuple[str, str]], confidence: float = 0.9) -> Document:
    """A read page laid out like a receipt: a pair is a label at the left and a value at the right."""
    lines = []
    for index, row in enumerate(rows):
        top, bottom = index * ROW_HEIGHT + 10, index * ROW_HEIGHT + 30
        parts = [(row, 20.0)] if isinstance(row, str) else [(row[0], 20.0), (row[1], 400.0)]
        for text, left in parts:
            right = left + 10 * len(text)
            box = [(left, top), (right, top), (right, bottom), (left, bottom)]
            lines.append(TextLine(text=text, box=box, confidence=confidence))
    only = Page(
        number=1, source="ocr", engine="rapidocr", width=600, height=1000, unit="px", text="", lines=lines
    )
    return Document.of("png", 1, [only])


def test_vietnamese_invoice_fields() -> None:
    fields = extract_invoice_fields(
        page(
            [
                "CÔNG TY TNHH THƯƠNG MẠI AN PHÁT",
                "Mã số thuế: 0101234567",
                "Địa chỉ: 12 Nguyễn Trãi, Quận 1",
                "HÓA ĐƠN GIÁ TRỊ GIA TĂNG",
                "Số hóa đơn: 0000123",
                "Ngày 05 tháng 03 năm 2024",
                ("Cộng tiền hàng", "1.136.364"),
                ("Thuế GTGT 10%", "113.636"),
                ("Tổng cộng thanh toán", "1.250.000"),
            ]
        )
    )
    assert fields.company.value == "CÔNG TY TNHH THƯƠNG MẠI AN PHÁT"
    assert fields.tax_code.value == "0101234567"
    assert fields.invoice_number.value == "0000123"
    assert fields.date.value == "2024-03-05"
    assert fields.total.value == 1250000.0
    assert fields.total.source_line == "Tổng cộng thanh toán 1.250.000"
    assert 0 < fields.total.confidence <= 0.9


def test_receipt_total_is_what_is_paid_after_rounding() -> None:
    fields = extract_invoice_fields(
        page(
            [
                "tan woon yann",  # a handwritten note above the shop's name
                "GOLDEN MART SDN BHD",
                "(123456-X)",
                "GST REG NO: 000123456789",
                ("Date:", "03/04/2019 10:22"),
                ("Invoice No:", "CS1002"),
                ("Total Qty", "3"),
                ("SUB TOTAL", "60.31"),
                ("TOTAL AMT RM", "60.31"),
                ("ROUNDING ADJ", "-0.01"),
                ("", "60.30"),
                ("CASH", "100.00"),
                ("CHANGE", "39.70"),
            ]
        )
    )
    assert fields.company.value == "GOLDEN MART SDN BHD"
    assert fields.date.value == "2019-04-03"
    assert fields.total.value == 60.30
    assert fields.total.text == "60.30"
    assert fields.tax_code.value == "000123456789"
    assert fields.invoice_number.value == "CS1002"


def test_a_value_under_its_label_and_a_name_over_two_lines() -> None:
    fields = extract_invoice_fields(
        page(["HOME MASTER HARDWARE &", "ELECTRICAL", "NO. 5 JALAN SETIA", "GRAND TOTAL", "RM 15.90"])
    )
    assert fields.company.value == "HOME MASTER HARDWARE & ELECTRICAL"
    assert fields.total.value == 15.90
    assert fields.total.source_line == "RM 15.90"


def test_a_due_date_is_not_the_invoice_date() -> None:
    fields = extract_invoice_fields(page([("Due date:", "30/04/2019"), ("Invoice date:", "01/04/2019")]))
    assert fields.date.value == "2019-04-01"


def test_fields_not_found_are_null_with_no_confidence() -> None:
    fields = extract_invoice_fields(page(["12345", "67890"]))
    for name in ("company", "date", "total", "tax_code", "invoice_number"):
        missing = getattr(fields, name)
        assert missing.value is None
        assert missing.confidence == 0.0
        assert missing.source_line is None
