"""Composing a final answer from a tool's `structuredContent`, by the tool's output format.

Used by the local planner: `summary_text` becomes sentences of labelled values,
`markdown_table` a table over the list the renderer hints name, and search-like results
(items with a title and a snippet) an answer quoting the best passage with numbered citations.

Answers are in the reader's language: a tool's renderer hints may carry a translation per
language (`translations.vi`: a summary template, field labels, words for coded values), and
numbers, money and dates are written the reader's way (`host.locale`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, get_args

from pydantic import BaseModel, Field, ValidationError

from host.language import Language
from host.locale import fill_template, format_value
from host.text import looks_vietnamese

_MAX_TABLE_ROWS = 20


class ComposedAnswer(BaseModel):
    text: str
    citations: list[dict[str, Any]] = Field(default_factory=list)


class Translation(BaseModel):
    """A tool's wording in one language, from its renderer hints (`translations.<language>`)."""

    title: str | None = None
    summary: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    values: dict[str, str] = Field(default_factory=dict)

    @classmethod
    def of(cls, render: Mapping[str, Any], language: Language) -> Translation:
        """The tool's translation into `language`, or an empty one (labels from field names)."""
        found = (render.get("translations") or {}).get(language)
        return cls.model_validate(found) if isinstance(found, Mapping) else cls()

    def label(self, key: str) -> str:
        return self.labels.get(key) or key.replace("_", " ").strip().capitalize()


def tool_titles(title: str | None, render: Mapping[str, Any]) -> dict[Language, str]:
    """A tool's title (English unless its server translates it) and its translations' titles."""
    titles: dict[Language, str] = {"en": title} if title else {}
    for language in get_args(Language):
        try:
            translated = Translation.of(render, language).title
        except ValidationError:
            continue  # a server's malformed hint costs its title, not the tenant's tool list
        if translated:
            titles[language] = translated
    return titles


_PASSAGE_WORDING: dict[Language, tuple[str, str]] = {
    "en": ('According to "{title}": {snippet} [1]', "Sources"),
    "vi": ("Theo “{title}”: {snippet} [1]", "Nguồn"),
}
_MORE_ROWS: dict[Language, str] = {
    "en": "{count} more rows not shown.",
    "vi": "Còn {count} dòng không hiển thị.",
}
_ENTRIES: dict[Language, str] = {"en": "{count} entries.", "vi": "{count} mục."}
_SHOWN: dict[Language, str] = {"en": "Showing {shown} of {count}.", "vi": "Hiển thị {shown} trên {count}."}
_NO_ROWS: dict[Language, str] = {"en": "No results.", "vi": "Không có kết quả nào."}


def _scalars(data: Mapping[str, Any], order: Sequence[str]) -> list[tuple[str, Any]]:
    keys = [k for k in order if k in data] + [k for k in data if k not in order]
    # A field read with its evidence (`{"value": ..., "confidence": ...}`) is shown by its value.
    values = {
        k: data[k]["value"] if isinstance(data[k], Mapping) and "value" in data[k] else data[k] for k in keys
    }
    return [(k, value) for k, value in values.items() if not isinstance(value, Mapping | list)]


def _row_lists(data: Mapping[str, Any], preferred: str | None) -> list[tuple[str, list[dict[str, Any]]]]:
    lists = [
        (key, value)
        for key, value in data.items()
        if isinstance(value, list) and value and all(isinstance(item, dict) for item in value)
    ]
    lists.sort(key=lambda item: item[0] != preferred)
    return lists


def markdown_table(
    rows: Sequence[Mapping[str, Any]],
    fields: Sequence[str] | None = None,
    language: Language = "en",
    translation: Translation | None = None,
) -> str:
    """A Markdown table of `rows` with `fields` as columns (default: the first row's scalar keys)."""
    words = translation or Translation()
    columns = list(fields or [k for k, v in rows[0].items() if not isinstance(v, dict | list)])
    lines = [
        "| " + " | ".join(words.label(c) for c in columns) + " |",
        "| " + " | ".join("---" for _ in columns) + " |",
    ]
    for row in rows[:_MAX_TABLE_ROWS]:
        cells = (format_value(row.get(c), language, words.values).replace("|", "\\|") for c in columns)
        lines.append("| " + " | ".join(cells) + " |")
    if len(rows) > _MAX_TABLE_ROWS:
        lines.append("\n_" + _MORE_ROWS[language].format(count=len(rows) - _MAX_TABLE_ROWS) + "_")
    return "\n".join(lines)


