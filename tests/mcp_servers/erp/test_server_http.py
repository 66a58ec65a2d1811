"""`agentmesh serve erp --transport http` as the host sees it: mesh tokens, tenants, live tool changes.

One real server process serves the whole module; it starts the demo ERP API inside itself, so
every tool call below is a real HTTP call to the demo ERP with the calling tenant's own key.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp_types import CallToolResult

from agentmesh.db import create_engine, session_factory
from agentmesh.outbound import AllowList, OutboundGuard
from agentmesh.secrets import secret_box
from agentmesh.settings import Settings
from mcp_servers.common.errors import error_code
from mcp_servers.erp.credentials import ServiceCredentialStore
from mcp_servers.erp.demo_access import DEMO_CREDENTIAL
from mcp_servers.erp.tool_config import builtin_tools
from mcp_servers.erp.tool_store import ToolConfigStore
from tests.mcp_servers.erp.conftest import debtors, expected_debt, settings_for
from tests.support.mcp import http_client, mesh_token
from tests.support.processes import running_server

ADDED = ("customer_profile", "acme_only_profile")
EVERY_TOOL = [tool.name for tool in builtin_tools()] + list(ADDED)


@dataclass
class ErpProcess:
    url: str
    data_dir: Path
    settings: Settings

    def token(self, tenant: str) -> str:
        return mesh_token(self.settings, "erp", tenant=tenant, tools=EVERY_TOOL)


@pytest.fixture(scope="module")
def erp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ErpProcess]:
    data_dir = tmp_path_factory.mktemp("erp-http")
    with running_server("erp", data_dir, AGENTMESH_ERP_API_URL="") as url:
        yield ErpProcess(url, data_dir, settings_for(data_dir))


async def call(erp: ErpProcess, tenant: str, tool: str, arguments: dict[str, Any]) -> CallToolResult:
    async with http_client(erp.url, erp.token(tenant)) as client:
        return await client.call_tool(tool, arguments)


def text(result: CallToolResult) -> str:
    return str(result.content[0].text)  # type: ignore[union-attr]


def refusal_code(result: CallToolResult) -> str | None:
    assert result.is_error, text(result)
    return error_code(result)


async def test_debt_answers_match_the_fixture(erp: ErpProcess, demo_data: dict[str, Any]) -> None:
    for tenant in ("acme", "globex"):
        for mst in debtors(demo_data, tenant)[:2]:
            result = await call(erp, tenant, "get_customer_debt", {"mst": mst})
            assert not result.is_error, text(result)
            data = result.structured_content
            assert data is not None
            outstanding, overdue = expected_debt(demo_data, tenant, mst)
            assert (data["outstanding"], data["overdue"]) == (outstanding, overdue)
            assert f"owes {outstanding:,} VND as of 2025-06-30" in text(result)
            assert f"{overdue:,} VND of it is overdue" in text(result)


async def test_shipment_tracking_answers_from_the_demo_erp(
    erp: ErpProcess, demo_data: dict[str, Any]
) -> None:
    shipment = next(s for s in demo_data["tenants"]["acme"]["shipments"] if s["shipment_id"] == "SH-1042")
    result = await call(erp, "acme", "track_shipment", {"shipment_id": "SH-1042"})
    assert result.structured_content is not None
    assert result.structured_content["status"] == shipment["events"][-1]["status"]
    assert text(result).startswith(
        f"Shipment SH-1042 for {result.structured_content['customer']['name']} is "
    )


async def test_malformed_mst_names_the_format_and_unknown_customer_is_not_found(erp: ErpProcess) -> None:
    malformed = await call(erp, "acme", "get_customer_debt", {"mst": "12-34"})
    assert refusal_code(malformed) == "invalid_arguments"
    assert "mst: '12-34' is not in the expected format" in text(malformed)
    assert "10 digits, optionally followed by a -NNN branch suffix" in text(malformed)
    unknown = await call(erp, "acme", "get_customer_debt", {"mst": "0999999999"})
    assert refusal_code(unknown) == "not_found"
    assert text(unknown) == "Not found: no customer with MST 0999999999"


async def test_a_schema_violation_lists_each_problem_by_name(erp: ErpProcess) -> None:
    result = await call(
        erp, "acme", "create_order", {"items": [{"sku": "ACM-0001", "quantity": -1}], "rush": True}
    )
    assert refusal_code(result) == "invalid_arguments"
    assert text(result).splitlines() == [
        "Invalid arguments for create_order (3 problems):",
        "- items[0].quantity: must be at least 1, got -1",
        "- mst: is required",
        "- rush: is not an accepted argument",
    ]


async def test_globex_can_never_read_acmes_customers_shipments_or_orders(
    erp: ErpProcess, demo_data: dict[str, Any]
) -> None:
    acme = demo_data["tenants"]["acme"]
    acme_mst = debtors(demo_data, "acme")[0]
    acme_sku = acme["skus"][7]["sku"]
    stock_before = (await call(erp, "acme", "get_stock_level", {"sku": acme_sku})).structured_content
    attempts = [
        ("get_customer_debt", {"mst": acme_mst}),
        ("get_payment_history", {"mst": acme_mst}),
        ("track_shipment", {"shipment_id": "SH-1042"}),
        ("get_shipment_events", {"shipment_id": "SH-1042"}),
        ("get_order", {"order_id": acme["orders"][0]["order_id"]}),
        ("get_stock_level", {"sku": acme_sku}),
        ("create_order", {"mst": acme_mst, "items": [{"sku": acme_sku, "quantity": 1}]}),
    ]
    for tool, arguments in attempts:
        assert refusal_code(await call(erp, "globex", tool, arguments)) == "not_found", tool
    overdue = await call(erp, "globex", "list_overdue_customers", {"limit": 200})
    assert overdue.structured_content is not None
    assert {c["mst"] for c in overdue.structured_content["customers"]} == set(debtors(demo_data, "globex"))
    stock_after = (await call(erp, "acme", "get_stock_level", {"sku": acme_sku})).structured_content
    assert stock_after == stock_before, "globex's order attempt reserved nothing of acme's"


async def test_create_order_places_an_order_for_the_calling_tenant(
    erp: ErpProcess, demo_data: dict[str, Any]
) -> None:
    mst = demo_data["tenants"]["globex"]["customers"][0]["mst"]
    sku = demo_data["tenants"]["globex"]["skus"][2]
    result = await call(
        erp, "globex", "create_order", {"mst": mst, "items": [{"sku": sku["sku"], "quantity": 2}]}
    )
    assert not result.is_error, text(result)
    order = result.structured_content
    assert order is not None and order["total"] == 2 * sku["unit_price"]
    customer = order["customer"]["name"]
    assert (
        text(result)
        == f"Order {order['order_id']} is confirmed for {customer}: total {order['total']:,} VND."
    )
    assert refusal_code(await call(erp, "acme", "get_order", {"order_id": order["order_id"]})) == "not_found"


async def test_tools_added_changed_and_removed_in_the_store_are_announced_without_restart(
    erp: ErpProcess, demo_data: dict[str, Any]
) -> None:
    profile = {
        "name": "customer_profile",
        "description": "A customer's contact details and payment terms, by MST.",
        "method": "GET",
        "url": "/customers/{mst}",
        "input_schema": {
            "type": "object",
            "required": ["mst"],
            "properties": {"mst": {"type": "string", "pattern": "^[0-9]{10}(-[0-9]{3})?$"}},
        },
        "auth": {"mode": "service", "credential": DEMO_CREDENTIAL},
        "output": {
            "format": "summary_text",
            "summary": "{name}: {email}, pays within {payment_terms_days} days",
        },
    }
    engine = create_engine(erp.settings.resolved_database_url)
    store = ToolConfigStore(session_factory(engine), outbound=OutboundGuard(AllowList()))
    customer = demo_data["tenants"]["acme"]["customers"][0]
    try:
        async with http_client(erp.url, erp.token("acme")) as client:
            assert "customer_profile" not in {t.name for t in (await client.list_tools()).tools}
            async with client.listen(tools_list_changed=True) as changes:
                await store.create(None, profile)
                with anyio.fail_after(10):
                    event = await anext(aiter(changes))
                assert type(event).__name__ == "ToolsListChanged"
                listed = {t.name: t for t in (await client.list_tools()).tools}
                assert listed["customer_profile"].description == profile["description"]
                result = await client.call_tool("customer_profile", {"mst": customer["mst"]})
                terms = customer["payment_terms_days"]
                assert text(result) == f"{customer['name']}: {customer['email']}, pays within {terms} days"

                await store.update(None, profile | {"description": "Contact details of a customer."})
                with anyio.fail_after(10):
                    await anext(aiter(changes))
                listed = {t.name: t for t in (await client.list_tools()).tools}
                assert listed["customer_profile"].description == "Contact details of a customer."

                await store.create("acme", profile | {"name": "acme_only_profile"})
                with anyio.fail_after(10):
                    await anext(aiter(changes))
                await store.delete(None, "customer_profile")
                with anyio.fail_after(10):
                    await anext(aiter(changes))
                names = {t.name for t in (await client.list_tools()).tools}
                assert "customer_profile" not in names and "acme_only_profile" in names
        own = await call(erp, "acme", "acme_only_profile", {"mst": customer["mst"]})
        assert not own.is_error, text(own)
        foreign = await call(erp, "globex", "acme_only_profile", {"mst": customer["mst"]})
        assert refusal_code(foreign) == "tool_not_found"
    finally:
        await engine.dispose()


async def test_demo_credentials_are_stored_encrypted(erp: ErpProcess) -> None:
    engine = create_engine(erp.settings.resolved_database_url)
    credentials = ServiceCredentialStore(session_factory(engine), secret_box(erp.settings))
    keys = [await credentials.reveal(tenant, DEMO_CREDENTIAL) for tenant in ("acme", "globex")]
    await engine.dispose()
    assert all(keys) and keys[0] != keys[1]
    stored = b"".join(path.read_bytes() for path in erp.data_dir.glob("agentmesh.db*"))
    assert b"erp_service_credentials" in stored
    for key in keys:
        assert key is not None and key.encode() not in stored


async def test_a_token_lists_only_the_tools_it_grants(erp: ErpProcess) -> None:
    granted = mesh_token(erp.settings, "erp", tenant="acme", tools=["get_customer_debt", "track_shipment"])
    async with http_client(erp.url, granted) as client:
        assert sorted(t.name for t in (await client.list_tools()).tools) == [
            "get_customer_debt",
            "track_shipment",
        ]
        refused = await client.call_tool("get_stock_level", {"sku": "ACM-0001"})
    assert refusal_code(refused) == "tool_not_granted"
