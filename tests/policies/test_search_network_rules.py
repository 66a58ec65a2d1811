"""Tenants' policies drive the search server's network rules: a host one tenant's policy allows is
fetched for that tenant only, and an admin override reaches the running server within a second.

The server runs in-process over HTTP with the real policy files and the shared database; only DNS
is replaced, so the test hosts resolve to a loopback site.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import pytest
import uvicorn

from agentmesh.db import create_engine, session_factory
from agentmesh.settings import Settings
from mcp_servers.common.bootstrap import ServeOptions
from mcp_servers.search.server import build_server
from policies.model import NetworkRules, TenantPolicy
from policies.overrides import PolicyOverrideStore
from tests.mcp_servers.search.company_site import company_site
from tests.mcp_servers.search.sites import serve
from tests.support.mcp import http_client, mesh_token
from tests.support.processes import free_port
from tests.support.resolver import StaticResolver

SITE_TITLE = "Công ty Nước Sạch Miền Nam"


@pytest.fixture(scope="module")
def site_port() -> Iterator[str]:
    with serve(company_site()) as base_url:
        yield base_url.rsplit(":", 1)[1]


@contextlib.asynccontextmanager
async def search_server(settings: Settings) -> AsyncIterator[str]:
    resolver = StaticResolver({"wiki.acme.internal": ["127.0.0.1"], "intranet.globex.test": ["127.0.0.1"]})
    port = free_port()
    server = build_server(settings, ServeOptions(port=port), resolver=resolver)
    app = server.streamable_http_app(streamable_http_path="/mcp", host="127.0.0.1")
    uv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    async with anyio.create_task_group() as group:
        group.start_soon(uv.serve)
        while not uv.started:
            await anyio.sleep(0.05)
        yield f"http://127.0.0.1:{port}/mcp"
        uv.should_exit = True


async def fetch(settings: Settings, url: str, tenant: str, page: str) -> Any:
    token = mesh_token(settings, "search", tenant=tenant, tools=["fetch_page"])
    async with http_client(url, token) as client:
        return await client.call_tool("fetch_page", {"url": page})


async def test_a_host_in_a_tenants_policy_is_fetched_for_that_tenant_only(
    settings: Settings, site_port: str
) -> None:
    page = f"http://wiki.acme.internal:{site_port}/"
    async with search_server(settings) as url:
        acme = await fetch(settings, url, "acme", page)
        globex = await fetch(settings, url, "globex", page)
    assert not acme.is_error, acme.content[0].text
    assert acme.structured_content["citation"]["title"] == SITE_TITLE
    assert globex.is_error
    assert "wiki.acme.internal resolves to 127.0.0.1, a loopback address" in globex.content[0].text


async def test_an_admin_override_reaches_the_running_server(settings: Settings, site_port: str) -> None:
    page = f"http://intranet.globex.test:{site_port}/"
    engine = create_engine(settings.resolved_database_url)
    store = PolicyOverrideStore(session_factory(engine))
    try:
        async with search_server(settings) as url:
            assert (await fetch(settings, url, "globex", page)).is_error
            await store.put(
                "globex",
                TenantPolicy(tenant="globex", network=NetworkRules(allowed_hosts=("intranet.globex.test",))),
                changed_by="platform-admin",
            )
            started = time.monotonic()
            while (result := await fetch(settings, url, "globex", page)).is_error:
                assert time.monotonic() - started < 3.0, result.content[0].text
                await anyio.sleep(0.1)
            assert result.structured_content["citation"]["title"] == SITE_TITLE
            # The override is globex's: acme's policy still does not name that host.
            acme = await fetch(settings, url, "acme", page)
            assert acme.is_error and "which this platform does not call for tenants" in acme.content[0].text

            await store.put(
                "globex",
                TenantPolicy(
                    tenant="globex",
                    network=NetworkRules(
                        allowed_hosts=("*.globex.test",), denied_hosts=("intranet.globex.test",)
                    ),
                ),
            )
            started = time.monotonic()
            while not (result := await fetch(settings, url, "globex", page)).is_error:
                assert time.monotonic() - started < 3.0, "the deny did not reach the server"
                await anyio.sleep(0.1)
            assert "denied by this tenant's network rules (intranet.globex.test)" in result.content[0].text
    finally:
        await engine.dispose()
