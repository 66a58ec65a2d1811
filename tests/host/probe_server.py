"""A small real MCP server for the host's tests, served in-process or as its own process.

Its tools cover what the host must handle: a pattern-keyed read-only lookup (optionally slow, to
be killed mid-call), a tool recording how many calls run at once, a data-changing tool, a tool
that forwards the user's own token, a tool with an oversized result, and a description that can
change at run time (tool pinning) with a `tools/list_changed` announcement.

Run alone: `python -m tests.host.probe_server --port P` (data dir from AGENTMESH_DATA_DIR;
PROBE_DELAY_SECONDS slows the lookup; PROBE_DESCRIPTION replaces its description; PROBE_NAME
names the server, default `probe`).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Annotated

import anyio
import uvicorn
from mcp.server.mcpserver import MCPServer
from mcp.server.subscriptions import InMemorySubscriptionBus, ToolsListChanged
from mcp_types import CallToolResult, Tool, ToolAnnotations
from pydantic import BaseModel, Field

from agentmesh.settings import Settings, load_settings
from mcp_servers.common.bootstrap import ServeOptions, new_server
from mcp_servers.common.results import (
    FORWARDS_USER_TOKEN_META_KEY,
    TENANT_META_KEY,
    render_meta,
    structured_result,
)
from tests.support.processes import free_port

SERVER_NAME = "probe"
LOOKUP_DESCRIPTION = "Look up a customer's balance by MST tax code."
MST = Annotated[str, Field(pattern=r"^[0-9]{10}$", description="the customer's 10-digit MST tax code")]
READ_ONLY = ToolAnnotations(read_only_hint=True)


class Balance(BaseModel):
    mst: str
    name: str
    outstanding: int
    tenant: str


class Contact(BaseModel):
    mst: str
    email: str
    phone: str


class Visit(BaseModel):
    label: str
    concurrent: int


@dataclass
class ProbeState:
    """What the tests steer and observe: delay, description, concurrency, calls."""

    delay_seconds: float = 0.0
    description: str = LOOKUP_DESCRIPTION
    running: int = 0
    max_running: int = 0
    calls: list[str] = field(default_factory=list)


class ProbeServer(MCPServer):
    """Serves `lookup_customer` with the description currently in `state`."""

    state: ProbeState

    async def list_tools(self) -> list[Tool]:
        tools = await super().list_tools()
        return [
            tool.model_copy(update={"description": self.state.description})
            if tool.name == "lookup_customer"
            else tool
            for tool in tools
        ]


def build_probe(
    settings: Settings, state: ProbeState, *, name: str = SERVER_NAME
) -> tuple[ProbeServer, InMemorySubscriptionBus]:
    """The probe server as `name` (the audience its mesh tokens must carry)."""
    bus = InMemorySubscriptionBus()
    server, tenants = new_server(
        name,
        settings,
        ServeOptions(),
        instructions="Probe tools for the agent host's tests.",
        server_class=ProbeServer,
        subscriptions=bus,
    )
    assert isinstance(server, ProbeServer)
    server.state = state

    @server.tool(annotations=READ_ONLY, meta=render_meta("summary_text", priority=1))
    async def lookup_customer(mst: MST) -> Annotated[CallToolResult, Balance]:
        """Look up a customer's balance by MST tax code."""
        state.calls.append(f"lookup_customer:{mst}")
        if state.delay_seconds:
            await anyio.sleep(state.delay_seconds)
        balance = Balance(
            mst=mst,
            name=f"Customer {mst[-3:]}",
            outstanding=int(mst[-4:]) * 1000,
            tenant=tenants.current().tenant_id,
        )
        return structured_result(balance, f"{balance.name} owes {balance.outstanding:,} VND.")

    @server.tool(annotations=READ_ONLY)
    async def record_visit(label: str) -> Annotated[CallToolResult, Visit]:
        """Record a visit under a label, holding it for a moment (counts concurrent visits)."""
        state.running += 1
        state.max_running = max(state.max_running, state.running)
        state.calls.append(f"record_visit:{label}")
        try:
            await anyio.sleep(0.15)
            return structured_result(Visit(label=label, concurrent=state.running), f"visited {label}")
        finally:
            state.running -= 1

    @server.tool(annotations=ToolAnnotations(destructive_hint=True))
    async def create_note(text: str) -> str:
        """Create a note (changes data)."""
        state.calls.append(f"create_note:{text}")
        return f"note created: {text}"

    @server.tool(annotations=READ_ONLY)
    async def customer_contact(mst: MST) -> Annotated[CallToolResult, Contact]:
        """A customer's contact details by MST tax code."""
        contact = Contact(mst=mst, email=f"ap@customer{mst[-3:]}.vn", phone="0912 345 678")
        return structured_result(contact, f"Reach {contact.email} or {contact.phone}.")

    @server.tool(annotations=READ_ONLY, meta={TENANT_META_KEY: "acme"})
    async def acme_discount(mst: MST) -> str:
        """acme's own tool: the discount acme grants a customer."""
        return f"{mst}: 5% for {tenants.current().tenant_id}"

    @server.tool(annotations=READ_ONLY, meta={FORWARDS_USER_TOKEN_META_KEY: True})
    async def crm_profile() -> str:
        """The caller's CRM profile, read with their own token (a tool that forwards it)."""
        forwarded = tenants.current().user_token
        return f"forwarded token: {forwarded}"

    @server.tool(annotations=READ_ONLY)
    async def big_report() -> str:
        """A report far larger than any result cap."""
        return "x" * 50_000

    return server, bus


