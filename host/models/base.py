"""The one interface every model provider implements, and the messages it reads and writes."""

from __future__ import annotations

from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field

from host.catalog import ToolSpec
from host.usage import Usage


class ToolCall(BaseModel):
    """A model's request to call one tool, by its external name (`server__tool`)."""

    id: str
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)


class Attachment(BaseModel):
    """A file sent with a chat message (an image or document for OCR, say)."""

    name: str
    media_type: str
    content_base64: str


class Message(BaseModel):
    """One entry of the conversation a model reads."""

    role: Literal["user", "assistant", "tool"]
    content: str = ""
    tool_calls: list[ToolCall] = Field(default_factory=list)
    tool_call_id: str | None = None
    tool_name: str | None = None
    structured: dict[str, Any] | None = None
    is_error: bool = False


class ModelRequest(BaseModel):
    """Everything a model needs for one step of the loop."""

    system: str = ""
    messages: list[Message]
    tools: list[ToolSpec] = Field(default_factory=list)
    memory: dict[str, Any] = Field(default_factory=dict, description="entities remembered in the session")
    attachments: list[Attachment] = Field(default_factory=list)


class ModelResponse(BaseModel):
    """A model's step: tool calls to make, or a final text (or a question back to the user)."""

    text: str = ""
    tool_calls: list[ToolCall] = Field(default_factory=list)
    needs_input: bool = False
    data: dict[str, Any] | None = None
    render: dict[str, Any] | None = None
    citations: list[dict[str, Any]] = Field(default_factory=list)
    usage: Usage = Field(default_factory=Usage)


class Model(Protocol):
    """A model provider: given the conversation and the offered tools, take one step."""

    name: str

    async def respond(self, request: ModelRequest) -> ModelResponse: ...
