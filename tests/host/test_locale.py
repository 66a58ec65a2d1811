"""Numbers, money and dates are written the reader's way; tool templates are filled so."""

from __future__ import annotations

from host.answers import compose_answer
from host.locale import fill_template, format_date, format_money, format_number

DEBT = {
    "customer": {"name": "Evergreen", "mst": "3428557611"},
    "as_of": "2025-06-30",
    "currency": "VND",
    "outstanding": 321330000,
    "open_invoices": [{"invoice_no": "A-1", "due_date": "2025-07-15", "balance": 1500, "status": "unpaid"}],
}
RENDER = {
    "format": "markdown_table",
    "rows": "open_invoices",
    "fields": ["invoice_no", "due_date", "balance", "status"],
    "translations": {
        "vi": {
            "summary": "{customer.name} còn nợ {outstanding:money} tính đến ngày {as_of}.",
            "labels": {
                "invoice_no": "Số hóa đơn",
                "due_date": "Hạn",
                "balance": "Còn lại",
                "status": "Trạng thái",
            },
            "values": {"unpaid": "chưa thanh toán"},
        }
    },
}


def test_numbers_money_and_dates_in_english_and_vietnamese() -> None:
    assert format_number(321330000, "en") == "321,330,000" and format_number(321330000, "vi") == "321.330.000"
    assert format_number(1234.5, "vi") == "1.234,5"
    assert format_money(321330000, "VND", "vi") == "321.330.000 ₫"
    assert format_money(321330000, "VND", "en") == "321,330,000 VND"
    assert format_date("2025-06-30", "vi") == "30/06/2025" and format_date("2025-06-30", "en") == "2025-06-30"
    assert format_date("2025-06-05T14:20:00+07:00", "vi") == "14:20 05/06/2025"
    assert format_date("2025-06-05T14:20:00+07:00", "en") == "2025-06-05 14:20"
    assert format_date("SH-2025-06-05T14:20", "en") == "SH-2025-06-05T14:20"  # not a time: unchanged
    # A time in UTC says so: its readers are seven hours away from it.
    assert format_date("2025-06-05T07:20:00+00:00", "en") == "2025-06-05 07:20 UTC"
    assert format_date("2025-06-05T07:20:00Z", "vi") == "07:20 05/06/2025 UTC"
    # Only a whole value is a time: a title that starts with one keeps its text.
    title = "2025-01-15 09:00 Board meeting minutes"
    assert format_date(title, "en") == title and format_date(title, "vi") == title


def test_a_template_follows_keys_only_and_marks_what_is_missing() -> None:
    assert fill_template("{customer.name}: {outstanding:money}", DEBT, "vi") == "Evergreen: 321.330.000 ₫"
    assert fill_template("{customer.__class__} {nothing}", DEBT, "vi") == "? ?"


def test_a_vietnamese_reader_gets_the_tools_translation_and_an_english_one_its_own_words() -> None:
    vietnamese = compose_answer(DEBT, RENDER, "fallback", "vi").text
    assert vietnamese.startswith("Evergreen còn nợ 321.330.000 ₫ tính đến ngày 30/06/2025.")
    assert "| Số hóa đơn | Hạn | Còn lại | Trạng thái |" in vietnamese
    assert "| A-1 | 15/07/2025 | 1.500 | chưa thanh toán |" in vietnamese
    english = compose_answer(DEBT, RENDER, "fallback", "en").text
    assert (
        "| Invoice no | Due date | Balance | Status |" in english
        and "| A-1 | 2025-07-15 | 1,500 | unpaid |" in english
    )


def test_passages_are_quoted_with_sources_in_the_readers_language() -> None:
    rows = {"results": [{"title": "Returns", "snippet": "30 days.", "document_id": "returns"}]}
    assert compose_answer(rows, {}, "", "vi").text == "Theo “Returns”: 30 days. [1]\n\nNguồn:\n[1] Returns"


def test_fields_read_with_their_evidence_are_shown_by_value() -> None:
    fields = {
        "company": {"value": "Cửa hàng Bình Minh", "confidence": 0.9, "source_line": "CỬA HÀNG BÌNH MINH"},
        "total": {"value": 125000, "confidence": 0.8},
        "tax_code": {"value": None, "confidence": 0.0},
        "pages_read": 1,
    }
    render = {"format": "structured_json", "fields": ["company", "total", "tax_code"]}
    assert compose_answer(fields, render, "", "en").text == (
        "Company: Cửa hàng Bình Minh; Total: 125,000; Tax code: -; Pages read: 1."
    )
