"""Defence in depth: a server refuses a tool its mesh token does not grant, whatever the host did,
and lists only the tools a token grants. A token that grants none lists every tool and calls
none: the host's listing token (the host filters per tenant), or a developer's first look."""

from __future__ import annotations

from typing import Any

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext

from agentmesh.errors import AgentmeshError
from mcp_servers.common.errors import error_result
from mcp_servers.common.tenant import current_claims


class ToolNotGranted(AgentmeshError):
    code = "tool_not_granted"


class ToolScopeMiddleware:
    """Answers `tools/call` for a tool outside the token's grant with an error result, and drops
    such tools from `tools/list` (unless the token grants none)."""

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        claims = current_claims()
        if claims is None:  # stdio: the local user runs the server and may use all of it
            return await call_next(ctx)
        if ctx.method == "tools/call":
            name = (ctx.params or {}).get("name")
            if name not in claims.tools:
                message = (
                    f"tool '{name}' is not granted by this request's token (tenant "
                    f"'{claims.tenant_id}'): a mesh token lists the tools it may call"
                )
                return error_result(ToolNotGranted(message))
        result = await call_next(ctx)
        if ctx.method == "tools/list" and claims.tools and isinstance(result, dict):
            # The runner hands back the result already serialised.
            return {
                **result,
                "tools": [tool for tool in result.get("tools", []) if tool.get("name") in claims.tools],
            }
        return result