def _is_passage_list(rows: Sequence[Mapping[str, Any]]) -> bool:
    return all("snippet" in row or "text" in row for row in rows) and any("title" in row for row in rows)


def cites_passages(data: Mapping[str, Any], render: Mapping[str, Any]) -> bool:
    """Whether the answer to `data` quotes passages with citations (a search result)."""
    row_lists = _row_lists(data, render.get("rows"))
    return bool(row_lists) and _is_passage_list(row_lists[0][1])


def passage_texts(data: Mapping[str, Any], render: Mapping[str, Any]) -> list[str]:
    """The text of every passage a search result holds, in its order (none if it holds none)."""
    if not cites_passages(data, render):
        return []
    rows = _row_lists(data, render.get("rows"))[0][1]
    return [str(row.get("snippet") or row.get("text") or "") for row in rows]


_MAX_QUOTED_PASSAGES = 3
_MAX_QUOTED_CHARS = 900
_MAX_PASSAGE_CHARS = 600
_BLOCK_START = re.compile(r"([-*+]|\d+[.)])\s|\|")
"""A line that starts a list item or a table row, never joined to the line before it."""


def passages_answer(
    rows: Sequence[Mapping[str, Any]], language: Language, *, cite_others: bool = False
) -> ComposedAnswer:
    """Quote the best document's passages among the hits, with the document as source [1].

    A question about a whole policy ("what is our return policy?") is answered by several of its
    passages, and the best-ranked one is not always the one that holds the rule asked about; so up
    to three passages of the best document are quoted, in the document's own order, and only
    those in the reader's language when the document has some (a policy with a Vietnamese
    summary answers a Vietnamese reader from it). With `cite_others`, the other sources among
    `rows` (each judged relevant by the caller) are listed after it, in rank order; otherwise a
    source is listed only when the answer quotes it.
    """
    citations: list[dict[str, Any]] = []
    seen: set[Any] = set()
    for row in rows:
        source = _source(row)
        if source in seen:
            continue
        seen.add(source)
        citation = {
            "index": len(citations) + 1,
            "title": row.get("title"),
            "document_id": source,
            "score": row.get("score"),
            "snippet": row.get("snippet") or row.get("text"),
        }
        if row.get("url"):
            citation["url"] = row["url"]
        citations.append(citation)
        if len(citations) == (3 if cite_others else 1):
            break
    best = citations[0]
    quoted = _best_document_passages(rows, best["document_id"], language) or [
        _unwrapped(str(best["snippet"] or ""))
    ]
    quote, heading = _PASSAGE_WORDING[language]
    if len(quoted) == 1:
        text = quote.format(title=best["title"], snippet=quoted[0])
    else:
        lead = quote.format(title=best["title"], snippet="").removesuffix(" [1]").rstrip()
        # A passage's own lines stay inside its list item, indented under it.
        text = lead + "".join(f"\n- {passage.replace(chr(10), chr(10) + '  ')} [1]" for passage in quoted)
    sources = "\n".join(
        f"[{c['index']}] {c['title']}" + (f" — {c['url']}" if c.get("url") else "") for c in citations
    )
    return ComposedAnswer(text=f"{text}\n\n{heading}:\n{sources}", citations=citations)


def closest_titles(data: Mapping[str, Any], render: Mapping[str, Any], count: int = 3) -> list[str]:
    """The titles of the first `count` distinct sources of a search result, in rank order."""
    if not cites_passages(data, render):
        return []
    titles: list[str] = []
    seen: set[Any] = set()
    for row in _row_lists(data, render.get("rows"))[0][1]:
        source = _source(row)
        if source not in seen:
            seen.add(source)
            titles.append(str(row.get("title") or source))
    return titles[:count]


