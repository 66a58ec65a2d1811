"""Money amounts as printed, normalised to numbers.

Separators decide the reading: with both `,` and `.` the last one is the decimal point
(1,234.56 and 1.234,56); one kind repeated is thousands grouping (1.250.000 đ); a single
separator followed by exactly three digits is grouping too (25,000), otherwise it is the
decimal point (9.00, 9,5).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Letters may touch a number ("RM9.00", "9.00RM"); digits and separators may not. A decimal point
# followed by a space and two digits is one amount with a space the reader put in ("25. 10").
_NUMBER = re.compile(
    r"(?<![\d.,])-?\d[\d.,]*\.\s\d{2}(?![\d.,]|\s?\d)|(?<![\d.,])-?\d[\d.,]*\d(?!\d)|(?<![\d.,])\d(?![\d.,])"
)


@dataclass(frozen=True)
class AmountMatch:
    """An amount found in a text: its value, the characters it came from and where."""

    value: float
    raw: str
    start: int
    has_decimals: bool


def find_amounts(text: str) -> list[AmountMatch]:
    """Every amount in `text`, in the order they appear."""
    found = []
    for match in _NUMBER.finditer(text):
        parsed = parse_amount(match.group())
        if parsed is not None:
            value, has_decimals = parsed
            found.append(AmountMatch(value, match.group(), match.start(), has_decimals))
    return found


def parse_amount(token: str) -> tuple[float, bool] | None:
    """The value of one printed number and whether it had a decimal part; None if malformed."""
    token = "".join(token.split()).rstrip(".,")
    negative = token.startswith("-")
    digits = token.lstrip("-")
    if not digits or not digits[0].isdigit():
        return None
    separators = [char for char in digits if char in ".,"]
    decimal: str | None = None
    if ".," in "".join(dict.fromkeys(separators)) or ",." in "".join(dict.fromkeys(separators)):
        decimal = separators[-1]
    elif len(separators) == 1 and len(digits) - digits.index(separators[0]) - 1 != 3:
        decimal = separators[0]
    if decimal is not None:
        whole, _, fraction = digits.rpartition(decimal)
        if not fraction.isdigit() or len(fraction) > 2:
            return None
        whole = whole.replace("." if decimal == "," else ",", "")
    else:
        whole, fraction = digits, ""
        groups = re.split(r"[.,]", digits)
        if len(groups) > 1 and (any(len(group) != 3 for group in groups[1:]) or len(groups[0]) > 3):
            return None
        whole = "".join(groups)
    if not whole.isdigit():
        return None
    value = float(f"{whole}.{fraction or 0}")
    return (-value if negative else value), bool(fraction)