async def announce_change(bus: InMemorySubscriptionBus) -> None:
    """Tell listening clients that the tool list changed."""
    await bus.publish(ToolsListChanged())


@contextlib.asynccontextmanager
async def serve_probe(
    settings: Settings, state: ProbeState
) -> AsyncIterator[tuple[str, InMemorySubscriptionBus]]:
    """Serve the probe in this event loop on a free port; yields its MCP URL and change bus."""
    port = free_port()
    server, bus = build_probe(settings, state)
    app = server.streamable_http_app(streamable_http_path="/mcp", host="127.0.0.1")
    uv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    async with anyio.create_task_group() as tg:
        tg.start_soon(uv.serve)
        while not uv.started:
            await anyio.sleep(0.02)
        try:
            yield f"http://127.0.0.1:{port}/mcp", bus
        finally:
            uv.should_exit = True


class ProbeThread:
    """The probe served by uvicorn on a thread of its own, so one server can outlive many tests."""

    def __init__(self, settings: Settings, state: ProbeState | None = None) -> None:
        self.state = state or ProbeState()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/mcp"
        server, self._bus = build_probe(settings, self.state)
        app = server.streamable_http_app(streamable_http_path="/mcp", host="127.0.0.1")
        self._uvicorn = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on")
        )
        self._thread = threading.Thread(target=self._uvicorn.run, name="probe-server", daemon=True)

    def __enter__(self) -> ProbeThread:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._uvicorn.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the probe server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *_: object) -> None:
        self._uvicorn.should_exit = True
        self._thread.join(10)

    def reset(self) -> None:
        """Forget calls and concurrency; back to a fast lookup with its first description."""
        fresh = ProbeState()
        for name in ("delay_seconds", "description", "running", "max_running"):
            setattr(self.state, name, getattr(fresh, name))
        self.state.calls.clear()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    settings = load_settings()
    state = ProbeState(
        delay_seconds=float(os.environ.get("PROBE_DELAY_SECONDS", "0")),
        description=os.environ.get("PROBE_DESCRIPTION", LOOKUP_DESCRIPTION),
    )
    server, _ = build_probe(settings, state, name=os.environ.get("PROBE_NAME", SERVER_NAME))
    app = server.streamable_http_app(streamable_http_path="/mcp", host="127.0.0.1")
    uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=args.port, log_level="warning", timeout_graceful_shutdown=1
        )
    ).run()


if __name__ == "__main__":
    main()
