"""Tool results with both a readable text and `structuredContent`, plus renderer hints.

A data tool is declared as `-> Annotated[CallToolResult, SomeModel]`: the SDK publishes
`SomeModel`'s JSON Schema as the tool's `outputSchema`, and `structured_result` fills both the
text a person reads and the structure a program (or the host's planner) uses.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from mcp_types import CallToolResult, TextContent
from pydantic import BaseModel

OutputFormat = Literal["structured_json", "markdown_table", "chart_data", "summary_text"]

RENDER_META_KEY = "io.agentmesh/render"
"""Tool `_meta` key holding renderer hints: how the answer is best shown to a user."""

TENANT_META_KEY = "io.agentmesh/tenant"
"""Tool `_meta` key naming the one tenant a tenant-specific tool belongs to."""

FORWARDS_USER_TOKEN_META_KEY = "io.agentmesh/forwards-user-token"
"""Tool `_meta` key set (true) on a tool that sends the user's own token to its upstream: the host
then puts that token in the call's mesh token."""


class FollowUp(BaseModel):
    """A tool whose result is read further: for the first `limit` rows of `rows`, call `tool` with
    `argument` set to the row's `field`, when the result's fields equal `when` (a search whose
    hits are then fetched, so the answer quotes the pages, not the search engine's snippets)."""

    tool: str
    argument: str
    rows: str
    field: str
    limit: int = 3
    when: dict[str, Any] = {}


def render_meta(
    output_format: OutputFormat,
    *,
    fields: list[str] | None = None,
    sortable: list[str] | None = None,
    filterable: list[str] | None = None,
    priority: int = 0,
    rows: str | None = None,
    translations: Mapping[str, Mapping[str, Any]] | None = None,
    follow_up: FollowUp | None = None,
    empty_is_not_found: bool = False,
) -> dict[str, Any]:
    """Tool `_meta` with renderer hints. `rows` names the list field a table is built from;
    `translations` the tool's wording per language (`{"vi": {"summary": ..., "labels": ...}}`),
    for a host answering a reader of that language; `follow_up` what a planner reads next from
    the result (`FollowUp`); `empty_is_not_found`: no rows means nothing answers the question (a
    search), not an answer of none (no overdue customers)."""
    hints: dict[str, Any] = {"format": output_format, "priority": priority}
    if empty_is_not_found:
        hints["empty"] = "not_found"
    for key, value in (
        ("fields", fields),
        ("sortable", sortable),
        ("filterable", filterable),
        ("rows", rows),
        ("translations", {language: dict(words) for language, words in (translations or {}).items()}),
        ("follow_up", follow_up.model_dump() if follow_up else None),
    ):
        if value:
            hints[key] = value
    return {RENDER_META_KEY: hints}


def structured_result(data: BaseModel | dict[str, Any], text: str) -> CallToolResult:
    """A successful result carrying `data` as `structuredContent` and `text` for people."""
    structured = data.model_dump(mode="json") if isinstance(data, BaseModel) else data
    return CallToolResult(content=[TextContent(type="text", text=text)], structured_content=structured)


def lookup(data: Any, path: str) -> Any:
    """The value at a dotted path of a result (`customer.name`, `items.0.sku`), or None when absent.

    Only keys and list indexes are followed, never attributes, so a template naming a path
    cannot reach into Python objects."""
    current = data
    for part in path.split("."):
        if isinstance(current, Mapping):
            current = current.get(part)
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return None
    return current


_ISO_DATETIME = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})[T ](?P<time>\d{2}:\d{2})(:\d{2}(\.\d+)?)?(?P<zone>Z|[+-]\d{2}:?\d{2})?$"
)
_UTC = {"Z", "+00:00", "+0000", "-00:00"}


@dataclass(frozen=True)
class IsoTime:
    """An ISO date-time reduced to what a person reads: the day, the minute, and whether it is UTC."""

    date: str
    time: str
    utc: bool


def iso_time(text: str) -> IsoTime | None:
    """The parts of a whole ISO date-time value (`2025-06-07T21:07:00+07:00`); None for anything else."""
    match = _ISO_DATETIME.match(text)
    if match is None:
        return None
    return IsoTime(match["date"], match["time"], match["zone"] in _UTC)


def readable_datetime(text: str) -> str:
    """An ISO date-time as a person reads it in English text (`2025-06-07 21:07`); anything else
    unchanged. A local offset is dropped (the ERP prints times in its business's zone); a time in
    UTC says so (`2025-06-07 14:07 UTC`), since its readers are not there."""
    parts = iso_time(text)
    if parts is None:
        return text
    return f"{parts.date} {parts.time}" + (" UTC" if parts.utc else "")
