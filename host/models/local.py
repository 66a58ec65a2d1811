"""The deterministic local planner: no network, no LLM, and it says so.

It takes one step at a time like any model: for a new question it picks the offered tool that
best fits the message (`host.tool_ranking`), fills its arguments from the JSON Schema
(`host.arguments`), and asks for exactly the missing argument when a required one cannot be found.
Once a tool has answered, it composes the final answer from the result's `structuredContent`
(`host.answers`) in the tool's output format, else the agent's.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Sequence

import anyio

from host.answers import compose_answer
from host.arguments import fill_arguments
from host.catalog import ToolSpec
from host.models.base import Message, ModelRequest, ModelResponse, TextDelta, ToolCall
from host.tool_ranking import ToolRanker

PLANNER_NAME = "local-planner"
_CLOSE_CALL = 0.15
"""Tools within this score of the best are tried in order before asking for a missing argument."""


def _current_turn(messages: Sequence[Message]) -> tuple[Message | None, list[Message]]:
    """The last user message and the tool results that followed it."""
    for index in range(len(messages) - 1, -1, -1):
        if messages[index].role == "user":
            return messages[index], [m for m in messages[index + 1 :] if m.role == "tool"]
    return None, []


class LocalPlanner:
    """A `Model` that plans with embeddings, keywords and JSON Schemas."""

    name = PLANNER_NAME

    def __init__(self, ranker: ToolRanker | None = None) -> None:
        self.ranker = ranker or ToolRanker()

    async def stream(self, request: ModelRequest) -> AsyncIterator[TextDelta | ModelResponse]:
        user, results = _current_turn(request.messages)
        if user is not None and not results and len(request.tools) > 1:
            # Ranking encodes the message: a worker thread keeps the event loop free for other turns.
            yield await anyio.to_thread.run_sync(self.respond, request)
        else:
            yield self.respond(request)

    def respond(self, request: ModelRequest) -> ModelResponse:
        """The planner's step: a tool call, a question for a missing argument, or the answer."""
        user, results = _current_turn(request.messages)
        if user is None:
            return ModelResponse(text="What would you like to know?", needs_input=True)
        if results:
            return self._answer(results[-1], request)
        return self._plan(user.content, request)

    def _plan(self, message: str, request: ModelRequest) -> ModelResponse:
        ranked = self.ranker.rank(message, request.tools, embedding=request.message_embedding)
        if not ranked:
            return ModelResponse(text="I have no tool available to answer that.", needs_input=True)
        # Prefer the best-fitting tool whose required arguments can all be filled; otherwise ask
        # for what the best-fitting tool lacks.
        best_missing: tuple[ToolSpec, list[str]] | None = None
        top_score = ranked[0][0]
        for score, tool in ranked:
            if score < top_score - _CLOSE_CALL:
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
        """A question naming exactly the missing arguments, with their description and an example."""
        properties = tool.input_schema.get("properties", {})
        asks = []
        for name in missing:
            prop = properties.get(name, {})
            ask = f"the {name.replace('_', ' ')}"
            if prop.get("description"):
                ask += f": {prop['description']}"
            if isinstance(prop.get("enum"), list):
                ask += " (one of " + ", ".join(str(value) for value in prop["enum"]) + ")"
            elif prop.get("examples"):
                ask += f", for example {prop['examples'][0]}"
            asks.append(ask)
        return f"To {tool.name.replace('_', ' ')} I need " + "; and ".join(asks) + "."

    def _answer(self, result: Message, request: ModelRequest) -> ModelResponse:
        tool = next((t for t in request.tools if t.external_name == result.tool_name), None)
        render = dict(tool.render) if tool else {}
        if request.output_format and "format" not in render:
            render["format"] = request.output_format
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
