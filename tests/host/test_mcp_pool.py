"""The MCP client pool: the platform's own servers connect as configured; a server registered at
run time connects only through the outbound guard, after DNS and to the address it checked."""

from __future__ import annotations

import anyio

from agentmesh.outbound import AllowList, OutboundGuard
from agentmesh.settings import Settings
from host.mcp_pool import McpPool
from tests.host.conftest import ACME, ProbeThread, make_host, policies
from tests.support.resolver import StaticResolver


def pool_with(settings: Settings, startup: dict[str, str], outbound: OutboundGuard) -> McpPool:
    issuer = make_host(settings, {}, agents=[], policy_set=policies())[1].issuer
    return McpPool(startup, listing_token=issuer.for_listing, outbound=outbound)


async def test_a_registered_server_whose_name_now_points_inside_is_never_connected(
    shared_settings: Settings, probe: ProbeThread
) -> None:
    # tools.example.com was public when the platform admin registered it; DNS now says loopback.
    port = probe.url.split(":")[2].split("/")[0]
    resolver = StaticResolver({"tools.example.com": ["127.0.0.1"]})
    pool = pool_with(shared_settings, {}, OutboundGuard(AllowList(), resolver))
    async with anyio.create_task_group() as task_group:
        await pool.start(task_group)
        pool.add_server("probe", f"http://tools.example.com:{port}/mcp")
        assert await pool.wait_ready(1.5) == {"probe": False}
        pool.stop()
    state = pool.states()[0]
    assert state.last_error is not None
    assert "tools.example.com resolves to 127.0.0.1, a loopback address" in state.last_error


async def test_a_registered_server_the_platform_allows_connects(
    shared_settings: Settings, probe: ProbeThread
) -> None:
    port = probe.url.split(":")[2].split("/")[0]
    pool = pool_with(shared_settings, {}, OutboundGuard(AllowList((f"127.0.0.1:{port}",)), StaticResolver()))
    token = make_host(shared_settings, {}, agents=[], policy_set=policies())[1].issuer.for_call(
        "probe", ACME, frozenset({"lookup_customer"})
    )
    async with anyio.create_task_group() as task_group:
        await pool.start(task_group)
        pool.add_server("probe", probe.url)
        assert await pool.wait_ready(10) == {"probe": True}
        tools = await pool.connection("probe").list_tools()
        # A call goes out as one exchange on the connection's guarded client.
        called = await pool.connection("probe").call_tool(
            "lookup_customer", {"mst": "0123456789"}, token=token, timeout=10
        )
        pool.stop()
    assert "lookup_customer" in {tool.name for tool in tools}
    assert not called.is_error and called.structured_content["tenant"] == "acme"


async def test_a_registered_server_on_loopback_needs_the_allow_list(
    shared_settings: Settings, probe: ProbeThread
) -> None:
    pool = pool_with(shared_settings, {}, OutboundGuard(AllowList(), StaticResolver()))
    async with anyio.create_task_group() as task_group:
        await pool.start(task_group)
        pool.add_server("probe", probe.url)
        assert await pool.wait_ready(1.5) == {"probe": False}
        pool.stop()
    assert "127.0.0.1 is a loopback address" in (pool.states()[0].last_error or "")


async def test_the_servers_the_platform_was_started_with_are_its_own(
    shared_settings: Settings, probe: ProbeThread
) -> None:
    # The same loopback server, configured at startup: no allow-list entry is needed.
    pool = pool_with(shared_settings, {"probe": probe.url}, OutboundGuard(AllowList(), StaticResolver()))
    async with anyio.create_task_group() as task_group:
        await pool.start(task_group)
        assert await pool.wait_ready(10) == {"probe": True}
        pool.stop()
