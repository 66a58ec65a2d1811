"""Running one tool call over the MCP pool with the caller's audience-bound token."""

from __future__ import annotations

import json
import time
from typing import Any

import anyio
import structlog
from mcp.shared.exceptions import MCPError
from mcp_types import CallToolResult, TextContent
from pydantic import BaseModel

from host.caller import Caller
from host.catalog import ToolSpec
from host.mcp_pool import McpPool, ServerUnavailable
from host.tokens import MeshTokenIssuer

log = structlog.get_logger(__name__)


class ToolOutcome(BaseModel):
    """What a tool call produced, as the loop and the model see it."""

    is_error: bool
    text: str
    structured: dict[str, Any] | None = None
    duration_ms: float
    truncated: bool = False
    error_code: str | None = None


def _text_of(result: CallToolResult) -> str:
    return "\n".join(block.text for block in result.content if isinstance(block, TextContent))


def _cap(text: str, structured: dict[str, Any] | None, limit: int) -> tuple[str, dict[str, Any] | None, bool]:
    """Keep results within `limit` characters; say visibly what was cut."""
    truncated = False
    if len(text) > limit:
        text = f"{text[:limit]}\n[truncated: {limit} of {len(text)} characters shown]"
        truncated = True
    if structured is not None and len(json.dumps(structured, default=str)) > limit:
        structured = None
        truncated = True
        text += "\n[structured result omitted: larger than the result size cap]"
    return text, structured, truncated


class ToolExecutor:
    """Calls tools for a caller: mints the token, bounds time and size, never raises for tool errors."""

    def __init__(self, pool: McpPool, issuer: MeshTokenIssuer, *, max_result_chars: int = 20_000) -> None:
        self._pool = pool
        self._issuer = issuer
        self._max_result_chars = max_result_chars

    async def call(
        self,
        caller: Caller,
        tool: ToolSpec,
        arguments: dict[str, Any],
        *,
        granted: frozenset[str],
        timeout: float,
    ) -> ToolOutcome:
        """Call `tool` with `arguments`; `granted` are the tool names the token lets the caller use there."""
        token = self._issuer.for_call(tool.server, caller, granted)
        started = time.perf_counter()
        try:
            result = await self._pool.connection(tool.server).call_tool(
                tool.name, arguments, token=token, timeout=timeout
            )
        except TimeoutError:
            return self._failure(
                started, "timeout", f"{tool.qualified_name} did not answer within {timeout:g} s"
            )
        except ServerUnavailable as exc:
            return self._failure(started, ServerUnavailable.code, str(exc))
        except MCPError as exc:
            return self._failure(started, "mcp_error", f"{tool.qualified_name} failed: {exc.error.message}")
        except anyio.get_cancelled_exc_class():
            raise
        text, structured, truncated = _cap(
            _text_of(result), result.structured_content, self._max_result_chars
        )
        return ToolOutcome(
            is_error=bool(result.is_error),
            text=text,
            structured=None if result.is_error else structured,
            duration_ms=(time.perf_counter() - started) * 1000,
            truncated=truncated,
            error_code="tool_error" if result.is_error else None,
        )

    @staticmethod
    def _failure(started: float, code: str, message: str) -> ToolOutcome:
        log.info("tool_call_failed", code=code, message=message)
        return ToolOutcome(
            is_error=True, text=message, duration_ms=(time.perf_counter() - started) * 1000, error_code=code
        )
