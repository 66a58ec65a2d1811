"""Numbers, money and dates as a reader of each language writes them, and templates filled so.

English keeps what the tools print (`318,780,000 VND`, `2025-06-30`; a time `2025-06-07 21:07`);
Vietnamese readers get `318.780.000 ₫`, `30/06/2025` and `21:07 07/06/2025`. Templates are the
tools' own (`{customer.name}`, `{outstanding:money}`): only keys and list indexes are followed,
never attributes.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from typing import Any

from host.language import Language
from mcp_servers.common.results import iso_time, lookup, readable_datetime

_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_CURRENCY_SIGNS = {"VND": "₫"}
_VIETNAMESE_SEPARATORS = str.maketrans(",.", ".,")
MISSING = "?"

_WORDS: dict[Language, dict[str, str]] = {
    "en": {"yes": "yes", "no": "no"},
    "vi": {"yes": "có", "no": "không"},
}


def format_number(value: int | float, language: Language) -> str:
    """Thousands grouped: `318,780,000` in English, `318.780.000` in Vietnamese."""
    if isinstance(value, float) and value != int(value):
        text = f"{value:,.2f}".rstrip("0").rstrip(".")
    else:
        text = f"{int(value):,}"
    if language == "vi":
        return text.translate(_VIETNAMESE_SEPARATORS)
    return text


def format_money(amount: int | float, currency: str, language: Language) -> str:
    """`318,780,000 VND` in English; `318.780.000 ₫` in Vietnamese."""
    number = format_number(amount, language)
    if language == "vi":
        return f"{number} {_CURRENCY_SIGNS.get(currency, currency)}"
    return f"{number} {currency}"


def format_date(text: str, language: Language) -> str:
    """An ISO date (or date-time) as the reader writes it; anything else unchanged."""
    if language != "vi":
        return readable_datetime(text)
    if match := _ISO_DATE.match(text):
        year, month, day = match.groups()
        return f"{day}/{month}/{year}"
    if parts := iso_time(text):
        year, month, day = parts.date.split("-")
        return f"{parts.time} {day}/{month}/{year}" + (" UTC" if parts.utc else "")
    return text


def format_value(value: Any, language: Language, values: Mapping[str, str] | None = None) -> str:
    """One value for a reader: numbers grouped, dates localised, known codes (`unpaid`) worded."""
    if isinstance(value, bool):
        return _WORDS[language]["yes" if value else "no"]
    if isinstance(value, int | float):
        return format_number(value, language)
    if value is None:
        return "-"
    text = str(value)
    if values and text in values:
        return values[text]
    return format_date(text, language)


def fill_template(
    template: str, data: Mapping[str, Any], language: Language, values: Mapping[str, str] | None = None
) -> str:
    """`template` with each `{path[:spec]}` filled from `data` for a reader of `language`.

    The spec `money` formats an amount in the result's `currency` (VND when it names none); any
    other spec is the number format of the language (`{count:,}` groups thousands).
    """
    pieces: list[str] = []
    for literal, field, spec, _ in string.Formatter().parse(template):
        pieces.append(literal)
        if field is None:
            continue
        value = lookup(data, field)
        if value is None:
            pieces.append(MISSING)
        elif spec == "money" and isinstance(value, int | float):
            pieces.append(format_money(value, str(data.get("currency") or "VND"), language))
        else:
            pieces.append(format_value(value, language, values))
    return "".join(pieces)
