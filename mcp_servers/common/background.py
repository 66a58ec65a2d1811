"""A server's start-up work (stores, models, demo data) run while it already answers, over stdio.

A desktop assistant launches a stdio server and waits for its `initialize` answer (the MCP
Inspector gives up after 15 s). Opening the knowledge base, loading MiniLM and seeding the demo
documents used to come first and made that wait 10-30 s. Here the domain's lifespan runs in a
background task instead: `initialize`, `ping` and the listings that need nothing loaded are
answered at once, and every other request waits until start-up has finished, or gets a clear
error naming what failed.

Start-up begins once the handshake is over (the client's `notifications/initialized`), or at the
first other message of a client that skips it: loading a model in a thread while `initialize` is
being answered slowed that answer from about 1.5 s to 3 s (the thread holds the GIL).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import anyio
import structlog
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.mcpserver import MCPServer
from mcp.shared.exceptions import MCPError
from mcp_types import INTERNAL_ERROR, CallToolResult, TextContent

log = structlog.get_logger(__name__)

Lifespan = Callable[[MCPServer], AbstractAsyncContextManager[Any]]

HANDSHAKE = frozenset({"initialize", "server/discover", "ping"})
ANSWERED_AT_ONCE = HANDSHAKE | {"logging/setLevel"}
# Listings of what is declared in code; a domain whose listing needs its stores says so.
LISTINGS = frozenset({"tools/list", "prompts/list", "resources/templates/list"})
# How long a server that is asked to stop during start-up lets that start-up finish.
STOP_GRACE_SECONDS = 30.0


class BackgroundStart:
    """Runs a domain lifespan in the background and holds requests until it has entered."""

    def __init__(self, server_name: str, lifespan: Lifespan, *, listing_needs_startup: bool) -> None:
        self._server_name = server_name
        self._lifespan = lifespan
        self._at_once = ANSWERED_AT_ONCE if listing_needs_startup else ANSWERED_AT_ONCE | LISTINGS
        self._begin: anyio.Event | None = None
        self._ready: anyio.Event | None = None
        self._failure: str | None = None

    @contextlib.asynccontextmanager
    async def lifespan(self, server: MCPServer) -> AsyncIterator[dict[str, Any]]:
        """The lifespan the `MCPServer` runs: starts the domain's, returns at once."""
        begin = self._begin = anyio.Event()
        ready = self._ready = anyio.Event()
        stop = anyio.Event()
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(self._run_domain_lifespan, server, stop)
            try:
                yield {}
            finally:
                # The domain's lifespan closes what it opened in its own task. A start-up under way
                # (the client left during it) is let finish first: cancelled halfway, it would
                # leave connections whose threads call back into a closed event loop.
                stop.set()
                if begin.is_set():
                    with anyio.move_on_after(STOP_GRACE_SECONDS):
                        await ready.wait()
                if not ready.is_set():
                    tasks.cancel_scope.cancel()

    async def _run_domain_lifespan(self, server: MCPServer, stop: anyio.Event) -> None:
        assert self._begin is not None and self._ready is not None
        await self._begin.wait()
        try:
            async with self._lifespan(server):
                self._ready.set()
                log.info("server_started", server=self._server_name)
                await stop.wait()
        except Exception as exc:
            # The process keeps answering, so the client sees this reason instead of a dead pipe.
            self._failure = f"the {self._server_name} server could not start: {type(exc).__name__}: {exc}"
            log.error("server_start_failed", server=self._server_name, error=self._failure)
        finally:
            self._ready.set()

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        """Middleware: begin start-up after the handshake; hold a request that needs it until done."""
        if self._begin is None or self._ready is None:
            return await call_next(ctx)
        if ctx.method not in HANDSHAKE:
            self._begin.set()
        if ctx.method in self._at_once or ctx.method.startswith("notifications/"):
            return await call_next(ctx)
        await self._ready.wait()
        if self._failure is None:
            return await call_next(ctx)
        if ctx.method == "tools/call":
            return CallToolResult(content=[TextContent(type="text", text=self._failure)], is_error=True)
        raise MCPError(INTERNAL_ERROR, self._failure)
