"""The gateway's `/mcp`: one MCP server per tenant, made of exactly the tools that tenant may use.

A real ERP server and a real web search server run behind the gateway; the MCP SDK's own
`Client` connects with end-user tokens, as an IDE or a desktop assistant would.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import anyio
import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from agentmesh.dev_tokens import issue_dev_token
from agentmesh.settings import Settings, load_settings
from mcp_servers.common.errors import ERROR_META_KEY
from tests.support.gateway import running_gateway
from tests.support.processes import running_server

pytestmark = pytest.mark.slow

ACME_MST = "3428557611"
GLOBEX_MST = "3703003802"
GLOBEX_TOOLS = {"erp__get_customer_debt", "erp__get_payment_history", "erp__list_overdue_customers"}
ERROR_META = ERROR_META_KEY
ACCEPT = "application/json, text/event-stream"


@dataclass
class Gateway:
    url: str
    settings: Settings

    @property
    def mcp_url(self) -> str:
        return f"{self.url}/mcp"

    def token(self, tenant: str, user: str = "alice", roles: list[str] | None = None) -> str:
        return issue_dev_token(self.settings, tenant_id=tenant, user=user, roles=roles)

    def admin_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token('platform', 'root', ['platform_admin'])}"}

    async def admin(self, method: str, path: str, body: object = None) -> httpx.Response:
        async with httpx.AsyncClient(base_url=self.url, headers=self.admin_headers(), timeout=30) as http:
            return await http.request(method, path, json=body)


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    data_dir = tmp_path_factory.mktemp("mcp-endpoint")
    settings = load_settings(AGENTMESH_DATA_DIR=data_dir)
    with (
        running_server("erp", data_dir) as erp_url,
        running_server("search", data_dir) as search_url,
        running_gateway(settings, {"erp": erp_url, "search": search_url}) as url,
    ):
        yield Gateway(url, settings)


@contextlib.asynccontextmanager
async def mcp_client(
    gateway: Gateway, tenant: str, *, mode: str = "auto", **headers: str
) -> AsyncIterator[Client]:
    all_headers = {"Authorization": f"Bearer {gateway.token(tenant)}", **headers}
    async with (
        httpx2.AsyncClient(headers=all_headers, timeout=60.0) as http,
        Client(streamable_http_client(gateway.mcp_url, http_client=http), mode=mode) as client,
    ):
        yield client


async def tool_names(gateway: Gateway, tenant: str) -> set[str]:
    async with mcp_client(gateway, tenant) as client:
        return {tool.name for tool in (await client.list_tools()).tools}


async def test_a_tenant_sees_every_tool_its_policy_allows_across_servers(gateway: Gateway) -> None:
    names = await tool_names(gateway, "acme")
    assert {
        "erp__get_customer_debt",
        "erp__track_shipment",
        "search__fetch_page",
        "search__web_search",
    } <= names
    assert all(name.startswith(("erp__", "search__")) for name in names)


async def test_another_tenant_sees_only_what_its_policy_grants(gateway: Gateway) -> None:
    assert await tool_names(gateway, "globex") == GLOBEX_TOOLS


async def test_tools_keep_their_schemas_and_annotations(gateway: Gateway) -> None:
    async with mcp_client(gateway, "acme") as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    debt = tools["erp__get_customer_debt"]
    assert debt.input_schema["properties"]["mst"]["pattern"]
    assert debt.input_schema["required"] == ["mst"]
    assert debt.output_schema is not None and "outstanding" in debt.output_schema["properties"]
    assert debt.annotations is not None and debt.annotations.read_only_hint is True
    order = tools["erp__create_order"]
    assert order.annotations is not None and order.annotations.destructive_hint is True


async def test_a_call_is_proxied_to_the_server_as_the_tenant_and_audited(gateway: Gateway) -> None:
    async with mcp_client(gateway, "acme") as client:
        result = await client.call_tool("erp__get_customer_debt", {"mst": ACME_MST})
    assert not result.is_error, result.content
    assert result.structured_content["outstanding"] == 321_330_000
    assert "Evergreen Trading Corporation" in result.content[0].text
    audit = []
    for _ in range(50):  # the host writes audit events in batches
        events = (await gateway.admin("GET", "/api/admin/tenants/acme/audit")).json()["items"]
        audit = [e for e in events if e["resource"] == "erp:get_customer_debt" and e["principal"] == "alice"]
        if audit:
            break
        await anyio.sleep(0.1)
    # One event per call: how it ended, under the rule that allowed it.
    assert [(e["action"], e["effect"]) for e in audit] == [("tool.call", "ok")], audit
    assert audit[0]["rule"].startswith("acme:"), audit


async def test_the_python_sdk_in_handshake_mode_works_too(gateway: Gateway) -> None:
    async with mcp_client(gateway, "globex", mode="legacy") as client:
        listed = {tool.name for tool in (await client.list_tools()).tools}
        result = await client.call_tool("erp__get_customer_debt", {"mst": GLOBEX_MST})
    assert listed == GLOBEX_TOOLS
    assert result.structured_content["customer"]["mst"] == GLOBEX_MST


async def test_a_session_less_client_gets_what_the_sdk_answers(gateway: Gateway) -> None:
    """Handshake-era `tools/list` and `tools/call` without a session take the gateway's lean path;
    their results are the ones the SDK's own entry gives a modern client, errors included."""
    async with mcp_client(gateway, "acme") as client:
        sdk_tools = (await client.list_tools()).model_dump(by_alias=True, mode="json", exclude_none=True)
        sdk_call = await client.call_tool("erp__get_customer_debt", {"mst": ACME_MST})
        sdk_refusal = await client.call_tool("erp__no_such_tool", {})
    headers = {
        "Authorization": f"Bearer {gateway.token('acme')}",
        "Accept": ACCEPT,
        "MCP-Protocol-Version": "2025-11-25",
    }

    async with httpx.AsyncClient(headers=headers, timeout=30) as http:

        async def rpc(request_id: int | str, method: str, params: object = None) -> dict[str, object]:
            body: dict[str, object] = {"jsonrpc": "2.0", "id": request_id, "method": method}
            if params is not None:
                body["params"] = params
            response = await http.post(gateway.mcp_url, json=body)
            assert response.status_code == 200 and response.headers["content-type"] == "application/json"
            answer = response.json()
            assert answer["id"] == request_id
            return answer

        listed = await rpc(1, "tools/list")
        called = await rpc(
            "call-2", "tools/call", {"name": "erp__get_customer_debt", "arguments": {"mst": ACME_MST}}
        )
        refused = await rpc(3, "tools/call", {"name": "erp__no_such_tool", "arguments": {}})
        malformed = await rpc(4, "tools/call", {"name": "erp__get_customer_debt", "arguments": [1]})

    assert {tool["name"] for tool in listed["result"]["tools"]} == {
        tool["name"] for tool in sdk_tools["tools"]
    }
    assert listed["result"]["tools"] == sdk_tools["tools"]
    assert called["result"]["structuredContent"] == sdk_call.structured_content
    assert called["result"]["content"][0]["text"] == sdk_call.content[0].text
    assert refused["result"]["isError"] is True
    assert refused["result"]["_meta"][ERROR_META] == sdk_refusal.meta[ERROR_META]
    assert malformed["error"]["code"] == -32602


