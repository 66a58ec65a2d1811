"""Filling a tool's arguments from its JSON Schema, the user's message and the session's memory.

Used by the local planner. Each property is filled by what its schema says it is, identifiers
first so their digits are not mistaken for numbers later:

1. a `pattern` (an identifier such as an MST or a shipment id) is searched for in the message,
   an `enum` value is matched by name (accents and underscores ignored), `format: date` reads
   ISO, day/month/year, "5 March 2024", Vietnamese "ngày 5 tháng 3 năm 2024" and today /
   yesterday / tomorrow, `format: uri` finds a URL, and file content is the attachment's upload reference;
2. numbers are taken near the property's name ("top 5", "more than 30 days") within the schema's
   bounds, never from text already used by step 1;
3. a free-text field gets the quoted part of the message if there is one, else the message.

What a required property still lacks is taken from the session's entity memory ("and his payment
history?" reuses the last customer), but only a value that fits the property's pattern.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field

from host.models.base import Attachment
from host.text import fold

FREE_TEXT_NAMES = frozenset({"query", "question", "text", "q", "prompt", "message", "search", "keywords"})
_WHOLE_MESSAGE_NAMES = frozenset({"query", "question", "q", "prompt", "search", "keywords"})
"""Free-text fields that want the whole message (a search reads it all), not a quoted part."""
_CONTENT_NAMES = frozenset({"image", "document", "file", "content", "content_base64", "data"})
_URL = re.compile(r"https?://[^\s<>\"')\]]+", re.IGNORECASE)
_NUMBER = re.compile(r"(?<![\w.-])(\d+(?:[.,]\d+)?)(?![\w-])")
# A count written before an identifier ("2 units of", "2 cái", "2 x") or after it ("x 2", ": 2").
_COUNT_BEFORE = re.compile(r"(?<![\w.-])(\d{1,6})\s*[x\u00d7]?\s*(?:[^\W\d_]+\s+){0,3}$")
_COUNT_AFTER = re.compile(r"\s*[x\u00d7*:]\s*(\d{1,6})(?![\w.-])")
_QUOTED = re.compile(r"[\"“«']([^\"”»']{2,})[\"”»']")
_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ),
        start=1,
    )
    for name in names
}
_MONTH = "|".join(sorted(_MONTHS, key=len, reverse=True))
# Each pattern runs on the folded (lower-case, accent-free) message; groups are named y, m, d or mon.
_DATE_PATTERNS = (
    re.compile(r"\b(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})\b"),
    re.compile(r"\b(?P<d>\d{1,2})[/.-](?P<m>\d{1,2})[/.-](?P<y>\d{4})\b"),
    re.compile(rf"\b(?P<d>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<mon>{_MONTH})\.?,?\s+(?P<y>\d{{4}})\b"),
    re.compile(rf"\b(?P<mon>{_MONTH})\.?\s+(?P<d>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<y>\d{{4}})\b"),
    re.compile(r"\bngay\s+(?P<d>\d{1,2})\s+thang\s+(?P<m>\d{1,2})\s+nam\s+(?P<y>\d{4})\b"),
)
_RELATIVE_DAYS = (
    ("yesterday", -1),
    ("hom qua", -1),
    ("tomorrow", 1),
    ("ngay mai", 1),
    ("today", 0),
    ("hom nay", 0),
)
_NUMBER_SYNONYMS = {
    "limit": ("top", "first", "limit", "max", "most"),
    "top": ("top", "first"),
    "days": ("day", "days", "ngay"),
    "quantity": ("qty", "units", "pieces", "pcs", "quantity"),
}

Span = tuple[int, int]


class FilledArguments(BaseModel):
    """The arguments found, and the required ones that could not be found."""

    arguments: dict[str, Any] = Field(default_factory=dict)
    missing: list[str] = Field(default_factory=list)
    from_memory: list[str] = Field(default_factory=list)


def schema_type(schema: Mapping[str, Any]) -> str | None:
    """The JSON type a schema property takes besides `null` (`["integer", "null"]` is an optional
    integer: portable schemas write optional values so)."""
    declared = schema.get("type")
    if isinstance(declared, list):
        others = [kind for kind in declared if kind != "null"]
        return others[0] if len(others) == 1 else None
    return declared if isinstance(declared, str) else None


def _body(pattern: str) -> str:
    return pattern.removeprefix("^").removesuffix("$")


def _fits(pattern: str, value: str) -> bool:
    return re.fullmatch(_body(pattern), value) is not None


def _find_pattern(pattern: str, message: str) -> tuple[str, Span] | None:
    """The first identifier in `message` that fits `pattern` (a case variant may fit: `sh-1042`)."""
    searchable = re.compile(rf"(?<![\w-])(?:{_body(pattern)})(?![\w-])", re.IGNORECASE)
    for match in searchable.finditer(message):
        candidate = match.group(0)
        for variant in (candidate, candidate.upper(), candidate.lower()):
            if _fits(pattern, variant):
                return variant, match.span()
    return None


def _find_enum(values: Sequence[Any], message: str) -> Any | None:
    text = f" {fold(message).replace('_', ' ')} "
    for value in values:
        if isinstance(value, str) and f" {fold(value).replace('_', ' ')} " in text:
            return value
    return None


def _find_date(message: str, today: date) -> tuple[str, Span | None] | None:
    folded = fold(message)  # for Latin and Vietnamese text, folding keeps positions: one character each
    for pattern in _DATE_PATTERNS:
        for match in pattern.finditer(folded):
            parts = match.groupdict()
            month = _MONTHS[parts["mon"]] if parts.get("mon") else int(parts["m"])
            try:
                return date(int(parts["y"]), month, int(parts["d"])).isoformat(), match.span()
            except ValueError:
                continue
    for phrase, offset in _RELATIVE_DAYS:
        if re.search(rf"\b{phrase}\b", folded):
            return (today + timedelta(days=offset)).isoformat(), None
    return None


def _number_words(name: str, schema: Mapping[str, Any]) -> set[str]:
    words = {w for w in re.split(r"[_\W]+", f"{name} {schema.get('title', '')}".lower()) if len(w) > 2}
    for word in list(words):
        words.update(_NUMBER_SYNONYMS.get(word, ()))
    return words


def _within_bounds(value: float, schema: Mapping[str, Any]) -> bool:
    checks = (
        ("minimum", lambda bound: value >= bound),
        ("maximum", lambda bound: value <= bound),
        ("exclusiveMinimum", lambda bound: value > bound),
        ("exclusiveMaximum", lambda bound: value < bound),
    )
    return all(check(schema[key]) for key, check in checks if isinstance(schema.get(key), int | float))


def _find_number(name: str, schema: Mapping[str, Any], text: str) -> float | int | None:
    """The number written nearest the property's name (within 40 characters) that the schema allows."""
    words = _number_words(name, schema)
    lowered = fold(text)
    mentions = [hit.start() for word in words for hit in re.finditer(rf"\b{re.escape(word)}", lowered)]
    candidates: list[tuple[int, float]] = []
    for match in _NUMBER.finditer(text):
        value = float(match.group(1).replace(",", "."))
        if schema_type(schema) == "integer" and value != int(value):
            continue
        distance = min((abs(match.start() - at) for at in mentions), default=None)
        if distance is not None and distance <= 40 and _within_bounds(value, schema):
            candidates.append((distance, value))
    if not candidates:
        return None
    value = min(candidates)[1]
    return int(value) if schema_type(schema) == "integer" else value


