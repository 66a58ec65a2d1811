"""How an MCP tool failure is reported, by every server of the platform and read by its clients.

A failed call is an `isError` result whose text is the error's message (readable, with no code
in it) and whose `_meta[ERROR_META_KEY]` is `{"code", "retryable", "details"?}`. The domain
servers build it with `error_result` (their shared boundary is `mcp_servers.common.server`), the
gateway's `/mcp` endpoint does too, and the host reads it back with `error_code`; nothing reads a
code out of message text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from mcp_types import CallToolResult, TextContent

from agentmesh.errors import ERROR_CODES, AgentmeshError, ErrorCode

ERROR_META_KEY = "io.agentmesh/error"
"""Result `_meta` key of a failed call: `{"code", "retryable", "details"?}`. Defined here only."""

RETRYABLE_HINT = " This is a temporary failure (retryable): trying again later may succeed."


def error_meta(error: AgentmeshError) -> dict[str, Any]:
    """The `_meta` of a failed call's result."""
    body: dict[str, Any] = {"code": error.code, "retryable": error.retryable}
    if error.details:
        body["details"] = error.details
    return {ERROR_META_KEY: body}


def error_result(error: AgentmeshError) -> CallToolResult:
    """The `isError` result reporting `error`: its message for people, its code for programs."""
    text = error.message + (RETRYABLE_HINT if error.retryable else "")
    return CallToolResult(
        content=[TextContent(type="text", text=text)], is_error=True, _meta=error_meta(error)
    )


def error_code(result: CallToolResult) -> ErrorCode | None:
    """The platform code of a failed call's result; None when it carries none of ours.

    A server registered by an admin may be anyone's: a code outside the closed set is not
    taken up, so no unknown code travels on inside the platform.
    """
    error = (result.meta or {}).get(ERROR_META_KEY)
    code = error.get("code") if isinstance(error, dict) else None
    return cast(ErrorCode, code) if code in ERROR_CODES else None


def reported_error(result: CallToolResult) -> AgentmeshError | None:
    """The error a failed call's result reports (its text, code, retryability and details).

    A result without a code of ours (a server registered by an admin may be anyone's) reports
    `tool_error`; a successful result reports none.
    """
    if not result.is_error:
        return None
    error = (result.meta or {}).get(ERROR_META_KEY)
    body = error if isinstance(error, dict) else {}
    details = body.get("details")
    text = "\n".join(block.text for block in result.content if isinstance(block, TextContent))
    return AgentmeshError(
        text,
        code=error_code(result) or "tool_error",
        details=details if isinstance(details, dict) else None,
        retryable=body.get("retryable") is True,
    )


def is_missing(code: ErrorCode) -> bool:
    """Whether a code says the thing asked for does not exist (`not_found`, `document_not_found`, ...)."""
    return code == "not_found" or code.endswith("_not_found")


@dataclass(frozen=True)
class ArgumentProblem:
    """One way the arguments break the tool's input schema, named by field path."""

    field: str
    problem: str

    def __str__(self) -> str:
        return f"{self.field}: {self.problem}"


class InvalidArguments(AgentmeshError):
    """The arguments do not satisfy the tool's input schema; every problem is listed."""

    code = "invalid_arguments"

    def __init__(self, tool: str, problems: list[ArgumentProblem]) -> None:
        self.tool = tool
        self.problems = problems
        lines = "\n".join(f"- {problem}" for problem in problems)
        noun = "problem" if len(problems) == 1 else "problems"
        super().__init__(
            f"Invalid arguments for {tool} ({len(problems)} {noun}):\n{lines}",
            details={"problems": [{"field": p.field, "problem": p.problem} for p in problems]},
        )
