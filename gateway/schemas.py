"""Request and response bodies of the chat API."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from agentmesh.uploads import HANDLE_PATTERN, UPLOAD_SCHEME
from host.language import Language
from host.usage import Usage

MAX_MESSAGE_CHARS = 8000
MAX_ATTACHMENT_BASE64_CHARS = 14_000_000  # about 10 MB of file
UPLOAD_REFERENCE_PATTERN = "^" + UPLOAD_SCHEME + HANDLE_PATTERN.removeprefix("^")


class AttachmentIn(BaseModel):
    """A file for the turn: an earlier upload by its reference, or (small files) inline base64.

    Either way the turn's tools receive it by reference: an inline file is stored as an upload
    first. Files larger than a request body may carry go through `POST /api/{tenant_id}/uploads`.
    """

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=255)
    media_type: str | None = Field(
        default=None, min_length=3, max_length=100, description="required with content_base64"
    )
    content_base64: str | None = Field(default=None, min_length=4, max_length=MAX_ATTACHMENT_BASE64_CHARS)
    upload: str | None = Field(
        default=None, pattern=UPLOAD_REFERENCE_PATTERN, description="`upload://<handle>` of an earlier upload"
    )

    @model_validator(mode="after")
    def _one_source(self) -> AttachmentIn:
        if (self.content_base64 is None) == (self.upload is None):
            raise ValueError("an attachment has either content_base64 or upload, not both or neither")
        if self.content_base64 is not None and self.media_type is None:
            raise ValueError("an inline attachment needs its media_type")
        return self


class ChatRequest(BaseModel):
    """A user message, optionally continuing a session and choosing the agent."""

    model_config = ConfigDict(extra="forbid")

    message: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS)
    session_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{1,64}$")
    agent: str | None = Field(default=None, max_length=40)
    stream: bool = False
    attachments: list[AttachmentIn] = Field(default_factory=list, max_length=4)
    language: Language | None = Field(
        default=None,
        description="the reader's language (en, vi) for a message too short to tell, such as a bare tax "
        "code; the message's own language and the conversation's come first",
    )

    @field_validator("message")
    @classmethod
    def _not_blank(cls, message: str) -> str:
        # A blank message has nothing to route or answer: a 400 says so rather than a question back.
        if not message.strip():
            raise ValueError("message is blank")
        return message


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
