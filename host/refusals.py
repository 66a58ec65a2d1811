"""Why a tool call was not made: one code and one wording for each reason, wherever it is refused.

A refusal becomes the call's observation (the model reads it and can tell the user) and its
`tool_result` event; the code is what programs branch on. The loop, a resumed turn and the
gateway's single calls (`/mcp`, knowledge uploads) all refuse through these functions.
"""

from __future__ import annotations

from agentmesh.errors import ErrorCode
from host.executor import ToolOutcome


def _refused(code: ErrorCode, text: str) -> ToolOutcome:
    return ToolOutcome(is_error=True, text=text, duration_ms=0.0, error_code=code)


def not_offered(tool: str) -> ToolOutcome:
    """The model asked for a tool its agent was not offered (or that is gone)."""
    return _refused("not_offered", f"tool '{tool}' is not available to this agent")


def tool_not_found(tool: str) -> ToolOutcome:
    """A single call named a tool the caller's tenant has no access to (or that does not exist)."""
    return _refused("tool_not_found", f"no tool '{tool}' is available")


def denied(reason: str) -> ToolOutcome:
    """The tenant's policy does not allow the call."""
    return _refused("denied", f"not allowed by policy: {reason}")


def rejected(approver: str) -> ToolOutcome:
    """A person rejected the call it was waiting for."""
    return _refused("rejected", f"rejected by {approver}: the call was not made")


def approval_required(tool: str) -> ToolOutcome:
    """A single call that needs a person's approval, which only a chat turn can ask for."""
    return _refused("approval_required", f"'{tool}' needs a person's approval; ask for it in a chat turn")
