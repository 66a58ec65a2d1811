"""The deterministic local planner: no network, no LLM, and it says so.

It takes one step at a time like any model: for a new question it picks the offered tool that
best fits the message (`host.tool_ranking`), fills its arguments from the JSON Schema
(`host.arguments`), and asks for exactly the missing argument when a required one cannot be found.
Once a tool has answered, it composes the final answer from the result's `structuredContent`
(`host.answers`) in the tool's output format, else the agent's. Everything it says is in the
user's language: a Vietnamese reader gets the tool's Vietnamese wording, never its English text.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Sequence

import anyio

from host.answers import Translation, compose_answer
from host.arguments import fill_arguments
from host.catalog import ToolSpec
from host.language import Language
from host.models.base import Message, ModelRequest, ModelResponse, TextDelta, ToolCall
from host.tool_ranking import ToolRanker

PLANNER_NAME = "local-planner"
_CLOSE_CALL = 0.15
"""Tools within this score of the best are tried in order before asking for a missing argument."""

_SAYS: dict[Language, dict[str, str]] = {
    "en": {
        "what": "What would you like to know?",
        "no_tool": "I have no tool available to answer that.",
        "ask": "To {tool} I need {asks}.",
        "and": "; and ",
        "argument": "the {name}",
        "one_of": " (one of {values})",
        "example": ", for example {example}",
        "tool_failed": "The tool could not answer: {reason}",
    },
    "vi": {
        "what": "Bạn muốn biết điều gì?",
        "no_tool": "Tôi không có công cụ nào để trả lời câu hỏi này.",
        "ask": "Để {tool}, tôi cần {asks}.",
        "and": "; và ",
        "argument": "{name}",
        "one_of": " (một trong: {values})",
        "example": ", ví dụ {example}",
        "tool_failed": "Công cụ không thể trả lời: {reason}",
    },
}


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
            return ModelResponse(text=_SAYS[request.language]["what"], needs_input=True)
        if results:
            return self._answer(results[-1], request)
        return self._plan(user.content, request)

    def _plan(self, message: str, request: ModelRequest) -> ModelResponse:
        ranked = self.ranker.rank(message, request.tools, embedding=request.message_embedding)
        if not ranked:
            return ModelResponse(text=_SAYS[request.language]["no_tool"], needs_input=True)
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
        return ModelResponse(text=self._ask_for(*best_missing, request.language), needs_input=True)

    @staticmethod
    def _ask_for(tool: ToolSpec, missing: list[str], language: Language) -> str:
        """A question naming exactly the missing arguments, with their description and an example.

        In Vietnamese the tool's translation names the action and the arguments; the schema's
        (English) descriptions are left out."""
        says = _SAYS[language]
        words = Translation.of(tool.render, language)
        properties = tool.input_schema.get("properties", {})
        asks = []
        for name in missing:
            prop = properties.get(name, {})
            ask = says["argument"].format(name=words.labels.get(name) or name.replace("_", " "))
            if prop.get("description") and language == "en":
                ask += f": {prop['description']}"
            if isinstance(prop.get("enum"), list):
                ask += says["one_of"].format(values=", ".join(str(value) for value in prop["enum"]))
            elif prop.get("examples"):
                ask += says["example"].format(example=prop["examples"][0])
            asks.append(ask)
        action = (
            (words.title or tool.name.replace("_", " ")) if language == "vi" else tool.name.replace("_", " ")
        )
        return says["ask"].format(tool=action, asks=says["and"].join(asks))

    def _answer(self, result: Message, request: ModelRequest) -> ModelResponse:
        tool = next((t for t in request.tools if t.external_name == result.tool_name), None)
        render = dict(tool.render) if tool else {}
        if request.output_format and "format" not in render:
            render["format"] = request.output_format
        if result.is_error:
            return ModelResponse(
                text=_SAYS[request.language]["tool_failed"].format(reason=result.content), render=render
            )
        data = result.structured
        if data is None:
            return ModelResponse(text=result.content, render=render)
        composed = compose_answer(data, render, result.content, request.language)
        # The tool's own text is English: it is the answer only for an English reader.
        readable_text = result.content and not _looks_like_json(result.content) and request.language == "en"
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
