"""The typed events a turn yields, in order: route, tool calls and results, deltas, final or error.

The gateway streams them as SSE or folds them into the `steps` of a JSON reply.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from host.usage import Usage

Outcome = Literal[
    "answered",
    "clarify",
    "unavailable",
    "needs_input",
    "not_found",
    "pending_approval",
    "limit_reached",
    "denied",
    "error",
]


class RouteEvent(BaseModel):
    type: Literal["route"] = "route"
    agent: str | None
    confidence: float
    candidates: list[dict[str, Any]] = Field(default_factory=list)
    reason: str
    duration_ms: float = 0.0
    unclear_parts: list[str] = Field(
        default_factory=list, description="parts of a several-request message no agent clearly answers"
    )


class ToolCallEvent(BaseModel):
    type: Literal["tool_call"] = "tool_call"
    call_id: str
    server: str
    tool: str
    arguments: dict[str, Any]
    decision_rule: str


class ToolResultEvent(BaseModel):
    type: Literal["tool_result"] = "tool_result"
    call_id: str
    server: str
    tool: str
    is_error: bool
    text: str
    structured: dict[str, Any] | None = None
    duration_ms: float
    truncated: bool = False
    error_code: str | None = None


class DeltaEvent(BaseModel):
    type: Literal["delta"] = "delta"
    text: str


class FinalEvent(BaseModel):
    type: Literal["final"] = "final"
    agent: str | None
    answer: str
    outcome: Outcome
    data: dict[str, Any] | None = None
    render: dict[str, Any] | None = None
    citations: list[dict[str, Any]] = Field(default_factory=list)
    usage: Usage = Field(default_factory=Usage)
    memory: dict[str, Any] = Field(default_factory=dict)
    duration_ms: float = 0.0
    approval_id: str | None = Field(default=None, description="set when outcome is pending_approval")


class ErrorEvent(BaseModel):
    type: Literal["error"] = "error"
    code: str
    message: str


TurnEvent = Annotated[
    RouteEvent | ToolCallEvent | ToolResultEvent | DeltaEvent | FinalEvent | ErrorEvent,
    Field(discriminator="type"),
]
