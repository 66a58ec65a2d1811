"""The one interface every model provider implements, and the messages it reads and writes.

A model takes one step of the loop at a time: `stream(request)` yields `TextDelta`s as text is
produced (remote LLMs stream; the local planner does not) and ends with exactly one
`ModelResponse` holding the step's full text, its tool calls and its usage.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from agentmesh.errors import AgentmeshError, ErrorCode
from agentmesh.outbound import BlockedDestination, InvalidUrl, UnresolvableHost
from host.catalog import ToolSpec
from host.language import DEFAULT_LANGUAGE, Language
from host.routing import MessageEmbedding
from host.usage import Usage

ATTACHMENT_SCHEME = "attachment://"
"""A tool argument `attachment://<name>` stands for that attachment's upload reference."""


class ToolCall(BaseModel):
    """A model's request to call one tool, by its external name (`server__tool`)."""

    id: str
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    provider_data: dict[str, Any] = Field(
        default_factory=dict, description="opaque values the provider needs echoed back (Gemini signatures)"
    )


class Attachment(BaseModel):
    """A file sent with a chat message (an image or document for OCR, say), by reference.

    The gateway keeps the bytes; a tool receives `reference` (`upload://<handle>`, see
    `agentmesh.uploads`) and its server reads them from the gateway, so neither the model's
    context nor the tool arguments (and their policy cap) ever carry the file itself.
    """

    name: str
    media_type: str
    reference: str = Field(description="upload://<handle>")
    size_bytes: int | None = None


class Message(BaseModel):
    """One entry of the conversation a model reads."""

    role: Literal["user", "assistant", "tool"]
    content: str = ""
    tool_calls: list[ToolCall] = Field(default_factory=list)
    tool_call_id: str | None = None
    tool_name: str | None = None
    structured: dict[str, Any] | None = None
    is_error: bool = False
    error_code: str | None = Field(default=None, description="a failed tool result's platform code")


class ModelRequest(BaseModel):
    """Everything a model needs for one step of the loop."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    system: str = ""
    messages: list[Message]
    tools: list[ToolSpec] = Field(default_factory=list)
    memory: dict[str, Any] = Field(default_factory=dict, description="entities remembered in the session")
    attachments: list[Attachment] = Field(default_factory=list)
    output_format: str | None = Field(default=None, description="the agent's preferred answer format")
    language: Language = Field(default=DEFAULT_LANGUAGE, description="the language the user reads")
    message_embedding: MessageEmbedding | None = Field(
        default=None, exclude=True, repr=False, description="the routed message's embedding, when known"
    )


class ModelResponse(BaseModel):
    """A model's step: tool calls to make, or a final text (or a question back to the user)."""

    text: str = ""
    tool_calls: list[ToolCall] = Field(default_factory=list)
    ending: Literal["answered", "needs_input", "not_found", "denied", "unavailable"] = Field(
        default="answered",
        description="what a final text is: an answer, a question back, word that the tools found "
        "nothing answering the question, that the call was refused, or that the tool could not answer",
    )
    data: dict[str, Any] | None = None
    render: dict[str, Any] | None = None
    citations: list[dict[str, Any]] = Field(default_factory=list)
    usage: Usage = Field(default_factory=Usage)
    stop_reason: str | None = None


class TextDelta(BaseModel):
    """A piece of the text a model is producing."""

    text: str


class ModelError(AgentmeshError):
    """A provider failed to answer: `code` is stable, `message` is readable and safe to show.

    `provider_status` is the HTTP status the provider answered with, when it answered at all.
    """

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        *,
        provider_status: int | None = None,
        retryable: bool = False,
        retry_after: float | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message, code=code, retryable=retryable, details=details)
        self.provider_status = provider_status
        self.retry_after = retry_after


OUTBOUND_REFUSALS: tuple[type[AgentmeshError], ...] = (BlockedDestination, UnresolvableHost, InvalidUrl)
"""The outbound guard's refusals: raised by the HTTP client under a provider SDK, as they are or
wrapped in the SDK's own connection error."""


def refused_destination(provider: str, exc: BaseException) -> ModelError | None:
    """The outbound guard's refusal behind a provider's failure, if that is what it was.

    The reason (which address, why) is what the admin who configured the base URL needs to
    read, and trying again cannot help.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, OUTBOUND_REFUSALS):
            return ModelError(current.code, f"{provider} was not called: {current.message}")
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


class Model(Protocol):
    """A model provider: given the conversation and the offered tools, take one step."""

    name: str

    def stream(self, request: ModelRequest) -> AsyncIterator[TextDelta | ModelResponse]:
        """Yield text deltas, then exactly one `ModelResponse`."""
        ...


def context_note(request: ModelRequest) -> str:
    """What a remote model is told besides the agent's prompt: remembered entities and attachments."""
    parts = []
    if request.memory:
        facts = ", ".join(
            f"{key}={value}" for key, value in request.memory.items() if not key.startswith("_")
        )
        if facts:
            parts.append(f"Known from earlier in this conversation: {facts}.")
    if request.attachments:
        files = ", ".join(f"'{a.name}' ({a.media_type})" for a in request.attachments)
        parts.append(
            f"The user attached {files}. To pass an attachment to a tool, use the value "
            f"'{ATTACHMENT_SCHEME}<name>' for its content argument."
        )
    if request.output_format == "markdown_table":
        parts.append("Present lists of records as a Markdown table.")
    return "\n".join(parts)


def system_text(request: ModelRequest) -> str:
    """The agent's system prompt followed by the context note."""
    return "\n\n".join(part for part in (request.system, context_note(request)) if part)
