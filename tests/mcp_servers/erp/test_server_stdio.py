"""`agentmesh serve erp --transport stdio` works entirely alone, driven by the SDK's own client."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from mcp import Client, StdioServerParameters

from tests.mcp_servers.erp.conftest import debtors, expected_debt
from tests.support.processes import child_env


def stdio_erp(data_dir: Path, tenant: str) -> Client:
    """A client that launches the ERP server as its child, on a fresh data directory."""
    return Client(
        StdioServerParameters(
            command=sys.executable,
            args=["-m", "agentmesh.cli", "serve", "erp", "--transport", "stdio", "--tenant", tenant],
            env=child_env(data_dir, AGENTMESH_ERP_API_URL=""),
        )
    )


async def test_stdio_server_lists_its_tools_and_answers_from_the_demo_erp(
    tmp_path: Path, demo_data: dict[str, Any]
) -> None:
    mst = debtors(demo_data, "acme")[0]
    async with stdio_erp(tmp_path, "acme") as client:
        tools = {tool.name for tool in (await client.list_tools()).tools}
        debt = await client.call_tool("get_customer_debt", {"mst": mst})
        shipment = await client.call_tool("track_shipment", {"shipment_id": "SH-1042"})
        malformed = await client.call_tool("get_customer_debt", {"mst": "01234"})
    assert {"get_customer_debt", "track_shipment", "create_order", "get_stock_level"} <= tools
    assert debt.structured_content is not None
    assert (debt.structured_content["outstanding"], debt.structured_content["overdue"]) == expected_debt(
        demo_data, "acme", mst
    )
    assert not shipment.is_error and "Shipment SH-1042" in shipment.content[0].text  # type: ignore[union-attr]
    assert malformed.is_error and "10 digits" in malformed.content[0].text  # type: ignore[union-attr]


async def test_stdio_server_acts_for_the_tenant_it_was_started_for(
    tmp_path: Path, demo_data: dict[str, Any]
) -> None:
    own = debtors(demo_data, "globex")[0]
    foreign = debtors(demo_data, "acme")[0]
    async with stdio_erp(tmp_path, "globex") as client:
        mine = await client.call_tool("get_customer_debt", {"mst": own})
        theirs = await client.call_tool("get_customer_debt", {"mst": foreign})
    assert mine.structured_content is not None
    assert mine.structured_content["outstanding"] == expected_debt(demo_data, "globex", own)[0]
    assert theirs.is_error
    assert theirs.content[0].text == f"Not found: no customer with MST {foreign}"  # type: ignore[union-attr]