@pytest.mark.parametrize(
    ("tool", "arguments", "code"),
    [
        ("erp__create_order", {"mst": GLOBEX_MST, "items": [{"sku": "ACM-0001", "quantity": 1}]}, "denied"),
        ("erp__track_shipment", {"shipment_id": "SH-2001"}, "denied"),
        ("search__web_search", {"query": "vat"}, "denied"),
        ("erp__no_such_tool", {}, "tool_not_found"),
        ("nonsense", {}, "tool_not_found"),
    ],
)
async def test_a_tool_outside_the_tenants_catalog_is_refused(
    gateway: Gateway, tool: str, arguments: dict[str, object], code: str
) -> None:
    async with mcp_client(gateway, "globex") as client:
        result = await client.call_tool(tool, arguments)
    assert result.is_error
    assert result.meta is not None and result.meta[ERROR_META]["code"] == code
    if tool == "erp__no_such_tool":  # named as the client named it, not as policies do
        assert result.content[0].text == "no tool 'erp__no_such_tool' is available"  # type: ignore[union-attr]


async def test_a_tool_under_approval_cannot_be_called_without_a_person(gateway: Gateway) -> None:
    async with mcp_client(gateway, "acme") as client:
        result = await client.call_tool(
            "erp__create_order", {"mst": ACME_MST, "items": [{"sku": "ACM-0001", "quantity": 1}]}
        )
    assert result.is_error and result.meta[ERROR_META]["code"] == "approval_required"


