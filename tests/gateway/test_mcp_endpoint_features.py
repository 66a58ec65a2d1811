"""The gateway's `/mcp` beyond tools: resources, prompts, completions, logging and progress.

A real ERP server and a real knowledge-base server run behind the gateway. The MCP SDK's
`Client` (both protocol eras) and the TypeScript SDK (`js/mcp_client.mjs`) read a tenant's
knowledge documents, its agents' and servers' prompts, complete MSTs from the tenant's ERP and
document ids from its knowledge base, and receive an ingestion's progress relayed from the server.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp_types import PromptReference, ResourceTemplateReference, TextResourceContents

from agentmesh.dev_tokens import issue_dev_token
from agentmesh.settings import Settings, load_settings
from tests.support.gateway import running_gateway
from tests.support.processes import running_server

pytestmark = pytest.mark.slow

ERAS = ["legacy", "2026-07-28"]
ACME_MST = "3428557611"
DOCUMENT = "kb://documents/return-policy"
TEMPLATE = ResourceTemplateReference(type="ref/resource", uri="kb://documents/{document_id}")
JS_DIR = Path(__file__).parent / "js"


@dataclass
class Gateway:
    url: str
    settings: Settings

    def token(self, tenant: str, user: str = "alice", roles: list[str] | None = None) -> str:
        return issue_dev_token(self.settings, tenant_id=tenant, user=user, roles=roles)


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    data_dir = tmp_path_factory.mktemp("mcp-features")
    settings = load_settings(AGENTMESH_DATA_DIR=data_dir)
    with (
        running_server("erp", data_dir) as erp_url,
        running_server("rag", data_dir) as rag_url,
        running_gateway(settings, {"erp": erp_url, "rag": rag_url}) as url,
    ):
        yield Gateway(url, settings)


@contextlib.asynccontextmanager
async def mcp_client(gateway: Gateway, token: str, mode: str) -> AsyncIterator[Client]:
    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=120.0) as http,
        Client(streamable_http_client(f"{gateway.url}/mcp", http_client=http), mode=mode) as client,
    ):
        yield client


@pytest.mark.parametrize("mode", ERAS)
async def test_a_tenants_documents_are_listed_and_read_back_by_their_uri(gateway: Gateway, mode: str) -> None:
    async with mcp_client(gateway, gateway.token("acme"), mode) as client:
        listed = {str(resource.uri): resource for resource in (await client.list_resources()).resources}
        templates = (await client.list_resource_templates()).resource_templates
        read = await client.read_resource(DOCUMENT)
    assert listed[DOCUMENT].name == "rag__return-policy"
    assert [template.uri_template for template in templates] == ["kb://documents/{document_id}"]
    assert templates[0].name == "rag__document"
    content = read.contents[0]
    assert isinstance(content, TextResourceContents)
    assert content.text.startswith("# ") and "return" in content.text.lower()


async def test_an_unknown_document_is_a_resource_not_found_error(gateway: Gateway) -> None:
    async with mcp_client(gateway, gateway.token("acme"), "legacy") as client:
        with pytest.raises(MCPError) as refused:
            await client.read_resource("kb://documents/no-such-document")
        with pytest.raises(MCPError) as foreign:
            await client.read_resource("file:///etc/passwd")
    assert "no-such-document" in refused.value.error.message
    # One code for a missing resource, wherever it is found missing: invalid params (SEP-2164).
    assert refused.value.error.code == foreign.value.error.code == -32602


async def test_another_tenant_lists_and_reads_its_own_documents_under_the_same_uris(gateway: Gateway) -> None:
    async with mcp_client(gateway, gateway.token("globex"), "legacy") as client:
        listed = (await client.list_resources()).resources
        read = await client.read_resource(DOCUMENT)
    assert listed and all((resource.title or "").startswith("Globex") for resource in listed)
    content = read.contents[0]
    assert isinstance(content, TextResourceContents) and content.text.startswith("# Globex")


@pytest.mark.parametrize("mode", ERAS)
async def test_prompts_are_the_tenants_agents_and_the_prompts_of_its_tools(
    gateway: Gateway, mode: str
) -> None:
    async with mcp_client(gateway, gateway.token("acme"), mode) as client:
        names = {prompt.name for prompt in (await client.list_prompts()).prompts}
        agent = await client.get_prompt("debt", {"question": "Ai còn nợ?", "language": "vi"})
        # Without a language the answer is asked for in the question's, accented or not.
        unaccented = await client.get_prompt("debt", {"question": "Cong no MST 3428557611 la bao nhieu?"})
        english = await client.get_prompt("debt", {"question": "What does 3428557611 owe?"})
        server = await client.get_prompt("erp__get_customer_debt", {"mst": ACME_MST, "language": "vi"})
    assert {"debt", "shipment", "erp__get_customer_debt", "erp__track_shipment"} <= names
    agent_text = agent.messages[0].content.text  # type: ignore[union-attr]
    assert "debt" in agent_text and "erp__get_customer_debt" in agent_text
    assert agent_text.endswith("Trả lời bằng tiếng Việt.\n\nAi còn nợ?")
    assert "Trả lời bằng tiếng Việt." in unaccented.messages[0].content.text  # type: ignore[union-attr]
    assert "Answer in English." in english.messages[0].content.text  # type: ignore[union-attr]
    assert server.messages[0].content.text.startswith(f"Công nợ của khách hàng có MST {ACME_MST}")  # type: ignore[union-attr]


async def test_another_tenant_gets_only_the_prompts_of_tools_its_policy_allows(gateway: Gateway) -> None:
    async with mcp_client(gateway, gateway.token("globex"), "legacy") as client:
        names = {prompt.name for prompt in (await client.list_prompts()).prompts}
        with pytest.raises(MCPError):
            await client.get_prompt("erp__track_shipment", {"shipment_id": "SH-1042"})
    assert "erp__get_customer_debt" in names
    assert "erp__track_shipment" not in names


@pytest.mark.parametrize("mode", ERAS)
async def test_arguments_complete_from_the_tenants_erp_knowledge_and_examples(
    gateway: Gateway, mode: str
) -> None:
    debt = PromptReference(type="ref/prompt", name="erp__get_customer_debt")
    async with mcp_client(gateway, gateway.token("acme"), mode) as client:
        msts = (await client.complete(debt, {"name": "mst", "value": ACME_MST[:4]})).completion
        documents = (await client.complete(TEMPLATE, {"name": "document_id", "value": "ret"})).completion
        question = PromptReference(type="ref/prompt", name="debt")
        examples = (await client.complete(question, {"name": "question", "value": "công nợ"})).completion
    assert ACME_MST in msts.values and all(value.startswith(ACME_MST[:4]) for value in msts.values)
    assert documents.values == ["return-policy"]
    assert examples.values and all("công nợ" in value.lower() for value in examples.values)


async def test_another_tenants_msts_complete_from_its_own_erp(gateway: Gateway) -> None:
    debt = PromptReference(type="ref/prompt", name="erp__get_customer_debt")
    async with mcp_client(gateway, gateway.token("globex"), "legacy") as client:
        completion = (await client.complete(debt, {"name": "mst", "value": ""})).completion
    assert completion.values and ACME_MST not in completion.values


async def test_an_ingestion_reports_its_progress_through_the_gateway(gateway: Gateway) -> None:
    steps: list[tuple[float, float | None, str | None]] = []

    async def progress(done: float, total: float | None, message: str | None) -> None:
        steps.append((done, total, message))

    text = "# Progress\n\n" + "\n\n".join(f"Paragraph {n} about returns and refunds." for n in range(200))
    token = gateway.token("acme", "ada", ["tenant_admin"])
    async with mcp_client(gateway, token, "legacy") as client:
        result = await client.call_tool(
            "rag__ingest_text", {"title": "Progress", "text": text}, progress_callback=progress
        )
    assert not result.is_error, result
    done = [step[0] for step in steps]
    assert len(steps) >= 3 and done == sorted(done) and len(set(done)) == len(done)
    assert all(step[1] == 100.0 for step in steps)
    assert any("embedding" in (step[2] or "") for step in steps)


async def test_capabilities_are_those_a_stateless_endpoint_can_keep(gateway: Gateway) -> None:
    async with mcp_client(gateway, gateway.token("acme"), "legacy") as client:
        capabilities = client.server_capabilities
        assert await client.set_logging_level("warning") is not None
        tools = (await client.list_tools()).tools
    assert capabilities is not None
    assert capabilities.logging is not None and capabilities.completions is not None
    assert capabilities.tools and capabilities.tools.list_changed is False
    assert capabilities.prompts and capabilities.prompts.list_changed is False
    assert capabilities.resources and capabilities.resources.list_changed is False
    for tool in tools:
        hints = tool.annotations
        assert hints is not None and tool.title, tool.name
        assert None not in (
            hints.read_only_hint,
            hints.destructive_hint,
            hints.idempotent_hint,
            hints.open_world_hint,
        ), tool.name


def run_js(*args: str) -> dict[str, Any]:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("Node.js and npm are needed for the TypeScript MCP client")
    if not (JS_DIR / "node_modules" / "@modelcontextprotocol" / "sdk").exists():
        installed = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"], cwd=JS_DIR, capture_output=True, text=True, timeout=300
        )
        assert installed.returncode == 0, installed.stderr[-500:]
    finished = subprocess.run(
        [node, str(JS_DIR / "mcp_client.mjs"), *args], capture_output=True, text=True, timeout=120
    )
    assert finished.returncode == 0, finished.stderr
    return json.loads(finished.stdout)  # type: ignore[no-any-return]


def test_the_typescript_sdk_reads_prompts_completions_and_progress(gateway: Gateway) -> None:
    token = gateway.token("acme", "ada", ["tenant_admin"])
    features = run_js("features", f"{gateway.url}/mcp", token, DOCUMENT, ACME_MST[:4])
    assert features["capabilities"]["completions"] == {}
    assert DOCUMENT in features["resources"]
    assert features["read"].startswith("# ")
    assert "debt" in features["prompts"] and "erp__get_customer_debt" in features["prompts"]
    assert ACME_MST in features["completion"]
    assert features["logging"] == {}
    assert len(features["progress"]) >= 3
    assert features["ingest"]["isError"] is not True


@pytest.mark.parametrize("mode", ERAS)
async def test_a_cursor_the_server_never_issued_is_an_invalid_params_error(
    gateway: Gateway, mode: str
) -> None:
    async with mcp_client(gateway, gateway.token("acme"), mode) as client:
        assert (await client.list_tools()).next_cursor is None  # lists come whole
        for listing in (client.list_tools, client.list_prompts, client.list_resources):
            with pytest.raises(MCPError) as refusal:
                await listing(cursor="garbage", cache_mode="bypass")
            assert refusal.value.error.code == -32602
            assert "invalid cursor 'garbage'" in refusal.value.error.message
