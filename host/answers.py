"""Composing a final answer from a tool's `structuredContent`, by the tool's output format.

Used by the local planner: `summary_text` becomes sentences of labelled values,
`markdown_table` a table over the list the renderer hints name, and search-like results
(items with a title and a snippet) an answer quoting the best passage with numbered citations.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, Field

_MAX_TABLE_ROWS = 20


class ComposedAnswer(BaseModel):
    text: str
    citations: list[dict[str, Any]] = Field(default_factory=list)


def _label(key: str) -> str:
    return key.replace("_", " ").strip().capitalize()


def _format_value(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.2f}".rstrip("0").rstrip(".") if value != int(value) else f"{int(value):,}"
    if value is None:
        return "-"
    return str(value)


def _scalars(data: Mapping[str, Any], order: Sequence[str]) -> list[tuple[str, Any]]:
    keys = [k for k in order if k in data] + [k for k in data if k not in order]
    return [(k, data[k]) for k in keys if not isinstance(data[k], dict | list)]


def _row_lists(data: Mapping[str, Any], preferred: str | None) -> list[tuple[str, list[dict[str, Any]]]]:
    lists = [
        (key, value)
        for key, value in data.items()
        if isinstance(value, list) and value and all(isinstance(item, dict) for item in value)
    ]
    lists.sort(key=lambda item: item[0] != preferred)
    return lists


def markdown_table(rows: Sequence[Mapping[str, Any]], fields: Sequence[str] | None = None) -> str:
    """A Markdown table of `rows` with `fields` as columns (default: the first row's scalar keys)."""
    columns = list(fields or [k for k, v in rows[0].items() if not isinstance(v, dict | list)])
    lines = [
        "| " + " | ".join(_label(c) for c in columns) + " |",
        "| " + " | ".join("---" for _ in columns) + " |",
    ]
    for row in rows[:_MAX_TABLE_ROWS]:
        lines.append("| " + " | ".join(_format_value(row.get(c)).replace("|", "\\|") for c in columns) + " |")
    if len(rows) > _MAX_TABLE_ROWS:
        lines.append(f"\n_{len(rows) - _MAX_TABLE_ROWS} more rows not shown._")
    return "\n".join(lines)


def _is_passage_list(rows: Sequence[Mapping[str, Any]]) -> bool:
    return all("snippet" in row or "text" in row for row in rows) and any("title" in row for row in rows)


def _passages_answer(rows: Sequence[Mapping[str, Any]]) -> ComposedAnswer:
    """Quote the best passage; cite each distinct source once, in rank order."""
    citations: list[dict[str, Any]] = []
    seen: set[Any] = set()
    for row in rows:
        source = row.get("document_id") or row.get("url") or row.get("title")
        if source in seen:
            continue
        seen.add(source)
        citations.append(
            {
                "index": len(citations) + 1,
                "title": row.get("title"),
                "document_id": source,
                "score": row.get("score"),
                "snippet": row.get("snippet") or row.get("text"),
            }
        )
        if len(citations) == 3:
            break
    best = citations[0]
    text = f'According to "{best["title"]}": {str(best["snippet"]).strip()} [1]'
    sources = "\n".join(f"[{c['index']}] {c['title']}" for c in citations)
    return ComposedAnswer(text=f"{text}\n\nSources:\n{sources}", citations=citations)


def compose_answer(data: Mapping[str, Any], render: Mapping[str, Any], fallback_text: str) -> ComposedAnswer:
    """The answer a person reads for a tool result `data`, shaped by the tool's `render` hints."""
    output_format = render.get("format", "summary_text")
    fields = render.get("fields") or []
    row_lists = _row_lists(data, render.get("rows"))

    if row_lists and _is_passage_list(row_lists[0][1]):
        return _passages_answer(row_lists[0][1])

    parts: list[str] = []
    scalars = _scalars(data, fields)
    if scalars:
        parts.append("; ".join(f"{_label(k)}: {_format_value(v)}" for k, v in scalars) + ".")
    if row_lists and (output_format in {"markdown_table", "chart_data"} or not scalars):
        key, rows = row_lists[0]
        parts.append(
            f"{_label(key)}:\n\n"
            + markdown_table(rows, fields if output_format == "markdown_table" else None)
        )
    elif row_lists:
        key, rows = row_lists[0]
        parts.append(f"{_label(key)}: {len(rows)} entries.")
    if not parts:
        return ComposedAnswer(text=fallback_text)
    return ComposedAnswer(text="\n\n".join(parts))