async def test_a_tenants_own_tool_is_listed_and_callable_for_it_alone(gateway: Gateway) -> None:
    tool = {
        "name": "get_customer_card",
        "description": "The customer's master data by MST.",
        "method": "GET",
        "url": "/customers/{mst}",
        "input_schema": {"type": "object", "required": ["mst"], "properties": {"mst": {"type": "string"}}},
        "auth": {"mode": "service", "credential": "demo-erp", "header": "X-API-Key"},
    }
    created = await gateway.admin("POST", "/api/admin/tenants/acme/erp/tools", tool)
    assert created.status_code == 201 and created.json()["live"] is True, created.text
    assert "erp__get_customer_card" in await tool_names(gateway, "acme")
    async with mcp_client(gateway, "acme") as client:
        mine = await client.call_tool("erp__get_customer_card", {"mst": ACME_MST})
    assert not mine.is_error and "Evergreen" in mine.content[0].text
    assert "erp__get_customer_card" not in await tool_names(gateway, "globex")
    async with mcp_client(gateway, "globex") as client:
        theirs = await client.call_tool("erp__get_customer_card", {"mst": GLOBEX_MST})
    assert theirs.is_error and theirs.meta[ERROR_META]["code"] == "tool_not_found"


async def test_tool_calls_share_the_gateways_rate_limit(gateway: Gateway) -> None:
    await gateway.admin("POST", "/api/admin/tenants", {"id": "initech", "name": "Initech"})
    policy = {
        "tenant": "initech",
        "tools": {"allow": ["erp:get_customer_debt"]},
        # One listing (the one that sees the policy applied) and two calls; the third call is over.
        "limits": {"requests_per_minute": 3},
    }
    assert (await gateway.admin("PUT", "/api/admin/tenants/initech/policy", policy)).status_code == 200
    async with mcp_client(gateway, "initech") as client:
        for _ in range(50):  # the policy reaches the gateway's in-process view within a second or so
            if {t.name for t in (await client.list_tools()).tools} == {"erp__get_customer_debt"}:
                break
            await anyio.sleep(0.1)
        results = [await client.call_tool("erp__get_customer_debt", {"mst": ACME_MST}) for _ in range(3)]
    codes = [(result.meta or {}).get(ERROR_META, {}).get("code") for result in results]
    assert codes[-1] == "rate_limited" and "rate_limited" not in codes[:2], codes
    assert results[-1].meta[ERROR_META]["details"]["retry_after_seconds"] >= 1
    assert "retry in" in results[-1].content[0].text