def _free_text(name: str, message: str) -> str | None:
    """The quoted part of the message for a note or a label; the whole message for a search."""
    if name.lower() not in _WHOLE_MESSAGE_NAMES:
        quoted = _QUOTED.search(message)
        if quoted:
            return quoted.group(1).strip()
    return message.strip() or None


def _is_content(name: str, schema: Mapping[str, Any]) -> bool:
    return (
        schema.get("contentEncoding") == "base64"
        or schema.get("format") in {"byte", "binary"}
        or name.lower() in _CONTENT_NAMES
    )


def _from_memory(schema: Mapping[str, Any], name: str, memory: Mapping[str, Any]) -> Any | None:
    """A remembered value for the property: by its name, or any remembered value fitting its pattern."""
    pattern = schema.get("pattern")
    remembered = memory.get(name)
    if remembered is not None and (not isinstance(pattern, str) or _fits(pattern, str(remembered))):
        return remembered
    if isinstance(pattern, str):
        for value in reversed(list(memory.values())):
            if isinstance(value, str) and _fits(pattern, value):
                return value
    return None


def _mask(text: str, span: Span | None) -> str:
    if span is None:
        return text
    start, end = span
    return text[:start] + " " * (end - start) + text[end:]


def fill_arguments(
    schema: Mapping[str, Any],
    message: str,
    *,
    memory: Mapping[str, Any] | None = None,
    attachments: Sequence[Attachment] = (),
    today: date | None = None,
) -> FilledArguments:
    """Fill the properties of an object `schema` from `message`, `attachments` and `memory`."""
    memory = memory or {}
    today = today or datetime.now().date()
    properties: Mapping[str, Mapping[str, Any]] = schema.get("properties", {}) or {}
    required = set(schema.get("required", []) or [])
    found: dict[str, Any] = {}
    remaining = message  # what numbers may still be read from: identifiers and dates masked out

    for name, prop in properties.items():
        value, span = _identifier(name, prop, message, attachments, today)
        if value is not None:
            found[name] = value
            remaining = _mask(remaining, span)
    for name, prop in properties.items():
        if name not in found and schema_type(prop) == "array":
            lines, spans = _line_items(prop, message)
            if lines is not None:
                found[name] = lines
                for line_span in spans:
                    remaining = _mask(remaining, line_span)
    for name, prop in properties.items():
        if name not in found and schema_type(prop) in {"integer", "number"} and "enum" not in prop:
            number = _find_number(name, prop, remaining)
            if number is not None:
                found[name] = number
    for name, prop in properties.items():
        if name not in found and _is_free_text(name, prop, required_field=name in required):
            text = _free_text(name, message)
            if text is not None:
                found[name] = text

    result = FilledArguments()
    for name, prop in properties.items():
        value = found.get(name)
        if value is None and name in required:
            value = _from_memory(prop, name, memory) or _remembered_line(prop, remaining, memory)
            if value is not None:
                result.from_memory.append(name)
        if value is None:
            if name in required:
                result.missing.append(name)
            continue
        result.arguments[name] = value
    return result


