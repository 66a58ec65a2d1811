"""Reading order: lines grouped into visual rows, top to bottom, each row left to right.

Receipts and invoices put a label and its value on one row ("TOTAL" ... "9.00") as two separate
boxes; grouping boxes into rows is what lets the page text and the field extractor see them together.
"""

from __future__ import annotations

from collections.abc import Sequence

from mcp_servers.ocr.document import TextLine

# Two boxes share a row when their vertical overlap is at least this share of the shorter box,
ROW_OVERLAP = 0.5
# unless they overlap horizontally by more than this share of the narrower one: on a skewed
# photo, lines stacked one above the other have tall boxes that overlap vertically.
STACKED_OVERLAP = 0.3


def rows(lines: Sequence[TextLine]) -> list[list[TextLine]]:
    """Group lines into rows in reading order."""
    grouped: list[list[TextLine]] = []
    for line in sorted(lines, key=lambda item: (item.top + item.bottom) / 2):
        row = _row_for(grouped, line)
        if row is None:
            grouped.append([line])
        else:
            row.append(line)
    for row in grouped:
        row.sort(key=lambda item: item.left)
    grouped.sort(key=lambda row: min(item.top for item in row))
    return grouped


def in_reading_order(lines: Sequence[TextLine]) -> list[TextLine]:
    """The non-empty lines, row by row, each row left to right."""
    return [line for row in rows(lines) for line in row if line.text]


def row_text(row: Sequence[TextLine]) -> str:
    """The text of one row, its boxes joined by a space."""
    return " ".join(line.text for line in row if line.text)


def page_text(lines: Sequence[TextLine]) -> str:
    """The text of a page: one row per line of output."""
    return "\n".join(text for text in (row_text(row) for row in rows(lines)) if text)


def _row_for(grouped: list[list[TextLine]], line: TextLine) -> list[TextLine] | None:
    # Only recent rows can overlap a line taken in order of its vertical centre.
    for row in reversed(grouped[-3:]):
        top = sum(item.top for item in row) / len(row)
        bottom = sum(item.bottom for item in row) / len(row)
        overlap = min(bottom, line.bottom) - max(top, line.top)
        shorter = min(bottom - top, line.height)
        if shorter > 0 and overlap >= ROW_OVERLAP * shorter and not _stacked(row, line):
            return row
    return None


def _stacked(row: list[TextLine], line: TextLine) -> bool:
    for other in row:
        overlap = min(other.right, line.right) - max(other.left, line.left)
        narrower = min(other.right - other.left, line.right - line.left)
        if narrower > 0 and overlap > STACKED_OVERLAP * narrower:
            return True
    return False
