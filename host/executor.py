"""Running one tool call over the MCP pool with the caller's audience-bound token.

Each call is bounded in time and in result size (a cut result says so visibly), goes through its
server's circuit breaker, and is retried (unreachable server only, with backoff) when the tool is
marked read-only: a tool that may change data is never sent twice.
"""

from __future__ import annotations

import json
import time
from typing import Any

import anyio
import structlog
from mcp.shared.dispatcher import ProgressFnT
from mcp.shared.exceptions import MCPError
from mcp_types import CallToolResult, TextContent
from pydantic import BaseModel

from agentmesh.cloudevents import EventPublisher
from agentmesh.errors import ErrorCode
from host.caller import Caller
from host.catalog import ToolSpec
from host.circuit import CircuitBreaker, CircuitBreakers
from host.mcp_pool import McpPool
from host.server_connection import ServerUnavailable
from host.tokens import MeshTokenIssuer
from mcp_servers.common.errors import reported_error

log = structlog.get_logger(__name__)

UNAVAILABLE_CODES: frozenset[ErrorCode] = frozenset({"server_unavailable", "circuit_open"})
"""Error codes meaning the server, not the call, is the problem."""


class ToolOutcome(BaseModel):
    """What a tool call produced, as the loop and the model see it."""

    is_error: bool
    text: str
    structured: dict[str, Any] | None = None
    duration_ms: float
    truncated: bool = False
    error_code: ErrorCode | None = None
    error_retryable: bool = False
    error_details: dict[str, Any] | None = None
    attempts: int = 1

    @property
    def server_unavailable(self) -> bool:
        return self.error_code in UNAVAILABLE_CODES


def _text_of(result: CallToolResult) -> str:
    return "\n".join(block.text for block in result.content if isinstance(block, TextContent))


def cap_result(
    text: str, structured: dict[str, Any] | None, limit: int
) -> tuple[str, dict[str, Any] | None, bool]:
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

    def __init__(
        self,
        pool: McpPool,
        issuer: MeshTokenIssuer,
        *,
        breakers: CircuitBreakers | None = None,
        max_result_chars: int = 20_000,
        read_only_retries: int = 2,
        retry_backoff_seconds: float = 0.2,
        events: EventPublisher | None = None,
    ) -> None:
        self._pool = pool
        self._issuer = issuer
        self.breakers = breakers or CircuitBreakers()
        self._events = events
        self._max_result_chars = max_result_chars
        self._retries = read_only_retries
        self._backoff = retry_backoff_seconds

    async def call(
        self,
        caller: Caller,
        tool: ToolSpec,
        arguments: dict[str, Any],
        *,
        granted: frozenset[str],
        timeout: float,
        progress: ProgressFnT | None = None,
    ) -> ToolOutcome:
        """Call `tool` with `arguments`; `granted` are the tool names the token lets the caller use there.

        `progress` receives the server's progress notifications for the call (the gateway relays
        them to an MCP client that asked for them)."""
        started = time.perf_counter()
        attempts = 1 + (self._retries if tool.read_only else 0)
        outcome: ToolOutcome | None = None
        for attempt in range(attempts):
            if attempt:
                await anyio.sleep(self._backoff * 2 ** (attempt - 1))
            outcome = await self._attempt(
                caller, tool, arguments, granted=granted, timeout=timeout, progress=progress
            )
            outcome.attempts = attempt + 1
            if outcome.error_code != "server_unavailable":
                break
        assert outcome is not None
        outcome.duration_ms = (time.perf_counter() - started) * 1000
        return outcome

    async def _attempt(
        self,
        caller: Caller,
        tool: ToolSpec,
        arguments: dict[str, Any],
        *,
        granted: frozenset[str],
        timeout: float,
        progress: ProgressFnT | None = None,
    ) -> ToolOutcome:
        breaker = self.breakers.for_server(tool.server)
        if not breaker.allow():
            return self._failure(
                "circuit_open",
                f"the '{tool.server}' service failed repeatedly; calls to it are paused for "
                f"{breaker.retry_in_seconds:.0f} s more",
            )
        if not tool.forwards_user_token:
            token = self._issuer.for_call(tool.server, caller, granted)
        elif caller.user_token:
            token = self._issuer.forwarding(tool.server, caller, granted, caller.user_token)
        else:
            return self._failure(
                "user_token_unavailable",
                f"{tool.qualified_name} acts with your own sign-in, which this call does not carry "
                "(a turn resumed after an approval keeps none); ask again",
            )
        try:
            result = await self._pool.connection(tool.server).call_tool(
                tool.name,
                arguments,
                token=token,
                timeout=timeout,
                progress=progress,
                input_schema=tool.input_schema,
                output_schema=tool.output_schema,
            )
        except TimeoutError:
            await self._failed(breaker, caller, "timeout")
            return self._failure("timeout", f"{tool.qualified_name} did not answer within {timeout:g} s")
        except ServerUnavailable as exc:
            await self._failed(breaker, caller, ServerUnavailable.code)
            return self._failure(ServerUnavailable.code, str(exc))
        except MCPError as exc:
            breaker.record_success()  # the server answered, with a protocol error
            return self._failure("mcp_error", f"{tool.qualified_name} failed: {exc.error.message}")
        except BaseException:
            breaker.release()
            raise
        breaker.record_success()
        text, structured, truncated = cap_result(
            _text_of(result), result.structured_content, self._max_result_chars
        )
        error = reported_error(result)
        return ToolOutcome(
            is_error=error is not None,
            text=text,
            structured=None if error is not None else structured,
            duration_ms=0.0,
            truncated=truncated,
            error_code=error.code if error is not None else None,
            error_retryable=error is not None and error.retryable,
            error_details=error.details or None if error is not None else None,
        )

    async def _failed(self, breaker: CircuitBreaker, caller: Caller, reason: ErrorCode) -> None:
        """Count the server's failure; when it opens the circuit, tell the tenant whose call did
        (the others learn it from their own calls failing fast, with the same message)."""
        if not breaker.record_failure() or self._events is None:
            return
        await self._events.publish(
            caller.tenant_id,
            "circuit.opened",
            {
                "server": breaker.server,
                "reason": reason,
                "retry_in_seconds": round(breaker.retry_in_seconds, 1),
            },
            subject=breaker.server,
        )

    @staticmethod
    def _failure(code: ErrorCode, message: str) -> ToolOutcome:
        log.info("tool_call_failed", code=code, message=message)
        return ToolOutcome(is_error=True, text=message, duration_ms=0.0, error_code=code)
