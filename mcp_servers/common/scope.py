"""Defence in depth: a server refuses a tool its mesh token does not grant, whatever the host did."""

from __future__ import annotations

from typing import Any

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext

from agentmesh.errors import AgentmeshError
from mcp_servers.common.errors import error_result
from mcp_servers.common.tenant import current_claims


class ToolNotGranted(AgentmeshError):
    code = "tool_not_granted"


class ToolScopeMiddleware:
    """Answers `tools/call` for a tool outside the token's `scope` with an error result."""

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if ctx.method == "tools/call":
            claims = current_claims()
            name = (ctx.params or {}).get("name")
            if claims is not None and name not in claims.tools:
                message = (
                    f"tool '{name}' is not granted by this request's token (tenant "
                    f"'{claims.tenant_id}'): a mesh token lists the tools it may call"
                )
                return error_result(ToolNotGranted(message))
        return await call_next(ctx)
