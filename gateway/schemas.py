"""Request and response bodies of the chat API."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from host.usage import Usage

MAX_MESSAGE_CHARS = 8000
MAX_ATTACHMENT_BASE64_CHARS = 14_000_000  # about 10 MB of file


class AttachmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=255)
    media_type: str = Field(min_length=3, max_length=100)
    content_base64: str = Field(min_length=4, max_length=MAX_ATTACHMENT_BASE64_CHARS)


class ChatRequest(BaseModel):
    """A user message, optionally continuing a session and choosing the agent."""

    model_config = ConfigDict(extra="forbid")

    message: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS)
    session_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{1,64}$")
    agent: str | None = Field(default=None, max_length=40)
    stream: bool = False
    attachments: list[AttachmentIn] = Field(default_factory=list, max_length=4)


class Step(BaseModel):
    """One step of a turn, as the client sees it."""

    type: str
    agent: str | None = None
    server: str | None = None
    tool: str | None = None
    arguments: dict[str, Any] | None = None
    is_error: bool | None = None
    duration_ms: float | None = None
    detail: dict[str, Any] = Field(default_factory=dict)


class ChatResponse(BaseModel):
    session_id: str
    agent: str | None
    answer: str
    outcome: str
    data: dict[str, Any] | None = None
    render: dict[str, Any] | None = None
    citations: list[dict[str, Any]] = Field(default_factory=list)
    approval_id: str | None = Field(
        default=None, description="when the outcome is pending_approval: the approval to approve or reject"
    )
    steps: list[Step]
    usage: Usage
