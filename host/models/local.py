"""The deterministic local planner: no network, no LLM, and it says so.

It takes one step at a time like any model: for a new question it picks the offered tool that
best fits the message (`host.tool_ranking`), fills its arguments from the JSON Schema
(`host.arguments`), and asks for exactly the missing argument when a required one cannot be found.
Once a tool has answered, it composes the final answer from the result's `structuredContent`
(`host.answers`) in the tool's output format, else the agent's; a result whose tool declares a
follow-up (a web search's hits) is read further first, and the answer quotes what was read
(`host.follow_ups`). Everything it says is in the
user's language: a Vietnamese reader gets the tool's Vietnamese wording, never its English text.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from functools import partial
from typing import Any

import anyio

from host.answers import (
    Translation,
    cites_passages,
    closest_titles,
    compose_answer,
    passage_texts,
    passages_answer,
)
from host.arguments import LAST_TOOL_KEY, fill_arguments, identifier_names, named_in
from host.catalog import ToolSpec
from host.follow_ups import follow_up_calls, read_passages
from host.language import Language
from host.models.base import Message, ModelRequest, ModelResponse, TextDelta, ToolCall
from host.text import is_function_term, looks_vietnamese, only_identifiers, terms
from host.tool_ranking import ToolRanker

PLANNER_NAME = "local-planner"
RELEVANCE_BAR = 0.3
"""Below this similarity (all-MiniLM-L6-v2, question to quoted passage) no passage answers the
question. On acme's knowledge base, 11 questions it answers (English and Vietnamese) scored
0.44-0.78 against their best passage and 7 English questions it cannot answer 0.06-0.18. Vietnamese
questions it cannot answer scored 0.40-0.53 (the encoder finds Vietnamese texts alike): for them
the bar does not tell, and a passage must also share a word with the question."""
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
        "no_record": "I found no record matching {values}.",
        "rejected": "The approver rejected this request; nothing was done.",
        "denied": "Your organisation's policy does not allow this.",
        "unreachable": "That service is not available right now; please try again in a moment.",
        "not_found": "I found nothing that answers this. The closest documents: {titles}.",
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
        "no_record": "Tôi không tìm thấy dữ liệu nào khớp với {values}.",
        "rejected": "Người duyệt đã từ chối yêu cầu này; chưa có thao tác nào được thực hiện.",
        "denied": "Chính sách của tổ chức bạn không cho phép thao tác này.",
        "unreachable": "Dịch vụ này hiện không khả dụng; vui lòng thử lại sau ít phút.",
        "not_found": "Tôi không tìm thấy nội dung nào trả lời câu hỏi này. Các tài liệu gần nhất: {titles}.",
    },
}


def _current_turn(messages: Sequence[Message]) -> tuple[Message | None, list[Message]]:
    """The last user message and the tool results that followed it."""
    for index in range(len(messages) - 1, -1, -1):
        if messages[index].role == "user":
            return messages[index], [m for m in messages[index + 1 :] if m.role == "tool"]
    return None, []


_EXAMPLE = re.compile(r"\be\.g\.,?\s+([^\s,;)]+)")


def _gist(description: str) -> str:
    """A schema description's first clause ("Vietnamese tax code (MST) of the customer" of "...:
    10 digits, optionally ..."): the rest is format detail a person asked for it does not need."""
    gist = re.split(r"[:;]|\be\.g\.", description, maxsplit=1)[0]
    if gist.count("(") > gist.count(")"):  # cut inside a parenthesis: drop the parenthesis
        gist = gist[: gist.rindex("(")]
    return gist.strip().rstrip(".,")


def _example_in(description: str) -> str | None:
    """The first example a description gives ("e.g. 0312345678")."""
    match = _EXAMPLE.search(description)
    return match.group(1).strip("`'\"“”").rstrip(".") if match else None


def _said_earlier(schema: Mapping[str, Any], messages: Sequence[Message]) -> dict[str, Any]:
    """Identifiers (properties with a `pattern`) that the conversation's earlier user messages
    gave, the latest first: a stateless client (the OpenAI-compatible API) sends its history, not
    the session's memory, and "and his payment history?" still means the customer named before."""
    properties = schema.get("properties") or {}
    said: dict[str, Any] = {}
    earlier = [message for message in messages if message.role == "user"][:-1]
    for message in reversed(earlier):
        for name, value in fill_arguments(schema, message.content).arguments.items():
            if name not in said and isinstance(properties.get(name, {}).get("pattern"), str):
                said[name] = value
    return said


