"""Over stdio a server answers `initialize` while its start-up work (the lifespan) still runs; the
requests that need it wait for it, and a failed start is a clear error, not a dead process."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.mcpserver import MCPServer
from mcp.shared.exceptions import MCPError

from agentmesh.settings import Settings
from mcp_servers.common.bootstrap import ServeOptions, new_server


class StartUp:
    """A lifespan the test releases by hand, or that fails."""

    def __init__(self, failure: Exception | None = None) -> None:
        self.release = anyio.Event()
        self.entered = False
        self.closed = False
        self.failure = failure

    @contextlib.asynccontextmanager
    async def lifespan(self, server: MCPServer) -> AsyncIterator[dict[str, object]]:
        await self.release.wait()
        if self.failure is not None:
            raise self.failure
        self.entered = True
        try:
            yield {}
        finally:
            self.closed = True


def probe(settings: Settings, start: StartUp, *, listing_needs_startup: bool = False) -> MCPServer:
    server, _ = new_server(
        "probe",
        settings,
        ServeOptions(transport="stdio"),
        instructions="test server",
        lifespan=start.lifespan,
        listing_needs_startup=listing_needs_startup,
    )

    @server.tool()
    def ready() -> str:
        """Answer once start-up has finished."""
        return "started" if start.entered else "called too early"

    return server


async def test_initialize_and_listing_are_answered_while_start_up_runs(settings: Settings) -> None:
    start = StartUp()
    async with Client(probe(settings, start), mode="legacy") as client:
        tools = await client.list_tools()
        assert [tool.name for tool in tools.tools] == ["ready"]
        assert not start.release.is_set()
        answers: list[str] = []

        async def call() -> None:
            result = await client.call_tool("ready", {})
            answers.append(result.content[0].text)  # type: ignore[union-attr]

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(call)
            await anyio.sleep(0.2)
            assert answers == [], "the call waits for start-up"
            start.release.set()
    assert answers == ["started"]
    assert start.closed, "the lifespan is closed when the client goes"


async def test_a_listing_that_needs_start_up_waits_for_it(settings: Settings) -> None:
    start = StartUp()
    async with Client(probe(settings, start, listing_needs_startup=True), mode="legacy") as client:
        with anyio.move_on_after(0.3) as waited:
            await client.list_tools()
        assert waited.cancelled_caught, "tools/list waited"
        start.release.set()
        assert [tool.name for tool in (await client.list_tools()).tools] == ["ready"]


async def test_a_failed_start_up_is_said_to_every_request_that_needs_it(settings: Settings) -> None:
    start = StartUp(failure=RuntimeError("the knowledge base is locked by another process"))
    start.release.set()
    async with Client(probe(settings, start), mode="legacy") as client:
        result = await client.call_tool("ready", {})
        with pytest.raises(MCPError) as refused:
            await client.list_resources()
        assert (await client.list_tools()).tools, "what needs no start-up still answers"
    reason = "the knowledge base is locked by another process"
    expected = f"the probe server could not start: RuntimeError: {reason}"
    assert result.is_error
    assert result.content[0].text == expected  # type: ignore[union-attr]
    assert refused.value.message == expected


class HandshakeWatch:
    """Middleware noting when the client's `notifications/initialized` arrives."""

    def __init__(self) -> None:
        self.done = False

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if ctx.method == "notifications/initialized":
            self.done = True
        return await call_next(ctx)


async def test_start_up_begins_after_the_handshake_not_while_initialize_is_answered(
    settings: Settings,
) -> None:
    handshake = HandshakeWatch()
    began_after_handshake: list[bool] = []
    start = StartUp()
    start.release.set()

    @contextlib.asynccontextmanager
    async def lifespan(server: MCPServer) -> AsyncIterator[dict[str, object]]:
        began_after_handshake.append(handshake.done)
        async with start.lifespan(server) as state:
            yield state

    server, _ = new_server(
        "probe", settings, ServeOptions(transport="stdio"), instructions="test server", lifespan=lifespan
    )
    server.middleware.append(handshake)
    async with Client(server, mode="legacy") as client:
        await client.list_tools()
        with anyio.fail_after(5):
            while not start.entered:
                await anyio.sleep(0.01)
    assert began_after_handshake == [True]


async def test_a_client_leaving_during_start_up_lets_it_finish_then_closes_it(settings: Settings) -> None:
    start = StartUp()

    async def finish_start_up_later() -> None:
        await anyio.sleep(0.3)
        start.release.set()

    async with anyio.create_task_group() as tasks, Client(probe(settings, start), mode="legacy") as client:
        await client.list_tools()  # the handshake is over: start-up has begun, and waits
        tasks.start_soon(finish_start_up_later)
    # The client left mid-start-up. Cancelled halfway, a start-up leaves connections whose threads
    # call back into a closed event loop (a traceback on stderr): it is let finish first.
    assert start.entered and start.closed
