"""Serving the demo ERP API: alone (`agentmesh demo-erp`) or inside another process on a loopback port."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import AsyncIterator, Iterator
from datetime import date

import anyio
import uvicorn
from starlette.types import ASGIApp

from agentmesh.listeners import announce
from agentmesh.settings import Settings
from mcp_servers.common.bootstrap import prepare_platform_database
from mcp_servers.erp.demo_api import create_demo_api


class _EmbeddedServer(uvicorn.Server):
    """A uvicorn server that leaves signal handling to the process it is embedded in."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@contextlib.asynccontextmanager
async def serve_on_loopback(app: ASGIApp, *, host: str = "127.0.0.1") -> AsyncIterator[str]:
    """Serve `app` on a free loopback port until the block ends; yields its base URL."""
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets whose protocol says TCP, and
    # without it every response stalls ~40 ms on Nagle's algorithm meeting delayed ACKs.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    port = sock.getsockname()[1]
    # uvicorn's records reach the process's one handler (`configure_logging`) at its level.
    config = uvicorn.Config(
        app, log_config=None, log_level=None, access_log=False, lifespan="on", timeout_graceful_shutdown=2
    )
    server = _EmbeddedServer(config)
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(server.serve, [sock])
            while not server.started:
                if server.should_exit:
                    raise RuntimeError("the embedded HTTP server failed to start")
                await anyio.sleep(0.02)
            try:
                yield f"http://{host}:{port}"
            finally:
                server.should_exit = True
    finally:
        sock.close()


@contextlib.asynccontextmanager
async def embedded_demo_api(settings: Settings, *, as_of: date | None = None) -> AsyncIterator[str]:
    """The demo ERP API running in this process; yields its base URL."""
    async with serve_on_loopback(create_demo_api(settings, as_of=as_of)) as url:
        yield url


def run_demo_api(settings: Settings, listener: socket.socket, *, as_of: date | None = None) -> None:
    """Serve the demo ERP API on `listener` in the foreground until interrupted."""
    prepare_platform_database(settings)
    config = uvicorn.Config(
        create_demo_api(settings, as_of=as_of),
        log_config=None,
        log_level=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=5,
    )
    announce(listener, "demo ERP API")
    uvicorn.Server(config).run(sockets=[listener])
