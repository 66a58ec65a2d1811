"""The ERP MCP server: its tools are HTTP tool configurations, not code.

The tools come from `demo_tools.yaml` and from the platform database (`tool_store`); a tool
added or changed in the database appears in `tools/list` within a second, and clients listening
on `subscriptions/listen` receive `notifications/tools/list_changed`. The ERP they call is
`AGENTMESH_ERP_API_URL`, or, when that is unset, the demo ERP API started inside this process on
a free loopback port, so `agentmesh serve erp --transport stdio` works entirely alone.

Every call passes the outbound guard: the ERP API the server is configured with is the
platform's own and is allowed by its origin; any other URL (an absolute tool URL) must be public
or named in `AGENTMESH_OUTBOUND_ALLOW`.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any

import anyio
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.subscriptions import InMemorySubscriptionBus, ToolsListChanged
from mcp_types import (
    CallToolResult,
    Completion,
    CompletionArgument,
    CompletionContext,
    InputRequiredResult,
    PromptReference,
    ResourceTemplateReference,
    Tool,
)
from pydantic import Field

from agentmesh.db import create_engine, session_factory
from agentmesh.outbound import OutboundGuard, Resolver
from agentmesh.secrets import secret_box
from agentmesh.settings import Settings
from mcp_servers.common.bootstrap import ServeOptions, new_server
from mcp_servers.common.server import DomainServer
from mcp_servers.erp.catalog import ToolCatalog
from mcp_servers.erp.completions import ErpCompletions, load_completion_sources
from mcp_servers.erp.configured_tools import ConfiguredTools
from mcp_servers.erp.credentials import ServiceCredentialStore
from mcp_servers.erp.forwarding import UserTokenForwarding
from mcp_servers.erp.identity import UpstreamIdentity
from mcp_servers.erp.prompts import LANGUAGES, Language, question
from mcp_servers.erp.tool_config import builtin_tools
from mcp_servers.erp.tool_store import ToolConfigStore
from mcp_servers.erp.upstream import ErpHttp

INSTRUCTIONS = (
    "Tools over the company's ERP: customer debt (outstanding and overdue, by MST tax code), payment "
    "history, overdue customers, shipment tracking and events, stock levels by SKU, and order creation. "
    "An MST is 10 digits, optionally with a -NNN branch suffix. create_order changes data."
)


Mst = Annotated[str, Field(description="the customer's tax code (MST): 10 digits, e.g. 0312345678")]
ShipmentId = Annotated[str, Field(description="the shipment id, e.g. SH-1042")]
Sku = Annotated[str, Field(description="the stock keeping unit, e.g. ACM-0003")]
PromptLanguage = Annotated[Language, Field(description="the language of the question: en or vi")]


class ErpServer(DomainServer):
    """A domain server that also lists and calls the configured tools attached to it."""

    configured: ConfiguredTools | None = None
    tools_change = True

    async def list_tools(self) -> list[Tool]:
        tools = await super().list_tools()
        return tools if self.configured is None else [*tools, *self.configured.listed()]

    async def run_tool(
        self, name: str, arguments: dict[str, Any], context: Context[Any, Any] | None = None
    ) -> CallToolResult | InputRequiredResult:
        if self.configured is None or name not in self.configured:
            return await super().run_tool(name, arguments, context)
        return await self.configured.call(name, arguments)


@dataclass
class ErpEndpoint:
    """Where the tenant's ERP answers: the configured URL, or the embedded demo API once it runs."""

    url: str | None


def build_server(
    settings: Settings, options: ServeOptions, *, resolver: Resolver | None = None
) -> DomainServer:
    """The ERP server, its configured tools and the background work that keeps them current
    (`resolver` replaces the system resolver of the outbound guard)."""
    bus = InMemorySubscriptionBus()
    engine = create_engine(settings.resolved_database_url)
    sessions = session_factory(engine)
    # The server only reads the store; the gateway's admin API writes it, with its own guard.
    reading = OutboundGuard.from_settings(settings, resolver=resolver)
    catalog = ToolCatalog(builtin_tools(), ToolConfigStore(sessions, outbound=reading))
    http = ErpHttp()
    configured_url = settings.erp_api_url or None
    endpoint = ErpEndpoint(configured_url)

    async def tools_changed() -> None:
        await bus.publish(ToolsListChanged())  # 2026-07-28 clients listening
        await server.announce_tools_changed()  # a handshake client over stdio

    @contextlib.asynccontextmanager
    async def lifespan(server: MCPServer) -> AsyncIterator[dict[str, Any]]:
        try:
            await catalog.refresh()
            async with contextlib.AsyncExitStack() as stack:
                if configured_url is None:
                    # Imported here: the demo API (its data set, its web app) is start-up work,
                    # which over stdio runs after `initialize` has been answered.
                    from mcp_servers.erp.demo_runtime import embedded_demo_api

                    endpoint.url = await stack.enter_async_context(embedded_demo_api(settings))
                    stack.callback(setattr, endpoint, "url", None)
                outbound = OutboundGuard.from_settings(
                    settings, trusted_urls=[endpoint.url], resolver=resolver
                )
                await stack.enter_async_context(http.open(outbound))
                async with anyio.create_task_group() as tasks:
                    tasks.start_soon(catalog.watch, tools_changed)
                    try:
                        yield {}
                    finally:
                        tasks.cancel_scope.cancel()
        finally:
            await engine.dispose()

    server, tenants = new_server(
        "erp",
        settings,
        options,
        instructions=INSTRUCTIONS,
        server_class=ErpServer,
        platform_database=True,
        listing_needs_startup=True,
        subscriptions=bus,
        lifespan=lifespan,
    )
    assert isinstance(server, ErpServer)
    server.configured = ConfiguredTools(
        catalog,
        http,
        ServiceCredentialStore(sessions, secret_box(settings)),
        UpstreamIdentity(settings),
        tenants,
        base_url=lambda: endpoint.url,
        forwarding=UserTokenForwarding.from_settings(settings),
    )
    completions = ErpCompletions(load_completion_sources(), server.configured)

    @server.prompt(name="get_customer_debt", title="Customer debt")
    def customer_debt(mst: Mst, language: PromptLanguage = "en") -> str:
        """Ask for one customer's debt (outstanding and overdue) by MST."""
        return question("get_customer_debt", language, mst=mst)

    @server.prompt(name="track_shipment", title="Track a shipment")
    def shipment(shipment_id: ShipmentId, language: PromptLanguage = "en") -> str:
        """Ask where a shipment is, with its status and latest events."""
        return question("track_shipment", language, shipment_id=shipment_id)

    @server.prompt(name="get_stock_level", title="Stock level")
    def stock(sku: Sku, language: PromptLanguage = "en") -> str:
        """Ask how much of an item is in stock and whether it needs reordering."""
        return question("get_stock_level", language, sku=sku)

    @server.completion()
    async def complete(
        ref: PromptReference | ResourceTemplateReference,
        argument: CompletionArgument,
        context: CompletionContext | None,
    ) -> Completion:
        """MSTs, shipment ids and SKUs from the tenant's ERP; the prompts' languages."""
        if argument.name == "language":
            return Completion(values=[code for code in LANGUAGES if code.startswith(argument.value)])
        return await completions.complete(argument.name, argument.value)

    return server
