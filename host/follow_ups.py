"""Reading a result further: a tool's `follow_up` hint turns its rows into the next calls, and the
answer then quotes what those calls read (a web search's hits fetched, then the pages quoted).

The hint is the server's (`mcp_servers.common.results.FollowUp` in the tool's render hints), so
the local planner knows nothing of web search: it calls the named tool of the same server for the
first rows, once, and answers from the passages of the fetched texts that best match the question.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from host.catalog import ToolSpec
from host.models.base import Message, ToolCall

Relevance = Callable[[str, Sequence[str]], list[float]]
"""Scores passages against the question (cosine similarity, 0..1)."""

_LINE = re.compile(r"\s*\n\s*")
_MIN_PASSAGE_CHARS = 40
_MAX_PASSAGE_CHARS = 600
_PASSAGES_PER_PAGE = 40


def _hint(tools: Sequence[ToolSpec], result: Message) -> tuple[ToolSpec, Mapping[str, Any]] | None:
    tool = next((tool for tool in tools if tool.external_name == result.tool_name), None)
    hint = (tool.render or {}).get("follow_up") if tool else None
    return (tool, hint) if tool and isinstance(hint, Mapping) else None


def follow_up_calls(result: Message, tools: Sequence[ToolSpec]) -> list[ToolCall]:
    """The calls `result`'s tool asks for next, if it declares a follow-up that applies here and
    the follow-up tool is offered; none otherwise."""
    found = _hint(tools, result)
    if found is None or result.is_error or result.structured is None:
        return []
    tool, hint = found
    data = result.structured
    if any(data.get(key) != value for key, value in (hint.get("when") or {}).items()):
        return []
    target = next(
        (spec for spec in tools if spec.server == tool.server and spec.name == hint.get("tool")), None
    )
    rows = data.get(str(hint.get("rows")))
    if target is None or not isinstance(rows, list):
        return []
    values: list[Any] = []
    for row in rows:
        value = row.get(str(hint.get("field"))) if isinstance(row, Mapping) else None
        if value and value not in values:
            values.append(value)
    argument = str(hint.get("argument"))
    return [
        ToolCall(id=uuid.uuid4().hex[:12], name=target.external_name, arguments={argument: value})
        for value in values[: int(hint.get("limit", 3))]
    ]


def read_passages(question: str, pages: Sequence[Message], relevance: Relevance) -> list[dict[str, Any]]:
    """The fetched texts' passages, best match to the question first, as search rows (title, url,
    snippet, score, chunk_index); failed reads are left out."""
    candidates: list[dict[str, Any]] = []
    for page in pages:
        data = page.structured
        if page.is_error or data is None or not isinstance(data.get("text"), str):
            continue
        cited = data.get("citation")
        citation: Mapping[str, Any] = cited if isinstance(cited, Mapping) else {}
        url = citation.get("final_url") or citation.get("url")
        title = citation.get("title") or url
        for index, passage in enumerate(_passages(data["text"])):
            candidates.append({"title": title, "url": url, "snippet": passage, "chunk_index": index})
    if not candidates:
        return []
    scores = relevance(question, [row["snippet"] for row in candidates])
    for row, score in zip(candidates, scores, strict=True):
        row["score"] = round(score, 4)
    return sorted(candidates, key=lambda row: -row["score"])


def _passages(text: str) -> list[str]:
    """A page's text cut into readable passages: its lines (extracted paragraphs), a short line
    joined to the next (a heading to its paragraph), a long one cut at sentence ends."""
    passages: list[str] = []
    pending = ""
    for line in _LINE.split(text):
        paragraph = " ".join(f"{pending} {line}".split())
        pending = ""
        if len(paragraph) < _MIN_PASSAGE_CHARS:
            pending = paragraph
            continue
        while len(paragraph) > _MAX_PASSAGE_CHARS:
            cut = paragraph.rfind(". ", 0, _MAX_PASSAGE_CHARS)
            cut = cut + 1 if cut > _MIN_PASSAGE_CHARS else _MAX_PASSAGE_CHARS
            passages.append(paragraph[:cut].strip())
            paragraph = paragraph[cut:].strip()
        if len(paragraph) >= _MIN_PASSAGE_CHARS:
            passages.append(paragraph)
        if len(passages) >= _PASSAGES_PER_PAGE:
            break
    return passages[:_PASSAGES_PER_PAGE]
