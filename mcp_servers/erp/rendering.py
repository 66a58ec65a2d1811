"""The readable text of a tool result: a summary line, a markdown table, or both.

Templates address the ERP's JSON answer by dotted path (`{customer.name}`, `{items.0.sku}`) and
may carry a format spec (`{outstanding:,}`). Only keys and list indexes are followed, never
attributes, so a template cannot reach into Python objects.
"""

from __future__ import annotations

import json
import string
from typing import Any

from mcp_servers.common.results import lookup, readable_datetime
from mcp_servers.erp.tool_config import ToolOutput

MAX_TABLE_ROWS = 50
MISSING = "?"


def fill(template: str, data: Any) -> str:
    """`template` with each `{path[:spec]}` replaced by the value in `data`."""
    pieces: list[str] = []
    for literal, field, spec, conversion in string.Formatter().parse(template):
        pieces.append(literal)
        if field is None:
            continue
        value = lookup(data, field)
        if value is None:
            pieces.append(MISSING)
            continue
        if conversion == "r":
            value = repr(value)
        elif isinstance(value, str) and not spec:
            value = readable_datetime(value)
        try:
            pieces.append(format(value, spec or ""))
        except (ValueError, TypeError):
            pieces.append(str(value))
    return "".join(pieces)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        value = json.dumps(value, ensure_ascii=False)
    elif isinstance(value, int) and not isinstance(value, bool):
        value = f"{value:,}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def markdown_table(rows: list[Any], fields: list[str]) -> str:
    """A markdown table of `rows` (objects) with the given columns, capped at `MAX_TABLE_ROWS`."""
    objects = [row for row in rows if isinstance(row, dict)]
    if not objects:
        return "(no rows)"
    columns = fields or list(objects[0])
    lines = [
        "| " + " | ".join(columns) + " |",
        "| " + " | ".join("---" for _ in columns) + " |",
    ]
    for row in objects[:MAX_TABLE_ROWS]:
        lines.append("| " + " | ".join(_cell(lookup(row, column)) for column in columns) + " |")
    if len(objects) > MAX_TABLE_ROWS:
        lines.append(f"... {len(objects) - MAX_TABLE_ROWS} more rows")
    return "\n".join(lines)


def render_text(output: ToolOutput, data: Any) -> str:
    """The text a person reads for this result, as the tool's output format prescribes."""
    summary = fill(output.summary, data) if output.summary else None
    if output.format in ("markdown_table", "chart_data"):
        rows = lookup(data, output.hints.rows or "")
        table = markdown_table(rows if isinstance(rows, list) else [], output.hints.fields)
        return f"{summary}\n\n{table}" if summary else table
    if summary:
        return summary
    return json.dumps(data, ensure_ascii=False, indent=2)
