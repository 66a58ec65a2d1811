"""Defence in depth: a server refuses a tool its mesh token does not grant, whatever the host did."""

from __future__ import annotations

from typing import Any

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp_types import CallToolResult, TextContent

from mcp_servers.common.tenant import current_claims


class ToolScopeMiddleware:
    """Answers `tools/call` for a tool outside the token's `scope` with an error result."""

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if ctx.method == "tools/call":
            claims = current_claims()
            name = (ctx.params or {}).get("name")
            if claims is not None and name not in claims.tools:
                message = f"tool '{name}' is not granted to tenant '{claims.tenant_id}' on this server"
                return CallToolResult(content=[TextContent(type="text", text=message)], is_error=True)
        return await call_next(ctx)