class LocalPlanner:
    """A `Model` that plans with embeddings, keywords and JSON Schemas."""

    name = PLANNER_NAME

    def __init__(self, ranker: ToolRanker | None = None) -> None:
        self.ranker = ranker or ToolRanker()

    async def stream(self, request: ModelRequest) -> AsyncIterator[TextDelta | ModelResponse]:
        user, results = _current_turn(request.messages)
        if user is not None and self._encodes(results, request):
            # Ranking tools and weighing passages encode text: a worker thread keeps the event loop
            # free for other turns.
            yield await anyio.to_thread.run_sync(self.respond, request)
        else:
            yield self.respond(request)

    @staticmethod
    def _encodes(results: Sequence[Message], request: ModelRequest) -> bool:
        """Whether this step runs the encoder: to rank tools, or to weigh quoted passages."""
        if not results:
            return len(request.tools) > 1
        if len(results) > 1:
            return True  # results read further: their passages are weighed
        data = results[-1].structured
        return data is not None and not results[-1].is_error and cites_passages(data, {})

    def respond(self, request: ModelRequest) -> ModelResponse:
        """The planner's step: a tool call, a question for a missing argument, or the answer."""
        user, results = _current_turn(request.messages)
        if user is None:
            return ModelResponse(text=_SAYS[request.language]["what"], ending="needs_input")
        if results:
            follow_ups = follow_up_calls(results[0], request.tools)
            if follow_ups:
                return self._read_further(user.content, results, follow_ups, request)
            return self._answer(user.content, results[-1], request)
        return self._plan(user.content, request)

    def _read_further(
        self, question: str, results: list[Message], follow_ups: list[ToolCall], request: ModelRequest
    ) -> ModelResponse:
        """A result whose rows are read further (a web search's hits): first the calls that read
        them, then the answer quoting the best passages of what they read, with its sources; the
        first result's own answer when nothing read answers the question."""
        first, read = results[0], results[1:]
        if not read:
            return ModelResponse(tool_calls=follow_ups)
        relevance = partial(self.ranker.relevance, embedding=request.message_embedding)
        rows = read_passages(question, read, relevance)
        if not rows or rows[0]["score"] < RELEVANCE_BAR:
            return self._answer(question, first, request)
        # The best page is quoted (its best passages); other pages are cited when they answer too.
        best = rows[0]["url"]
        rows = [row for row in rows if row["url"] == best or row["score"] >= RELEVANCE_BAR]
        composed = passages_answer(rows, request.language, cite_others=True)
        return ModelResponse(text=composed.text, data=first.structured, citations=composed.citations)

    def _plan(self, message: str, request: ModelRequest) -> ModelResponse:
        ranked = self.ranker.rank(message, request.tools, embedding=request.message_embedding)
        if not ranked:
            return ModelResponse(text=_SAYS[request.language]["no_tool"], ending="needs_input")
        last = request.memory.get(LAST_TOOL_KEY)
        if only_identifiers(message) and any(tool.external_name == last for _, tool in ranked):
            # "and 0312345678?" asks what the last answer said, of another record.
            ranked = sorted(ranked, key=lambda item: item[1].external_name != last)
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
            if filled.missing:
                memory = {**_said_earlier(tool.input_schema, request.messages), **request.memory}
                filled = fill_arguments(
                    tool.input_schema, message, memory=memory, attachments=request.attachments
                )
            if not filled.missing:
                call = ToolCall(id=uuid.uuid4().hex[:12], name=tool.external_name, arguments=filled.arguments)
                return ModelResponse(tool_calls=[call])
            if best_missing is None:
                best_missing = (tool, filled.missing)
        assert best_missing is not None
        lacking, missing = best_missing
        lacks_identifiers = set(missing) <= identifier_names(lacking.input_schema)
        named = _named_by(message, [tool for _, tool in ranked]) if lacks_identifiers else None
        if named is not None:
            # The best fit lacks an identifier, and the message names one another tool takes ("Đơn
            # hàng SH-9999 đang ở đâu?" reads like an order, and names a shipment): that one answers.
            return ModelResponse(tool_calls=[named])
        return ModelResponse(text=self._ask_for(*best_missing, request.language), ending="needs_input")

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
            description = str(prop.get("description") or "")
            gist = _gist(description)
            if gist and language == "en" and name not in words.labels:
                ask += f", {gist}"
            examples = prop.get("examples")
            if isinstance(prop.get("enum"), list):
                ask += says["one_of"].format(values=", ".join(str(value) for value in prop["enum"]))
            elif example := (
                examples[0] if isinstance(examples, list) and examples else _example_in(description)
            ):
                ask += says["example"].format(example=example)
            asks.append(ask)
        action = (
            (words.title or tool.name.replace("_", " ")) if language == "vi" else tool.name.replace("_", " ")
        )
        return says["ask"].format(tool=action, asks=says["and"].join(asks))

    def _answer(self, question: str, result: Message, request: ModelRequest) -> ModelResponse:
        tool = next((t for t in request.tools if t.external_name == result.tool_name), None)
        render = dict(tool.render) if tool else {}
        if request.output_format and "format" not in render:
            render["format"] = request.output_format
        if result.is_error:
            return _failure(result, request)
        data = result.structured
        if data is None:
            return ModelResponse(text=result.content, render=render)
        composed = compose_answer(data, render, result.content, request.language)
        # Every retrieved passage counts, not only those quoted: passages that tie in the ranking
        # may come back in either order, and the quoted one is not always the closest.
        if composed.citations and not self._answers(question, passage_texts(data, render), request):
            titles = ", ".join(f"“{title}”" for title in closest_titles(data, render))
            text = _SAYS[request.language]["not_found"].format(titles=titles)
            return ModelResponse(text=text, ending="not_found", render=render)
        # The tool's own text is English: it is the answer only for an English reader.
        readable_text = result.content and not _looks_like_json(result.content) and request.language == "en"
        text = (
            result.content
            if render.get("format", "summary_text") == "summary_text"
            and readable_text
            and not composed.citations
            else composed.text
        )
        return ModelResponse(
            text=text,
            data=data,
            render=render,
            citations=composed.citations,
            ending="not_found" if _found_nothing(data, render) else "answered",
        )

    def _answers(self, question: str, passages: Sequence[str], request: ModelRequest) -> bool:
        """Whether any retrieved passage is close enough to the question to answer it: similar
        enough, and saying something the question names."""
        scores = self.ranker.relevance(question, passages, embedding=request.message_embedding)
        return any(
            score >= RELEVANCE_BAR and _names_what_is_asked(question, passage, request.language)
            for score, passage in zip(scores, passages, strict=True)
        )