def _identifier(
    name: str, prop: Mapping[str, Any], message: str, attachments: Sequence[Attachment], today: date
) -> tuple[Any | None, Span | None]:
    """A value that the schema pins down exactly (pattern, enum, date, URL, attachment), and where it was."""
    if isinstance(prop.get("pattern"), str):
        hit = _find_pattern(prop["pattern"], message)
        return hit if hit is not None else (None, None)
    if isinstance(prop.get("enum"), list):
        return _find_enum(prop["enum"], message), None
    if prop.get("format") == "date":
        found = _find_date(message, today)
        return found if found is not None else (None, None)
    if prop.get("format") == "uri" or name.lower() in {"url", "uri", "link"}:
        match = _URL.search(message)
        return (match.group(0).rstrip(".,;"), match.span()) if match else (None, None)
    if schema_type(prop) == "string" and _is_content(name, prop):
        return (attachments[0].reference if attachments else None), None
    return None, None


def _line_shape(prop: Mapping[str, Any]) -> tuple[Mapping[str, Mapping[str, Any]], str, str] | None:
    """For an array of order-like lines: the line's properties, its identifier and its count."""
    item = prop.get("items")
    if not isinstance(item, Mapping) or schema_type(item) != "object":
        return None
    fields: Mapping[str, Mapping[str, Any]] = item.get("properties", {}) or {}
    keys = [name for name, field in fields.items() if isinstance(field.get("pattern"), str)]
    counts = [name for name, field in fields.items() if schema_type(field) == "integer"]
    if len(keys) != 1 or len(counts) != 1:
        return None
    return fields, keys[0], counts[0]


