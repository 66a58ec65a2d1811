"""Bodies of the OpenAI-compatible API (`/v1/chat/completions`, `/v1/models`).

The request accepts what OpenAI clients send. Sampling parameters (temperature, top_p, max_tokens,
...) are accepted and ignored: agents pick their own models and settings. Features that would
change the meaning of the answer and that agents cannot honour (several choices, client-side
tools) are refused with a clear error rather than silently dropped.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from gateway.schemas import MAX_MESSAGE_CHARS

AUTO_MODEL = "auto"
MAX_MESSAGES = 200


class TextPart(BaseModel):
    model_config = ConfigDict(extra="ignore")

    type: Literal["text"]
    text: str


class ChatMessageIn(BaseModel):
    """One message of the conversation the client sends (the whole history, as OpenAI clients do)."""

    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[TextPart] | None = None
    name: str | None = None

    @property
    def text(self) -> str:
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "\n".join(part.text for part in self.content)


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="ignore")

    include_usage: bool = False


class ChatCompletionRequest(BaseModel):
    """`POST /v1/chat/completions`: `model` is an agent's name, or `auto` to let the router choose."""

    model_config = ConfigDict(extra="ignore")

    model: str = Field(min_length=1, max_length=64)
    messages: list[ChatMessageIn] = Field(min_length=1, max_length=MAX_MESSAGES)
    stream: bool = False
    stream_options: StreamOptions | None = None
    n: int = Field(default=1, ge=1, le=1, description="agents give one answer; only n=1 is served")
    user: str | None = Field(default=None, max_length=256)
    tools: list[dict[str, Any]] | None = Field(
        default=None, description="not supported: agents call their own MCP tools"
    )

    @field_validator("tools")
    @classmethod
    def _no_client_tools(cls, tools: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
        if tools:
            raise ValueError("client-side tools are not supported: each agent calls its own MCP tools")
        return tools

    @model_validator(mode="after")
    def _ends_with_a_user_message(self) -> ChatCompletionRequest:
        last = self.messages[-1]
        if last.role != "user" or not last.text.strip():
            raise ValueError("the last message must be a non-empty user message")
        if len(last.text) > MAX_MESSAGE_CHARS:
            raise ValueError(f"the last message is longer than {MAX_MESSAGE_CHARS} characters")
        return self

    @property
    def agent(self) -> str | None:
        return None if self.model == AUTO_MODEL else self.model


class CompletionMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class Choice(BaseModel):
    index: int = 0
    message: CompletionMessage
    finish_reason: Literal["stop", "length", "content_filter"]
    logprobs: None = None


class CompletionUsage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class AgentmeshDetails(BaseModel):
    """What an OpenAI client would not know to ask for: the agent, the outcome, data and citations."""

    agent: str | None
    outcome: str
    session_id: str | None = None
    data: dict[str, Any] | None = None
    render: dict[str, Any] | None = None
    citations: list[dict[str, Any]] = Field(default_factory=list)


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: CompletionUsage
    system_fingerprint: str | None = None
    agentmesh: AgentmeshDetails


class ChunkDelta(BaseModel):
    role: Literal["assistant"] | None = None
    content: str | None = None


class ChunkChoice(BaseModel):
    index: int = 0
    delta: ChunkDelta
    finish_reason: Literal["stop", "length", "content_filter"] | None = None
    logprobs: None = None


class ChatCompletionChunk(BaseModel):
    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChunkChoice]
    usage: CompletionUsage | None = None
    agentmesh: AgentmeshDetails | None = None


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str = "agentmesh"
    description: str = ""


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]