def _found_nothing(data: Mapping[str, Any], render: Mapping[str, Any]) -> bool:
    """Whether the result is an empty list its tool says means nothing was found (a search)."""
    rows = data.get(render.get("rows") or "")
    return render.get("empty") == "not_found" and isinstance(rows, list) and not rows


def _named_by(message: str, tools: Sequence[ToolSpec]) -> ToolCall | None:
    """A call of the first tool (best first) that the message alone fills, through an identifier
    its schema pins down by pattern; None when no tool is named so."""
    for tool in tools:
        arguments = named_in(tool.input_schema, message)
        if arguments is not None:
            return ToolCall(id=uuid.uuid4().hex[:12], name=tool.external_name, arguments=arguments)
    return None


def _names_what_is_asked(question: str, passage: str, language: Language) -> bool:
    """Whether the passage shares a content term with the question: a content word in English; a
    two-syllable word in Vietnamese, whose single syllables say little ("thời" of "thời tiết",
    weather, is also that of "thời hạn", a deadline). The encoder alone finds Vietnamese texts
    alike: "Thời tiết hôm nay thế nào?" scored 0.5 against the payment terms."""
    if looks_vietnamese(passage) != (language == "vi"):
        return True  # across languages words cannot be compared: the encoder's score decides
    asked = {term for term in terms(question) if not is_function_term(term)}
    if language == "vi":
        asked = {term for term in asked if " " in term}
    return not asked.isdisjoint(terms(passage))


def _looks_like_json(text: str) -> bool:
    stripped = text.strip()
    if not stripped.startswith(("{", "[")):
        return False
    try:
        json.loads(stripped)
    except ValueError:
        return False
    return True


# A failed call said plainly, by its code: what the reader can do differs (look again, ask an
# admin, try later), and so does the turn's outcome; never "answered".
_NO_RECORD = frozenset({"not_found", "document_not_found", "upload_not_found"})
_UNREACHABLE = frozenset(
    {"server_unavailable", "circuit_open", "timeout", "upstream_unavailable"}
    | {"engine_unavailable", "not_ready"}
)


def _failure(result: Message, request: ModelRequest) -> ModelResponse:
    says = _SAYS[request.language]
    code = result.error_code
    if code in _NO_RECORD:
        values = ", ".join(_looked_up(_arguments_of(result, request.messages))) or "?"
        return ModelResponse(text=says["no_record"].format(values=values), ending="not_found")
    if code == "rejected":
        return ModelResponse(text=says["rejected"], ending="denied")
    if code == "denied":
        return ModelResponse(text=says["denied"], ending="denied")
    if code in _UNREACHABLE:
        return ModelResponse(text=says["unreachable"], ending="unavailable")
    return ModelResponse(text=says["tool_failed"].format(reason=result.content), ending="unavailable")


def _looked_up(arguments: Mapping[str, Any]) -> list[str]:
    """What a call looked up, as the user wrote it: its plain values, and the text inside its lists
    and objects (an order's SKUs, not a Python rendering of its lines or their quantities)."""
    found: list[str] = []

    def visit(value: Any, nested: bool) -> None:
        if isinstance(value, Mapping):
            for item in value.values():
                visit(item, True)
        elif isinstance(value, list):
            for item in value:
                visit(item, True)
        elif isinstance(value, str) or not nested:
            text = str(value)
            if text not in found:
                found.append(text)

    for value in arguments.values():
        visit(value, False)
    return found


def _arguments_of(result: Message, messages: Sequence[Message]) -> dict[str, Any]:
    """The arguments of the call `result` answers."""
    for message in messages:
        for call in message.tool_calls:
            if call.id == result.tool_call_id:
                return dict(call.arguments)
    return {}