def _source(row: Mapping[str, Any]) -> Any:
    return row.get("document_id") or row.get("url") or row.get("title")


def _passage(row: Mapping[str, Any]) -> str:
    """A hit's whole passage when it is short enough to quote, else its snippet: a snippet is the
    window of the passage nearest the query's words, which may cut off the rule asked about."""
    text = str(row.get("text") or "")
    if text.strip() and len(text) <= _MAX_PASSAGE_CHARS:
        return text
    return str(row.get("snippet") or text)


def _unwrapped(passage: str) -> str:
    """A passage with its soft line breaks joined: a document's hard-wrapped sentence would end a
    Markdown list item. Paragraphs, list items and table rows keep their own lines."""
    lines: list[str] = []
    joinable = False
    for line in passage.splitlines():
        text = " ".join(line.split())
        if not text:
            if lines and lines[-1]:
                lines.append("")  # a paragraph break stays one blank line
            joinable = False
        elif joinable and not _BLOCK_START.match(text):
            lines[-1] += f" {text}"
        else:
            lines.append(text)
            joinable = not text.startswith("|")
    return "\n".join(lines).strip()


def _best_document_passages(
    rows: Sequence[Mapping[str, Any]], document: Any, language: Language
) -> list[str]:
    """The best document's passages among `rows`, in the reader's language when it has some: at
    most three, in document order."""
    passages = [
        (rank, row)
        for rank, row in enumerate(rows)
        if _source(row) == document and str(row.get("snippet") or row.get("text") or "").strip()
    ]
    readable = [
        (rank, row)
        for rank, row in passages
        if looks_vietnamese(str(row.get("snippet") or row.get("text"))) == (language == "vi")
    ]
    chosen: list[tuple[int, str]] = []
    total = 0
    for rank, row in readable or passages:
        passage = _unwrapped(_passage(row))
        if chosen and total + len(passage) > _MAX_QUOTED_CHARS:
            continue
        position = row.get("chunk_index")
        chosen.append((position if isinstance(position, int) else rank, passage))
        total += len(passage)
        if len(chosen) == _MAX_QUOTED_PASSAGES:
            break
    return [passage for _, passage in sorted(chosen)]


def compose_answer(
    data: Mapping[str, Any], render: Mapping[str, Any], fallback_text: str, language: Language = "en"
) -> ComposedAnswer:
    """The answer a person reads for a tool result `data`, shaped by the tool's `render` hints,
    in `language`."""
    output_format = render.get("format", "summary_text")
    fields = render.get("fields") or []
    row_lists = _row_lists(data, render.get("rows"))
    words = Translation.of(render, language)

    if cites_passages(data, render):
        return passages_answer(row_lists[0][1], language)

    parts: list[str] = []
    scalars = _scalars(data, fields)
    if words.summary:
        parts.append(fill_template(words.summary, data, language, words.values))
    elif scalars:
        labelled = (f"{words.label(k)}: {format_value(v, language, words.values)}" for k, v in scalars)
        parts.append("; ".join(labelled) + ".")
    if row_lists and (output_format in {"markdown_table", "chart_data"} or not scalars):
        key, rows = row_lists[0]
        table_fields = fields if output_format == "markdown_table" else None
        parts.append(f"{words.label(key)}:\n\n" + markdown_table(rows, table_fields, language, words))
        total = data.get("count")
        if isinstance(total, int) and not isinstance(total, bool) and total > len(rows):
            # The tool returned the first rows of more: say the list is not all of them.
            parts.append(_SHOWN[language].format(shown=len(rows), count=total))
    elif row_lists and not words.summary:
        key, rows = row_lists[0]
        parts.append(f"{words.label(key)}: " + _ENTRIES[language].format(count=len(rows)))
    elif parts and data.get(render.get("rows") or "") == []:
        parts.append(_NO_ROWS[language])  # the list the answer is about is empty: say so
    if not parts:
        return ComposedAnswer(text=fallback_text)
    return ComposedAnswer(text="\n\n".join(parts))
