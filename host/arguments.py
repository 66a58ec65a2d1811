"""Filling a tool's arguments from its JSON Schema, the user's message and the session's memory.

Used by the local planner. Each property is filled by what its schema says it is: a `pattern`
(an identifier such as an MST or a shipment id) is searched for in the message, an `enum` value
is matched by name, `format: date` parses dates, `format: uri` finds URLs, numbers are taken
near the property's name, base64 content comes from an attachment, and a free-text field gets
the message itself. What the message lacks is taken from the session's entity memory ("and his
payment history?" reuses the last customer).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field

from host.models.base import Attachment
from host.text import fold

_URL = re.compile(r"https?://[^\s<>\"')\]]+", re.IGNORECASE)
_DATE_PATTERNS = (
    (re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b"), ("y", "m", "d")),
    (re.compile(r"\b(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})\b"), ("d", "m", "y")),
)
_NUMBER = re.compile(r"(?<![\w.-])(\d+(?:[.,]\d+)?)(?![\w-])")
FREE_TEXT_NAMES = frozenset({"query", "question", "text", "q", "prompt", "message", "search", "keywords"})
_CONTENT_NAMES = frozenset({"image", "document", "file", "content", "content_base64", "data"})


class FilledArguments(BaseModel):
    """The arguments found, and the required ones that could not be found."""

    arguments: dict[str, Any] = Field(default_factory=dict)
    missing: list[str] = Field(default_factory=list)
    from_memory: list[str] = Field(default_factory=list)


def _searchable(pattern: str) -> re.Pattern[str]:
    """A JSON Schema `pattern` (usually anchored) turned into one that finds a match inside text."""
    body = pattern.removeprefix("^").removesuffix("$")
    return re.compile(rf"(?<![\w-])(?:{body})(?![\w-])", re.IGNORECASE)


def _fits(pattern: str, value: str) -> bool:
    return re.fullmatch(pattern.removeprefix("^").removesuffix("$"), value) is not None


def _find_pattern(pattern: str, message: str) -> str | None:
    for match in _searchable(pattern).finditer(message):
        candidate = match.group(0)
        for variant in (candidate, candidate.upper(), candidate.lower()):
            if _fits(pattern, variant):
                return variant
    return None


def _find_enum(values: Sequence[Any], message: str) -> Any | None:
    text = f" {fold(message)} "
    for value in values:
        if isinstance(value, str) and f" {fold(value).replace('_', ' ')} " in text.replace("_", " "):
            return value
    return None


def _find_date(message: str) -> str | None:
    for pattern, order in _DATE_PATTERNS:
        match = pattern.search(message)
        if match:
            parts = dict(zip(order, (int(g) for g in match.groups()), strict=True))
            try:
                return date(parts["y"], parts["m"], parts["d"]).isoformat()
            except ValueError:
                continue
    lowered = fold(message)
    if "today" in lowered or "hom nay" in lowered:
        return datetime.now().date().isoformat()
    return None


def _find_number(name: str, schema: Mapping[str, Any], message: str, taken: set[str]) -> float | int | None:
    """A number written near the property's name ("top 5", "more than 30 days")."""
    words = [w for w in re.split(r"[_\W]+", name.lower()) if len(w) > 2]
    lowered = message.lower()
    best: tuple[int, str] | None = None
    for match in _NUMBER.finditer(message):
        raw = match.group(1)
        if raw in taken:
            continue
        distance = min(
            (abs(match.start() - hit.start()) for w in words for hit in re.finditer(re.escape(w), lowered)),
            default=None,
        )
        if distance is not None and distance <= 40 and (best is None or distance < best[0]):
            best = (distance, raw)
    if best is None:
        return None
    value = float(best[1].replace(",", "."))
    if schema.get("type") == "integer":
        return int(value)
    return value


def _is_content(name: str, schema: Mapping[str, Any]) -> bool:
    return (
        schema.get("contentEncoding") == "base64"
        or schema.get("format") in {"byte", "binary"}
        or name.lower() in _CONTENT_NAMES
    )


def _from_memory(schema: Mapping[str, Any], name: str, memory: Mapping[str, Any]) -> Any | None:
    if name in memory:
        return memory[name]
    pattern = schema.get("pattern")
    if isinstance(pattern, str):
        for value in reversed(list(memory.values())):
            if isinstance(value, str) and _fits(pattern, value):
                return value
    return None


def fill_arguments(
    schema: Mapping[str, Any],
    message: str,
    *,
    memory: Mapping[str, Any] | None = None,
    attachments: Sequence[Attachment] = (),
) -> FilledArguments:
    """Fill the properties of an object `schema` from `message`, `attachments` and `memory`."""
    memory = memory or {}
    properties: Mapping[str, Mapping[str, Any]] = schema.get("properties", {}) or {}
    required = list(schema.get("required", []) or [])
    result = FilledArguments()
    taken: set[str] = set()

    for name, prop in properties.items():
        value = _extract(name, prop, message, attachments, taken, required_field=name in required)
        if value is None and name in required:
            value = _from_memory(prop, name, memory)
            if value is not None:
                result.from_memory.append(name)
        if value is None:
            if name in required:
                result.missing.append(name)
            continue
        if isinstance(value, str):
            taken.add(value)
        result.arguments[name] = value
    return result


def _extract(
    name: str,
    prop: Mapping[str, Any],
    message: str,
    attachments: Sequence[Attachment],
    taken: set[str],
    *,
    required_field: bool,
) -> Any | None:
    kind = prop.get("type")
    if isinstance(prop.get("pattern"), str):
        return _find_pattern(prop["pattern"], message)
    if isinstance(prop.get("enum"), list):
        return _find_enum(prop["enum"], message)
    if prop.get("format") == "date":
        return _find_date(message)
    if prop.get("format") == "uri" or name.lower() in {"url", "uri", "link"}:
        match = _URL.search(message)
        return match.group(0).rstrip(".,;") if match else None
    if kind == "string" and _is_content(name, prop):
        return attachments[0].content_base64 if attachments else None
    if kind in {"integer", "number"}:
        return _find_number(name, prop, message, taken)
    if kind == "string" and (name.lower() in FREE_TEXT_NAMES or required_field):
        return message.strip() or None
    return None


def remembered_entities(schema: Mapping[str, Any], arguments: Mapping[str, Any]) -> dict[str, Any]:
    """The identifier-like arguments of a call (those with a `pattern`), worth remembering."""
    properties = schema.get("properties", {}) or {}
    return {
        name: value
        for name, value in arguments.items()
        if isinstance(properties.get(name), Mapping) and "pattern" in properties[name]
    }
