"""Creating and running a domain server the same way for all four domains.

Over HTTP (Streamable HTTP at `/mcp`, health at `/healthz`) every request must carry a mesh
token for this server; over stdio the server is a local process for one tenant, and its start-up
work (the domain's lifespan) runs in the background so `initialize` is answered at once.

A server that keeps state in the platform database (`new_server(platform_database=True)`) never
creates tables: before it serves, the schema is brought to the migrations' head when the
database is the embedded SQLite default, and otherwise checked; a database that is behind stops
the process with one log line naming `agentmesh db upgrade` (see `agentmesh.db.require_schema`).
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Literal

import anyio
import structlog
from mcp.server.mcpserver import MCPServer
from starlette.requests import Request
from starlette.responses import JSONResponse

from agentmesh.db import DatabaseNotAtHead, create_engine, require_schema
from agentmesh.listeners import announce, listen_on
from agentmesh.logging import configure_logging
from agentmesh.settings import Settings
from agentmesh.telemetry import configure_tracing
from mcp_servers.common.background import BackgroundStart
from mcp_servers.common.scope import ToolScopeMiddleware
from mcp_servers.common.server import DomainServer
from mcp_servers.common.tenant import TenantResolver

log = structlog.get_logger(__name__)

Transport = Literal["stdio", "http"]
Lifespan = Callable[[MCPServer], AbstractAsyncContextManager[Any]]

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
    server_class: type[DomainServer] = DomainServer,
    platform_database: bool = False,
    listing_needs_startup: bool = False,
    lifespan: Lifespan | None = None,
    **kwargs: Any,
) -> tuple[DomainServer, TenantResolver]:
    """An MCP server wired for the chosen transport, and the resolver its tools ask for the tenant.

    Every server is a `DomainServer`, which reports any failure of a tool call the platform's one
    way. `server_class` lets a domain serve tools that are not Python functions (the ERP server's
    configured HTTP tools) by subclassing it; everything else is wired the same.
    `platform_database`: the server's state lives in the platform database, so its lifespan
    starts by making sure the schema is current (wherever the server runs, tests included).
    Over stdio the lifespan runs in the background; `listing_needs_startup` says `tools/list`
    must wait for it too (the ERP server lists tools it loads from its database).
    """
    middleware: list[Any] = [ToolScopeMiddleware()]
    auth: dict[str, Any] = {}
    if options.transport == "http":
        # Imported for HTTP only: over stdio there is no token, and every import delays `initialize`.
        from mcp_servers.common.auth import server_auth

        auth = server_auth(settings, name)
    if platform_database:
        lifespan = _schema_first(settings, lifespan)
    if options.transport == "stdio" and lifespan is not None:
        start = BackgroundStart(name, lifespan, listing_needs_startup=listing_needs_startup)
        lifespan = start.lifespan
        middleware.insert(0, start)
    server = server_class(
        name,
        instructions=instructions,
        version="0.1.0",
        middleware=middleware,
        lifespan=lifespan,
        **auth,
        **kwargs,
    )
    server.uses_platform_database = platform_database

    @server.custom_route("/healthz", methods=["GET"])
    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "server": name})

    local_tenant = options.local_tenant if options.transport == "stdio" else None
    return server, TenantResolver(local_tenant=local_tenant)


def _schema_first(settings: Settings, lifespan: Lifespan | None) -> Lifespan:
    @contextlib.asynccontextmanager
    async def schema_then_lifespan(server: MCPServer) -> AsyncIterator[Any]:
        await require_platform_schema(settings)
        if lifespan is None:
            yield {}
            return
        async with lifespan(server) as state:
            yield state

    return schema_then_lifespan


async def require_platform_schema(settings: Settings) -> None:
    """Migrate the embedded database, or check a configured one is at head (`require_schema`)."""
    engine = create_engine(settings.resolved_database_url)
    try:
        await require_schema(engine, migrate=settings.embedded_database)
    finally:
        await engine.dispose()


def prepare_platform_database(settings: Settings) -> None:
    """Before a process serves from the platform database: `require_platform_schema`, with a
    database that is not at head reported in one log line, and the process ended with status 1.

    The server's lifespan checks again (cheaply); doing it here first keeps a refusal from
    surfacing as a failed startup's traceback.
    """
    try:
        anyio.run(require_platform_schema, settings)
    except DatabaseNotAtHead as exc:
        log.error("database_not_at_head", code=exc.code, message=str(exc))
        raise SystemExit(1) from None


def run(
    server: DomainServer, settings: Settings, options: ServeOptions, listener: socket.socket | None = None
) -> None:
    """Serve until interrupted (SIGINT/SIGTERM end the process cleanly); over HTTP, on `listener`."""
    configure_logging(settings, stream="stderr")
    # The SDK's server middleware then joins each request to the caller's trace (from `_meta`).
    configure_tracing(settings, f"agentmesh-mcp-{server.name}")
    if options.transport == "stdio":
        # The schema check runs in the background start-up; a refusal reaches the client then.
        anyio.run(server.run_stdio_async)
        return
    if server.uses_platform_database:
        prepare_platform_database(settings)
    import uvicorn

    # Documents and images travel base64-encoded inside tool arguments; the SDK's 4 MiB default
    # would refuse a legitimate scan before the domain's own, clearer size check runs.
    app = server.streamable_http_app(
        streamable_http_path="/mcp", host=options.host, max_request_body_size=MAX_REQUEST_BODY_BYTES
    )
    config = uvicorn.Config(
        app,
        # uvicorn's records reach the process's one handler (`configure_logging`) at its level.
        log_config=None,
        log_level=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=5,
    )
    listener = listener or listen_on(options.host, options.port)
    announce(listener, f"MCP server {server.name}", "/mcp")
    uvicorn.Server(config).run(sockets=[listener])
