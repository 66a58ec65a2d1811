"""Dates as printed on invoices and receipts, normalised to ISO 8601.

Numeric dates are read day-first (the order used in Vietnam, Malaysia and most of the world)
unless the numbers say otherwise: a first number above 12 is a day, a second above 12 makes the
first the month (12/28/2017). Two-digit years are 2000-2069 or 1970-1999.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

MONTHS = {
    # English, and Malay where it differs.
    "JAN": 1, "JANUARY": 1, "JANUARI": 1,
    "FEB": 2, "FEBRUARY": 2, "FEBRUARI": 2,
    "MAR": 3, "MARCH": 3, "MAC": 3,
    "APR": 4, "APRIL": 4,
    "MAY": 5, "MEI": 5,
    "JUN": 6, "JUNE": 6,
    "JUL": 7, "JULY": 7, "JULAI": 7,
    "AUG": 8, "AUGUST": 8, "OGO": 8, "OGOS": 8,
    "SEP": 9, "SEPT": 9, "SEPTEMBER": 9,
    "OCT": 10, "OCTOBER": 10, "OKT": 10, "OKTOBER": 10,
    "NOV": 11, "NOVEMBER": 11,
    "DEC": 12, "DECEMBER": 12, "DIS": 12, "DISEMBER": 12,
}  # fmt: skip

# A year may run straight into a time when the printer's space was lost ("25/12/20188:13").
_YEAR_END = r"(?=\D|$|\d{1,2}:\d{2})"
# OCR sometimes splits a year in two ("20 18"); a split year is never followed by a time.
_NUMERIC = re.compile(
    r"(?<!\d)(\d{1,2})\s?([/\-.])\s?(\d{1,2})\s?\2\s?(\d{4}|\d{2} \d{2}(?=[^\d:]|$)|\d{2})" + _YEAR_END
)
_ISO = re.compile(r"(?<!\d)(\d{4})([/\-.])(\d{1,2})\2(\d{1,2})(?!\d)")
_DAY_MONTH_NAME = re.compile(
    r"(?<!\d)(\d{1,2})\s*[-/.\s]?\s*([A-Z]{3,9})\.?\s*[-/.,\s]?\s*(\d{4}|\d{2})" + _YEAR_END
)
_MONTH_NAME_DAY = re.compile(r"\b([A-Z]{3,9})\.?\s*(\d{1,2})(?:ST|ND|RD|TH)?\s*,?\s*(\d{4})(?!\d)")
_VIETNAMESE = re.compile(r"NG[ÀA]Y\s*(\d{1,2})\s*TH[ÁA]NG\s*(\d{1,2})\s*N[ĂA]M\s*(\d{4})")


@dataclass(frozen=True)
class DateMatch:
    """A date found in a text: its value, the characters it came from and where."""

    value: dt.date
    raw: str
    start: int


def find_dates(text: str) -> list[DateMatch]:
    """Every valid date in `text`, in the order they appear."""
    upper = text.upper()
    found: dict[int, DateMatch] = {}
    for pattern, build in (
        (_VIETNAMESE, lambda m: _date(m[3], m[2], m[1])),
        (_ISO, lambda m: _date(m[1], m[3], m[4])),
        (_NUMERIC, lambda m: _day_first(m[1], m[3], m[4].replace(" ", ""))),
        (_DAY_MONTH_NAME, lambda m: _date(m[3], MONTHS.get(m[2]), m[1])),
        (_MONTH_NAME_DAY, lambda m: _date(m[3], MONTHS.get(m[1]), m[2])),
    ):
        for match in pattern.finditer(upper):
            value = build(match)
            overlaps = any(match.start() <= other.start < match.end() for other in found.values())
            if value is not None and match.start() not in found and not overlaps:
                raw = text[match.start() : match.end()].strip()
                found[match.start()] = DateMatch(value, raw, match.start())
    return sorted(found.values(), key=lambda item: item.start)


def parse_date(text: str) -> dt.date | None:
    """The first date in `text`, if any."""
    dates = find_dates(text)
    return dates[0].value if dates else None


def _day_first(first: str, second: str, year: str) -> dt.date | None:
    a, b = int(first), int(second)
    if b > 12 >= a:
        return _date(year, a, b)
    return _date(year, b, a)


def _date(year: str | int, month: str | int | None, day: str | int) -> dt.date | None:
    if month is None:
        return None
    full_year = int(year)
    if full_year < 100:
        full_year += 2000 if full_year < 70 else 1900
    if not 1970 <= full_year <= 2100:
        return None
    try:
        return dt.date(full_year, int(month), int(day))
    except ValueError:
        return None
