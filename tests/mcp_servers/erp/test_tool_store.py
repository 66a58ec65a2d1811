"""Tool configurations in the database: validated, scoped to their tenant, and versioned."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from agentmesh.db import create_engine, session_factory, upgrade_database
from agentmesh.outbound import AllowList, BlockedDestination, OutboundGuard
from mcp_servers.erp.tool_store import InvalidToolConfig, ToolConfigNotFound, ToolConfigStore, ToolNameTaken
from tests.mcp_servers.erp.conftest import settings_for
from tests.support.resolver import StaticResolver

DNS = StaticResolver({"erp.example.com": ["93.184.216.34"], "erp.corp.example": ["172.20.0.4"]})


def tool(name: str = "get_invoice", **changes: Any) -> dict[str, Any]:
    return {
        "name": name,
        "description": "One invoice by number.",
        "method": "GET",
        "url": "/invoices/{number}",
        "input_schema": {
            "type": "object",
            "required": ["number"],
            "properties": {"number": {"type": "string"}},
        },
    } | changes


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[ToolConfigStore]:
    engine = create_engine(settings_for(tmp_path).resolved_database_url)
    await upgrade_database(engine)
    yield ToolConfigStore(session_factory(engine), outbound=OutboundGuard(AllowList(), DNS))
    await engine.dispose()


async def test_every_change_moves_the_catalog_version(store: ToolConfigStore) -> None:
    start = await store.version()
    await store.create("acme", tool())
    await store.update("acme", tool(description="Changed."))
    await store.delete("acme", "get_invoice")
    assert await store.version() == start + 3


async def test_a_tenant_sees_and_changes_only_its_own_tools(store: ToolConfigStore) -> None:
    await store.create("acme", tool("acme_invoice"))
    await store.create(None, tool("shared_invoice"))
    assert [t.config.name for t in await store.for_tenant("acme")] == ["acme_invoice"]
    assert await store.for_tenant("globex") == []
    assert [t.config.name for t in await store.for_tenant(None)] == ["shared_invoice"]
    version = await store.version()
    with pytest.raises(ToolConfigNotFound):
        await store.get("globex", "acme_invoice")
    with pytest.raises(ToolConfigNotFound):
        await store.update("globex", tool("acme_invoice", description="hijacked"))
    with pytest.raises(ToolConfigNotFound):
        await store.delete("globex", "acme_invoice")
    with pytest.raises(ToolConfigNotFound):
        await store.delete("acme", "shared_invoice")
    assert (await store.get("acme", "acme_invoice")).config.description == "One invoice by number."
    assert await store.version() == version, "refused changes change nothing"
    assert {(t.tenant_id, t.config.name) for t in await store.list_all()} == {
        ("acme", "acme_invoice"),
        (None, "shared_invoice"),
    }


async def test_names_are_unique_across_the_server(store: ToolConfigStore) -> None:
    await store.create("acme", tool())
    with pytest.raises(ToolNameTaken, match="already in use"):
        await store.create("globex", tool())
    with pytest.raises(ToolNameTaken, match="built-in tool"):
        await store.create("acme", tool("get_customer_debt"))


async def test_an_invalid_configuration_lists_each_problem_and_is_not_stored(store: ToolConfigStore) -> None:
    version = await store.version()
    with pytest.raises(InvalidToolConfig) as caught:
        await store.create("acme", tool("bad name", method="DELETE", timeout_seconds=500))
    fields = {problem["field"] for problem in caught.value.details["problems"]}
    assert fields == {"name", "method", "timeout_seconds"}
    assert caught.value.code == "invalid_tool_config"
    assert await store.for_tenant("acme") == []
    assert await store.version() == version


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1:5432/x", "127.0.0.1 is a loopback address"),
        ("http://10.1.1.1/x", "10.1.1.1 is a private address"),
        ("http://172.31.0.9/x", "172.31.0.9 is a private address"),
        ("http://192.168.10.10/x", "192.168.10.10 is a private address"),
        ("http://169.254.169.254/latest/meta-data", "169.254.169.254 is a cloud metadata address"),
        ("http://[::1]/x", "::1 is a loopback address"),
        ("http://[fd00::1]/x", "fd00::1 is a private address"),
        ("http://2130706433/x", "(written as 2130706433) is a loopback address"),
        ("http://0x7f.1/x", "(written as 0x7f.1) is a loopback address"),
        ("https://erp.corp.example/invoices/{number}", "erp.corp.example resolves to 172.20.0.4"),
    ],
)
async def test_an_absolute_url_the_platform_does_not_call_is_refused_when_saved(
    store: ToolConfigStore, url: str, reason: str
) -> None:
    version = await store.version()
    with pytest.raises(BlockedDestination) as refused:
        await store.create("acme", tool(url=url))
    assert reason in refused.value.message
    assert await store.version() == version and await store.for_tenant("acme") == []
    await store.create("acme", tool())
    with pytest.raises(BlockedDestination):
        await store.update("acme", tool(url=url))
    assert (await store.get("acme", "get_invoice")).config.url == "/invoices/{number}"


async def test_a_public_url_and_one_relative_to_the_erp_api_are_stored(store: ToolConfigStore) -> None:
    await store.create("acme", tool("remote", url="https://erp.example.com/invoices/{number}"))
    await store.create("acme", tool("relative", url="/invoices/{number}"))
    assert {t.config.name for t in await store.for_tenant("acme")} == {"remote", "relative"}