def _line_items(prop: Mapping[str, Any], message: str) -> tuple[list[dict[str, Any]] | None, list[Span]]:
    """Order-like lines (`2 units of ACM-0001`, `2 cái ACM-0001`, `ACM-0001 x 2`) for an array of
    objects that pair one identifier (a property with a `pattern`) with one integer count."""
    shape = _line_shape(prop)
    if shape is None:
        return None, []
    fields, key, count = shape
    searchable = re.compile(rf"(?<![\w-])(?:{_body(fields[key]['pattern'])})(?![\w-])", re.IGNORECASE)
    lines: list[dict[str, Any]] = []
    spans: list[Span] = []
    for match in searchable.finditer(message):
        identifier = next(
            (v for v in (match.group(0), match.group(0).upper()) if _fits(fields[key]["pattern"], v)), None
        )
        before = _COUNT_BEFORE.search(message[max(0, match.start() - 30) : match.start()])
        after = _COUNT_AFTER.match(message[match.end() : match.end() + 15])
        quantity = next(
            (
                int(hit.group(1))
                for hit in (before, after)
                if hit and _within_bounds(int(hit.group(1)), fields[count])
            ),
            None,
        )
        if identifier is not None and quantity is not None:
            lines.append({key: identifier, count: quantity})
            spans.append(match.span())
    return (lines or None), spans


def _remembered_line(
    prop: Mapping[str, Any], remaining: str, memory: Mapping[str, Any]
) -> list[dict[str, Any]] | None:
    """One order line of the remembered identifier and the one count the message gives: "order 2
    of that item" after a question about ACM-0001. None unless the message refers back to an item
    without naming one, and gives exactly one count."""
    shape = _line_shape(prop)
    if shape is None:
        return None
    fields, key, count = shape
    if _find_pattern(fields[key]["pattern"], remaining) is not None or not _REFERS_BACK.search(remaining):
        return None  # the message names its own item, or none it refers back to
    identifier = _from_memory(fields[key], key, memory)
    numbers = [int(hit) for hit in _COUNT.findall(remaining)]
    if identifier is None or len(numbers) != 1 or not _within_bounds(numbers[0], fields[count]):
        return None
    return [{key: identifier, count: numbers[0]}]


_REFERS_BACK = re.compile(
    r"\b(?:that|this|it|the same|those|these|them)\b|(?<!\w)(?:đó|này|ấy|nó|kia)(?!\w)"
    r"|\b(?:mat hang|san pham|hang|mon|cai) (?:do|nay|ay)\b",
    re.IGNORECASE,
)
"""Words pointing back to something said before: "that item", "mặt hàng đó", "mat hang do"."""
_COUNT = re.compile(r"(?<![\w-])(?<!\d[.,])(\d+)(?![\w-])(?![.,]\d)")
"""A whole number standing alone ("2", "2.", "2,"), not part of a code, a decimal or a grouped amount."""


def _is_free_text(name: str, prop: Mapping[str, Any], *, required_field: bool) -> bool:
    if schema_type(prop) != "string" or {"pattern", "enum", "format", "contentEncoding"} & prop.keys():
        return False
    if _is_content(name, prop):
        return False  # a file comes as an attachment; the question is not the file
    return name.lower() in FREE_TEXT_NAMES or required_field


LAST_TOOL_KEY = "_tool"
"""Session memory key of the tool last called with success: "and 0312345678?" asks it again."""


def identifier_names(schema: Mapping[str, Any]) -> set[str]:
    """The properties a `pattern` pins down: identifiers (tax codes, shipment ids, SKUs)."""
    properties = schema.get("properties", {}) or {}
    return {name for name, prop in properties.items() if isinstance(prop, Mapping) and "pattern" in prop}


def named_in(schema: Mapping[str, Any], message: str) -> dict[str, Any] | None:
    """The arguments the message alone fills, when they are all the required ones and include an
    identifier ("SH-1042" for a shipment tool); None otherwise."""
    filled = fill_arguments(schema, message)
    if filled.missing or not identifier_names(schema) & filled.arguments.keys():
        return None
    return filled.arguments


def remembered_entities(schema: Mapping[str, Any], arguments: Mapping[str, Any]) -> dict[str, Any]:
    """The identifier-like arguments of a call (those with a `pattern`), worth remembering."""
    identifiers = identifier_names(schema)
    return {name: value for name, value in arguments.items() if name in identifiers}
