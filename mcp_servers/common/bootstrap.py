"""Creating and running a domain server the same way for all four domains.

Over HTTP (Streamable HTTP at `/mcp`, health at `/healthz`) every request must carry a mesh
token for this server; over stdio the server is a local process for one tenant, and its start-up
work (the domain's lifespan) runs in the background so `initialize` is answered at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import anyio
from mcp.server.mcpserver import MCPServer
from starlette.requests import Request
from starlette.responses import JSONResponse

from agentmesh.logging import configure_logging
from agentmesh.settings import Settings
from agentmesh.telemetry import configure_tracing
from mcp_servers.common.background import BackgroundStart
from mcp_servers.common.scope import ToolScopeMiddleware
from mcp_servers.common.tenant import TenantResolver

Transport = Literal["stdio", "http"]

DEFAULT_LOCAL_TENANT = "acme"
MAX_REQUEST_BODY_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True)
class ServeOptions:
    """How one server process runs, from `agentmesh serve DOMAIN ...`."""

    transport: Transport = "http"
    host: str = "127.0.0.1"
    port: int = 0
    local_tenant: str = DEFAULT_LOCAL_TENANT


def new_server(
    name: str,
    settings: Settings,
    options: ServeOptions,
    *,
    instructions: str,
    server_class: type[MCPServer] = MCPServer,
    listing_needs_startup: bool = False,
    **kwargs: Any,
) -> tuple[MCPServer, TenantResolver]:
    """An `MCPServer` wired for the chosen transport, and the resolver its tools ask for the tenant.

    `server_class` lets a domain serve tools that are not Python functions (the ERP server's
    configured HTTP tools) by subclassing `MCPServer`; everything else is wired the same.
    Over stdio a `lifespan` in `kwargs` runs in the background; `listing_needs_startup` says
    `tools/list` must wait for it too (the ERP server lists tools it loads from its database).
    """
    middleware: list[Any] = [ToolScopeMiddleware()]
    auth: dict[str, Any] = {}
    if options.transport == "http":
        # Imported for HTTP only: over stdio there is no token, and every import delays `initialize`.
        from mcp_servers.common.auth import server_auth

        auth = server_auth(settings, name)
    if options.transport == "stdio" and kwargs.get("lifespan") is not None:
        start = BackgroundStart(name, kwargs["lifespan"], listing_needs_startup=listing_needs_startup)
        kwargs["lifespan"] = start.lifespan
        middleware.insert(0, start)
    server: MCPServer = server_class(
        name,
        instructions=instructions,
        version="0.1.0",
        middleware=middleware,
        **auth,
        **kwargs,
    )

    @server.custom_route("/healthz", methods=["GET"])
    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "server": name})

    local_tenant = options.local_tenant if options.transport == "stdio" else None
    return server, TenantResolver(local_tenant=local_tenant)


def run(server: MCPServer, settings: Settings, options: ServeOptions) -> None:
    """Serve until interrupted (SIGINT/SIGTERM end the process cleanly)."""
    configure_logging(settings, stream="stderr")
    # The SDK's server middleware then joins each request to the caller's trace (from `_meta`).
    configure_tracing(settings, f"agentmesh-mcp-{server.name}")
    if options.transport == "stdio":
        anyio.run(server.run_stdio_async)
        return
    import uvicorn

    # Documents and images travel base64-encoded inside tool arguments; the SDK's 4 MiB default
    # would refuse a legitimate scan before the domain's own, clearer size check runs.
    app = server.streamable_http_app(
        streamable_http_path="/mcp", host=options.host, max_request_body_size=MAX_REQUEST_BODY_BYTES
    )
    config = uvicorn.Config(
        app,
        host=options.host,
        port=options.port,
        log_level="warning",
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=5,
    )
    uvicorn.Server(config).run()
