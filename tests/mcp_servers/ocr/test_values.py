"""Dates and amounts as printed on receipts become ISO dates and numbers."""

from __future__ import annotations

import pytest

from mcp_servers.ocr.amounts import find_amounts, parse_amount
from mcp_servers.ocr.dates import find_dates, parse_date


@pytest.mark.parametrize(
    ("printed", "iso"),
    [
        ("Date: 25/12/2018 8:13:39 PM", "2018-12-25"),
        ("12/28/2017", "2017-12-28"),  # the second number cannot be a month
        ("18-11-18", "2018-11-18"),
        ("09.01.2019", "2019-01-09"),  # day first when both could be months
        ("2018-12-25T10:00", "2018-12-25"),
        ("25 DEC 2018", "2018-12-25"),
        ("Dec 25, 2018", "2018-12-25"),
        ("12 Mac 2019", "2019-03-12"),
        ("Ngày 05 tháng 03 năm 2024", "2024-03-05"),
        ("23-01-201913:14:15", "2019-01-23"),  # OCR lost the space before the time
        ("DocNo 1 Date 25/12/20 18", "2018-12-25"),  # OCR split the year
    ],
)
def test_printed_dates_normalise_to_iso(printed: str, iso: str) -> None:
    assert parse_date(printed).isoformat() == iso  # type: ignore[union-attr]


@pytest.mark.parametrize("text", ["31/02/2019", "99/99/99", "Tel 03-3362 3608", "1.5.3"])
def test_impossible_dates_are_not_dates(text: str) -> None:
    assert find_dates(text) == []


@pytest.mark.parametrize(
    ("printed", "value"),
    [
        ("9.00", 9.0),
        ("1,234.56", 1234.56),
        ("1.234,56", 1234.56),
        ("1.250.000", 1250000.0),
        ("25,000", 25000.0),
        ("9,5", 9.5),
        ("-0.01", -0.01),
    ],
)
def test_amounts_follow_their_separators(printed: str, value: float) -> None:
    assert parse_amount(printed)[0] == pytest.approx(value)  # type: ignore[index]


def test_amounts_are_found_next_to_currency_and_labels() -> None:
    assert [a.value for a in find_amounts("TOTAL (RM): RM9.00")] == [9.0]
    assert [a.value for a in find_amounts("Tổng cộng: 1.250.000đ")] == [1250000.0]
    assert parse_amount("1.2.3") is None


def test_vietnamese_amounts_with_their_currency_marks() -> None:
    for printed, value in (
        ("321.330", 321330.0),
        ("321.330 ₫", 321330.0),
        ("321.330đ", 321330.0),
        ("1,250,000 VND", 1250000.0),
        ("1.250.000 VNĐ", 1250000.0),
        ("-36.000", -36000.0),
    ):
        assert [a.value for a in find_amounts(printed)] == [value], printed


def test_a_decimal_point_followed_by_a_stray_space_is_one_amount() -> None:
    # OCR puts a space after the point ("25. 10"); two digits after it are cents, not a second number.
    assert [(a.value, a.raw) for a in find_amounts("CHANGE 25. 10")] == [(25.1, "25. 10")]
    assert [a.value for a in find_amounts("RM 170. 00")] == [170.0]
    # Not when more digits follow: those are separate numbers.
    assert [a.value for a in find_amounts("Items 5. 10 20")] == [10.0, 20.0]
