"""The deterministic local planner: no network, no LLM, and it says so.

It takes one step at a time like any model: for a new question it picks the offered tool that
best fits the message (embedding similarity plus lexical overlap with the tool's name and
description), fills its arguments from the JSON Schema (`host.arguments`), and asks for exactly
the missing argument when a required one cannot be found. Once a tool has answered, it composes
the final answer from the result's `structuredContent` (`host.answers`).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence

import numpy as np

from agentmesh.embeddings import embed
from host.answers import compose_answer
from host.arguments import FREE_TEXT_NAMES, fill_arguments
from host.catalog import ToolSpec
from host.models.base import Message, ModelRequest, ModelResponse, ToolCall
from host.text import terms

PLANNER_NAME = "local-planner"
_FREE_TEXT_BONUS = 0.25


def _tool_text(tool: ToolSpec) -> str:
    return f"{tool.name.replace('_', ' ')}. {tool.description}"


def _takes_the_message(tool: ToolSpec) -> bool:
    """Whether the tool's required input is free text, so the whole message becomes its argument.

    Such tools (search a knowledge base, ask a question) fit any message of their agent, even
    when their description shares no words with it.
    """
    properties = tool.input_schema.get("properties", {})
    for name in tool.input_schema.get("required", []):
        prop = properties.get(name, {})
        if prop.get("type") == "string" and not (
            {"pattern", "enum", "format", "contentEncoding"} & prop.keys()
        ):
            return name.lower() in FREE_TEXT_NAMES
    return False


def _current_turn(messages: Sequence[Message]) -> tuple[Message | None, list[Message]]:
    """The last user message and the tool results that followed it."""
    for index in range(len(messages) - 1, -1, -1):
        if messages[index].role == "user":
            return messages[index], [m for m in messages[index + 1 :] if m.role == "tool"]
    return None, []


class LocalPlanner:
    """A `Model` that plans with embeddings, keywords and JSON Schemas."""

    name = PLANNER_NAME

    def __init__(self, encoder: Callable[[Sequence[str]], np.ndarray] = embed) -> None:
        self._encoder = encoder
        self._tool_vectors: dict[str, np.ndarray] = {}

    def _vector(self, tool: ToolSpec) -> np.ndarray:
        key = f"{tool.qualified_name}:{tool.definition_hash}"
        vector = self._tool_vectors.get(key)
        if vector is None:
            vector = self._encoder([_tool_text(tool)])[0]
            self._tool_vectors[key] = vector
        return vector

    def rank_tools(self, message: str, tools: Sequence[ToolSpec]) -> list[tuple[float, ToolSpec]]:
        """Tools by fit to `message`: cosine similarity plus a lexical bonus for shared words."""
        if not tools:
            return []
        query = self._encoder([message])[0]
        words = set(terms(message))
        ranked = []
        for tool in tools:
            dense = float(np.dot(query, self._vector(tool)))
            tool_words = set(terms(_tool_text(tool)))
            lexical = len(words & tool_words) / (len(tool_words) ** 0.5 or 1.0)
            bonus = _FREE_TEXT_BONUS if _takes_the_message(tool) else 0.0
            ranked.append((dense + 0.15 * lexical + bonus, tool))
        ranked.sort(key=lambda item: item[0], reverse=True)
        return ranked

    async def respond(self, request: ModelRequest) -> ModelResponse:
        user, results = _current_turn(request.messages)
        if user is None:
            return ModelResponse(text="What would you like to know?", needs_input=True)
        if results:
            return self._answer(results[-1], request.tools)
        return self._plan(user.content, request)

    def _plan(self, message: str, request: ModelRequest) -> ModelResponse:
        ranked = self.rank_tools(message, request.tools)
        if not ranked:
            return ModelResponse(text="I have no tool available to answer that.", needs_input=True)
        # Prefer the best-fitting tool whose required arguments can all be filled; otherwise ask
        # for what the best-fitting tool lacks.
        best_missing: tuple[ToolSpec, list[str]] | None = None
        top_score = ranked[0][0]
        for score, tool in ranked:
            if score < top_score - 0.15:
                break
            filled = fill_arguments(
                tool.input_schema, message, memory=request.memory, attachments=request.attachments
            )
            if not filled.missing:
                call = ToolCall(id=uuid.uuid4().hex[:12], name=tool.external_name, arguments=filled.arguments)
                return ModelResponse(tool_calls=[call])
            if best_missing is None:
                best_missing = (tool, filled.missing)
        assert best_missing is not None
        return ModelResponse(text=self._ask_for(*best_missing), needs_input=True)

    @staticmethod
    def _ask_for(tool: ToolSpec, missing: list[str]) -> str:
        properties = tool.input_schema.get("properties", {})
        asks = []
        for name in missing:
            prop = properties.get(name, {})
            hint = prop.get("description") or prop.get("title") or name.replace("_", " ")
            example = f" (for example {prop['examples'][0]})" if prop.get("examples") else ""
            asks.append(f"the {name.replace('_', ' ')}: {hint}{example}")
        return f"To use {tool.name.replace('_', ' ')} I need " + "; and ".join(asks) + "."

    def _answer(self, result: Message, tools: Sequence[ToolSpec]) -> ModelResponse:
        tool = next((t for t in tools if t.external_name == result.tool_name), None)
        render = dict(tool.render) if tool else {}
        if result.is_error:
            return ModelResponse(text=f"The tool could not answer: {result.content}", render=render)
        data = result.structured
        if data is None:
            return ModelResponse(text=result.content, render=render)
        composed = compose_answer(data, render, result.content)
        readable_text = result.content and not _looks_like_json(result.content)
        text = (
            result.content
            if render.get("format", "summary_text") == "summary_text"
            and readable_text
            and not composed.citations
            else composed.text
        )
        return ModelResponse(text=text, data=data, render=render, citations=composed.citations)


def _looks_like_json(text: str) -> bool:
    stripped = text.strip()
    if not stripped.startswith(("{", "[")):
        return False
    try:
        json.loads(stripped)
    except ValueError:
        return False
    return True
