"""Invoice fields come from keywords, formats and layout, each with its source line."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

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


@pytest.mark.parametrize(
    ("row", "expected"),
    [("TOTAL: 75,000 VND", 75000.0), ("Tổng cộng: 321.330 VND", 321330.0), ("TOTAL (VND) 75,000", 75000.0)],
)
def test_a_currency_after_the_total_is_not_its_label(row: str, expected: float) -> None:
    fields = extract_invoice_fields(
        page(["CONG TY TNHH AN PHAT", "Date: 12/05/2025", "Coffee x2 50,000", "Bread x1 25,000", row])
    )
    assert fields.total.value == expected


@pytest.mark.parametrize("label", ["TOTAL (3 items):", "Tong cong (3 mon)"])
def test_a_count_in_the_labels_brackets_is_not_the_total_printed_under_it(label: str) -> None:
    fields = extract_invoice_fields(page(["CONG TY TNHH AN PHAT", "Coffee x3 75,000", label, "75,000"]))
    assert fields.total.value == 75000.0


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


def test_the_grand_total_not_the_subtotal_on_a_vietnamese_receipt() -> None:
    fields = extract_invoice_fields(
        page(
            [
                "BÚN CHẢ HÀNG QUẠT",
                "320 Nguyễn Thị Minh Khai, Quận 3, TP. Hồ Chí Minh",
                ("Ngày: 06/12/2023", "Giờ: 21:13"),
                ("Tên hàng", "Thành tiền"),  # the amount column's header: not a total
                "Phở bò tái chín",
                ("3 x 55.000", "165.000"),
                ("Tạm tính", "360.000 ₫"),
                ("Giảm giá", "-36.000 ₫"),
                ("Thuế GTGT (10%)", "32.400 ₫"),
                ("Tổng thanh toán", "356.400 ₫"),
                ("Tiền khách đưa", "500.000 ₫"),
                ("Tiền trả lại", "143.600 ₫"),
            ]
        )
    )
    assert fields.company.value == "BÚN CHẢ HÀNG QUẠT"
    assert fields.date.value == "2023-12-06"
    assert fields.total.value == 356400.0
    assert fields.total.source_line == "Tổng thanh toán 356.400 ₫"


@pytest.mark.parametrize("subtotal", ["Tạm tính", "Cộng tiền hàng", "Tổng tiền hàng", "SUB TOTAL"])
@pytest.mark.parametrize("grand_total", ["Tổng cộng", "TỔNG CỘNG", "Thành tiền", "Tổng thanh toán", "TOTAL"])
def test_a_subtotal_label_never_wins_over_a_grand_total(subtotal: str, grand_total: str) -> None:
    fields = extract_invoice_fields(
        page([(subtotal, "1.136.364"), ("VAT 10%", "113.636"), (grand_total, "1.250.000")])
    )
    assert fields.total.value == 1250000.0
    # Without a grand total there is no total: a subtotal is not one.
    assert extract_invoice_fields(page([(subtotal, "1.136.364"), ("VAT 10%", "113.636")])).total.value is None


def test_labels_read_without_their_diacritics_still_count() -> None:
    # RapidOCR's reading of a Vietnamese receipt, and a Tesseract misreading of "Tổng".
    for rows in (
        [("Tong tien hang", "440.000"), ("Giam gia", "-22.000"), ("Tong cong", "418.000")],
        [("Tổng tiền hàng", "440.000"), ("Giảm giá", "-22.000"), ("Tống cộng", "418.000")],
    ):
        assert extract_invoice_fields(page(rows)).total.value == 418000.0


def test_thanh_tien_with_its_amount_is_the_total() -> None:
    fields = extract_invoice_fields(
        page([("Tên hàng", "Thành tiền"), ("Cà phê sữa đá", "29.000"), ("Thành tiền:", "58.000đ")])
    )
    assert fields.total.value == 58000.0


def test_a_misread_total_label_is_found_by_the_bills_arithmetic() -> None:
    # "TOTAL" read as 'TOT"I,': the subtotal plus the charges under it is printed on that row.
    fields = extract_invoice_fields(
        page(
            [
                ("Sub Total", "RM 68.87"),
                ("Service Charge", "RM 0.00"),
                ("GST/TAX 6%", "RM 4.13"),
                ('TOT"I,', "RM 73.00"),
                ("CHANGE:", "RM 0.00"),
            ]
        )
    )
    assert fields.total.value == 73.0
    assert fields.total.source_line == 'TOT"I, RM 73.00'


def test_cash_minus_change_outweighs_a_misread_total() -> None:
    # "64.13" read as "64 13": the labelled total says 13; the cash handed over says 64.15.
    fields = extract_invoice_fields(
        page(
            [
                ("Total Sales (Incl GST 6%)", "RM 64 13"),
                ("Rounding Adjustment", "RM 0.02"),
                ("TOTAL", "RM 64.15"),
                ("CASH", "RM 100.00"),
                ("CHANGE", "RM 35.85"),
            ]
        )
    )
    assert fields.total.value == 64.15


def test_without_any_total_label_cash_paid_with_no_change_is_the_total() -> None:
    fields = extract_invoice_fields(
        page([("DP1.05", "RM 149.00"), ("DP1.04", "RM 21.00"), "CASH", "RM 170.00"])
    )
    assert fields.total.value == 170.0
    # With change given back, the cash tendered is not the total.
    assert extract_invoice_fields(page(["CASH", "RM 200.00", ("CHANGE", "RM 30.00")])).total.value == 170.0


def test_a_vietnamese_subtotal_row_is_not_a_tax_code() -> None:
    # Folded, "Tạm tính" reads "TAM TINH": "TIN" (a taxpayer number's label) must be a whole word.
    fields = extract_invoice_fields(page([("Tạm tính", "330.000"), ("Tổng cộng", "363.000")]))
    assert fields.tax_code.value is None
    assert extract_invoice_fields(page(["TIN: 123-456-789-000"])).tax_code.value == "123-456-789-000"


def test_two_sums_that_agree_outweigh_a_misread_total() -> None:
    # The total's "1" read as "4": the subtotal plus VAT and the cash minus change both say 1.188.000.
    fields = extract_invoice_fields(
        page(
            [
                ("Cộng tiền hàng", "1.100.000"),
                ("Thuế GTGT (8%)", "88.000"),
                ("TỔNG CỘNG", "4.188.000"),
                ("Tiền khách đưa", "1.250.000"),
                ("Tiền thừa", "62.000"),
            ]
        )
    )
    assert fields.total.value == 1188000.0
    # Cash minus change alone does not overrule a grand-total label.
    alone = extract_invoice_fields(
        page([("TỔNG CỘNG", "4.188.000"), ("Tiền khách đưa", "1.250.000"), ("Tiền thừa", "62.000")])
    )
    assert alone.total.value == 4188000.0