def test_no_token_is_401_pointing_at_the_resource_metadata(gateway: Gateway) -> None:
    response = httpx.post(gateway.mcp_url, json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
    assert response.status_code == 401
    challenge = response.headers["WWW-Authenticate"]
    assert challenge == f'Bearer resource_metadata="{gateway.url}/.well-known/oauth-protected-resource/mcp"'
    assert response.json()["error"]["code"] == "unauthorized"


def test_a_bad_token_is_401_with_invalid_token(gateway: Gateway) -> None:
    response = httpx.post(
        gateway.mcp_url,
        json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        headers={"Authorization": "Bearer not-a-jwt"},
    )
    assert response.status_code == 401
    challenge = response.headers["WWW-Authenticate"]
    assert 'error="invalid_token"' in challenge and "resource_metadata=" in challenge


def test_a_tenant_header_that_contradicts_the_token_is_403(gateway: Gateway) -> None:
    response = httpx.post(
        gateway.mcp_url,
        json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        headers={"Authorization": f"Bearer {gateway.token('acme')}", "X-Tenant-ID": "globex"},
    )
    assert response.status_code == 403 and response.json()["error"]["code"] == "tenant_mismatch"


@pytest.mark.parametrize(
    "path", ["/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"]
)
def test_protected_resource_metadata_names_the_resource_and_its_token_issuer(
    gateway: Gateway, path: str
) -> None:
    metadata = httpx.get(f"{gateway.url}{path}").json()
    assert metadata["resource"] == gateway.mcp_url
    assert metadata["authorization_servers"] == [gateway.url]
    assert metadata["bearer_methods_supported"] == ["header"]


async def test_a_plain_user_gets_no_tool_that_changes_data_unless_the_policy_names_it(
    gateway: Gateway,
) -> None:
    def headers(roles: list[str]) -> dict[str, str]:
        return {"Authorization": f"Bearer {gateway.token('acme', 'alice', roles)}"}

    async def listed(roles: list[str]) -> set[str]:
        async with (
            httpx2.AsyncClient(headers=headers(roles), timeout=60.0) as http,
            Client(streamable_http_client(gateway.mcp_url, http_client=http)) as client,
        ):
            return {tool.name for tool in (await client.list_tools()).tools}

    user, admin = await listed(["user"]), await listed(["tenant_admin"])
    assert "search__crawl" in admin and "search__crawl" not in user  # a write acme keeps for admins
    assert "erp__create_order" in user  # acme's policy grants it to users (each order approved)
    async with (
        httpx2.AsyncClient(headers=headers(["user"]), timeout=60.0) as http,
        Client(streamable_http_client(gateway.mcp_url, http_client=http)) as client,
    ):
        refused = await client.call_tool("search__crawl", {"url": "https://example.com"})
    assert refused.is_error and refused.meta is not None
    assert refused.meta[ERROR_META]["code"] == "denied"
    assert "tenant_admin" in refused.content[0].text


async def test_a_new_tenant_can_call_nothing_until_an_admin_allows_it(gateway: Gateway) -> None:
    created = await gateway.admin("POST", "/api/admin/tenants", {"id": "freshco", "name": "Freshco"})
    assert created.status_code in (201, 409), created.text
    for roles in (["user"], ["tenant_admin"]):
        async with (
            httpx2.AsyncClient(
                headers={"Authorization": f"Bearer {gateway.token('freshco', 'fay', roles)}"}, timeout=60.0
            ) as http,
            Client(streamable_http_client(gateway.mcp_url, http_client=http)) as client,
        ):
            assert (await client.list_tools()).tools == []
            result = await client.call_tool("erp__create_order", {"mst": ACME_MST, "items": []})
        assert result.is_error and result.meta is not None
        assert result.meta[ERROR_META]["code"] == "denied"


def test_a_token_of_a_tenant_that_does_not_exist_is_refused(gateway: Gateway) -> None:
    response = httpx.post(
        gateway.mcp_url,
        json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        headers={"Authorization": f"Bearer {gateway.token('ghost')}", "Accept": ACCEPT},
    )
    assert response.status_code == 404 and response.json()["error"]["code"] == "unknown_tenant"


@pytest.mark.parametrize(
    ("header", "value", "status", "code"),
    [
        ("Host", "attacker.example:8000", 421, "misdirected_request"),
        ("Origin", "https://attacker.example", 403, "origin_not_allowed"),
    ],
)
def test_a_rebound_host_or_a_foreign_origin_is_refused(
    gateway: Gateway, header: str, value: str, status: int, code: str
) -> None:
    response = httpx.post(
        gateway.mcp_url,
        json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        headers={"Authorization": f"Bearer {gateway.token('acme')}", "Accept": ACCEPT, header: value},
    )
    assert response.status_code == status and response.json()["error"]["code"] == code


@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_there_is_no_stream_or_session_to_open_or_close(gateway: Gateway, method: str) -> None:
    response = httpx.request(
        method,
        gateway.mcp_url,
        headers={"Authorization": f"Bearer {gateway.token('acme')}", "Accept": ACCEPT},
    )
    assert response.status_code == 405 and response.json()["error"]["code"] == "method_not_allowed"


def test_deep_nesting_an_object_id_and_a_batch_are_json_rpc_errors_on_a_connection_that_stays_open(
    gateway: Gateway,
) -> None:
    headers = {
        "Authorization": f"Bearer {gateway.token('acme')}",
        "Accept": ACCEPT,
        "Content-Type": "application/json",
    }
    deep = (
        b'{"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": '
        + b"[" * 50_000
        + b"]" * 50_000
        + b"}"
    )
    with httpx.Client(headers=headers, timeout=30) as http:
        nested = http.post(gateway.mcp_url, content=deep)
        object_id = http.post(
            gateway.mcp_url, json={"jsonrpc": "2.0", "id": {"x": 1}, "method": "tools/list"}
        )
        batch = http.post(gateway.mcp_url, json=[{"jsonrpc": "2.0", "id": 3, "method": "ping"}])
        unknown_version = http.post(
            gateway.mcp_url,
            json={"jsonrpc": "2.0", "id": 4, "method": "ping"},
            headers={"MCP-Protocol-Version": "1999-01-01"},
        )
        # the SDK refuses an unknown header on initialize too; the refusal says why
        newer_client = http.post(
            gateway.mcp_url,
            json={
                "jsonrpc": "2.0",
                "id": 5,
                "method": "initialize",
                "params": {
                    "protocolVersion": "2099-01-01",
                    "capabilities": {},
                    "clientInfo": {"name": "future", "version": "1"},
                },
            },
            headers={"MCP-Protocol-Version": "2099-01-01"},
        )
        fine = http.post(gateway.mcp_url, json={"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
    assert nested.status_code == 400 and nested.json()["error"]["code"] == -32700
    assert object_id.status_code == 400 and object_id.json()["error"]["code"] == -32600
    assert batch.status_code == 400 and batch.json()["error"] == {
        "code": -32600,
        "message": "Invalid Request: batches are not supported; send one message",
    }
    assert unknown_version.status_code == 400
    refused = unknown_version.json()["error"]
    assert refused["code"] == -32600 and refused["message"].startswith(
        "Unsupported protocol version '1999-01-01'; this server speaks 2024-11-05, "
    )
    assert newer_client.status_code == 400
    assert newer_client.json()["error"]["message"].startswith("Unsupported protocol version '2099-01-01'")
    assert fine.status_code == 200 and fine.json()["result"]["tools"]


@pytest.mark.parametrize(
    ("headers", "status"),
    [({"Accept": "text/html"}, 406), ({"Content-Type": "text/plain"}, 400)],
)
def test_the_mcp_layers_own_refusals_are_json(gateway: Gateway, headers: dict[str, str], status: int) -> None:
    response = httpx.post(
        gateway.mcp_url,
        content=b'{"jsonrpc": "2.0", "id": 1, "method": "tools/list"}',
        headers={
            "Authorization": f"Bearer {gateway.token('acme')}",
            "Accept": ACCEPT,
            "Content-Type": "application/json",
            **headers,
        },
    )
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["error"]["message"]


async def test_listing_tools_counts_against_the_rate_limit(gateway: Gateway) -> None:
    await gateway.admin("POST", "/api/admin/tenants", {"id": "listco", "name": "Listco"})
    policy = {
        "tenant": "listco",
        "tools": {"allow": ["erp:get_customer_debt"]},
        "limits": {"requests_per_minute": 2},
    }
    assert (await gateway.admin("PUT", "/api/admin/tenants/listco/policy", policy)).status_code == 200
    headers = {"Authorization": f"Bearer {gateway.token('listco')}", "Accept": ACCEPT}
    request = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    async with httpx.AsyncClient(headers=headers, timeout=30) as http:
        answers = [(await http.post(gateway.mcp_url, json=request)).json() for _ in range(4)]
    refused = [answer["error"] for answer in answers if "error" in answer]
    assert refused and refused[-1]["data"]["code"] == "rate_limited"
    assert refused[-1]["data"]["retry_after_seconds"] >= 1


def test_a_body_over_the_cap_is_told_how_files_travel(gateway: Gateway) -> None:
    headers = {
        "Authorization": f"Bearer {gateway.token('acme')}",
        "Accept": ACCEPT,
        "Content-Type": "application/json",
    }
    call = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": "ocr__ocr_image", "arguments": {"image": "A" * 300_000}},
    }
    refused = httpx.post(gateway.mcp_url, json=call, headers=headers, timeout=30)
    assert refused.status_code == 413
    error = refused.json()["error"]
    assert error["code"] == "too_large"
    assert "POST it to /api/acme/uploads and pass the upload:// reference" in error["message"]
