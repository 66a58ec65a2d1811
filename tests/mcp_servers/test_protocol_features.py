"""What every standalone server offers beyond tools, as a desktop assistant sees it over stdio.

Each tool carries a title and all four hints, and schemas without `$ref`; every server answers
`logging/setLevel`; the ERP server declares `tools.listChanged` (its tools come from a database
that admins change), offers a prompt per question it answers, in English or Vietnamese, and
completes MSTs, shipment ids and SKUs from the tenant's ERP.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters
from mcp_types import PromptReference

pytestmark = pytest.mark.slow

ACME_MST = "3428557611"


@asynccontextmanager
async def stdio_client(domain: str, data_dir: Path) -> AsyncIterator[Client]:
    parameters = StdioServerParameters(
        command=sys.executable,
        args=["-m", "agentmesh.cli", "serve", domain, "--transport", "stdio", "--tenant", "acme"],
        env={**os.environ, "AGENTMESH_DATA_DIR": str(data_dir), "AGENTMESH_LOG_LEVEL": "WARNING"},
    )
    async with Client(parameters, mode="legacy") as client:
        yield client


@pytest.mark.parametrize("domain", ["erp", "ocr", "search"])
async def test_every_tool_is_fully_annotated_and_its_schemas_are_portable(
    domain: str, tmp_path: Path
) -> None:
    async with stdio_client(domain, tmp_path) as client:
        capabilities = client.server_capabilities
        assert await client.set_logging_level("debug") is not None
        tools = (await client.list_tools()).tools
    assert capabilities is not None and capabilities.logging is not None
    assert capabilities.tools is not None and capabilities.tools.list_changed is (domain == "erp")
    assert tools
    for tool in tools:
        hints = tool.annotations
        assert tool.title and hints is not None and hints.title == tool.title, tool.name
        assert None not in (
            hints.read_only_hint,
            hints.destructive_hint,
            hints.idempotent_hint,
            hints.open_world_hint,
        ), tool.name
        published = json.dumps([tool.input_schema, tool.output_schema])
        assert "$ref" not in published and "$defs" not in published, tool.name
    if domain == "search":
        web = next(tool for tool in tools if tool.name == "web_search")
        assert web.annotations is not None and web.annotations.open_world_hint is True


async def test_the_erp_server_completes_ids_from_the_tenants_erp_and_renders_its_prompts(
    tmp_path: Path,
) -> None:
    debt = PromptReference(type="ref/prompt", name="get_customer_debt")
    shipment = PromptReference(type="ref/prompt", name="track_shipment")
    async with stdio_client("erp", tmp_path) as client:
        prompts = {prompt.name: prompt for prompt in (await client.list_prompts()).prompts}
        msts = (await client.complete(debt, {"name": "mst", "value": ACME_MST[:4]})).completion
        shipments = (await client.complete(shipment, {"name": "shipment_id", "value": "sh-104"})).completion
        languages = (await client.complete(debt, {"name": "language", "value": "v"})).completion
        unknown = (await client.complete(debt, {"name": "nothing", "value": "x"})).completion
        vietnamese = await client.get_prompt("get_customer_debt", {"mst": ACME_MST, "language": "vi"})
    assert set(prompts) == {"get_customer_debt", "track_shipment", "get_stock_level"}
    assert [argument.name for argument in prompts["get_customer_debt"].arguments or []] == ["mst", "language"]
    assert ACME_MST in msts.values and all(value.startswith(ACME_MST[:4]) for value in msts.values)
    assert msts.total == len(msts.values)
    assert "SH-1042" in shipments.values and all(value.startswith("SH-104") for value in shipments.values)
    assert languages.values == ["vi"]
    assert unknown.values == []
    text = vietnamese.messages[0].content.text  # type: ignore[union-attr]
    assert text.startswith(f"Công nợ của khách hàng có MST {ACME_MST}")
