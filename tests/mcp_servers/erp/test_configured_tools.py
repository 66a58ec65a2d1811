"""Configured tools against a scripted ERP on loopback: requests, auth modes, caps, error mapping
and the outbound guard.

The ERP server runs in-process (the SDK client connects to it directly, as a local tenant would
over stdio); the ERP it calls is a real HTTP server on a loopback port, the ERP API the server is
configured with (so the platform's own endpoint, allowed by its origin).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp_types import CallToolResult

from agentmesh.db import create_engine, session_factory, upgrade_database
from agentmesh.keys import MESH_JWKS_FILE
from agentmesh.mesh_tokens import MeshJwks, verify_identity_token
from agentmesh.outbound import AllowList, OutboundGuard
from agentmesh.secrets import secret_box
from mcp_servers.common.bootstrap import ServeOptions
from mcp_servers.common.errors import ERROR_META_KEY
from mcp_servers.common.results import FORWARDS_USER_TOKEN_META_KEY, TENANT_META_KEY
from mcp_servers.erp.credentials import ServiceCredentialStore
from mcp_servers.erp.demo_runtime import serve_on_loopback
from mcp_servers.erp.forwarding import ForwardingRefused, UserTokenForwarding
from mcp_servers.erp.server import build_server
from mcp_servers.erp.tool_store import ToolConfigStore
from tests.mcp_servers.erp.conftest import ScriptedUpstream, debtors, expected_debt, settings_for
from tests.support.mcp import http_client, mesh_token
from tests.support.resolver import StaticResolver

ANY_ARGUMENTS = {"type": "object", "properties": {}}


def tool(name: str, url: str, **changes: Any) -> dict[str, Any]:
    return {"name": name, "description": f"test tool {name}", "method": "GET", "url": url} | {
        "input_schema": ANY_ARGUMENTS,
        **changes,
    }


@contextlib.asynccontextmanager
async def erp_with(
    data_dir: Path,
    tools: list[dict[str, Any]],
    *,
    tenant_tools: dict[str, list[dict[str, Any]]] | None = None,
    credentials: dict[tuple[str, str], str] | None = None,
    resolver: StaticResolver | None = None,
    user_token_for: tuple[str | None] | tuple[()] = (),
    forward_to_upstream: bool = False,
    **settings_changes: Any,
) -> AsyncIterator[tuple[Client, ScriptedUpstream]]:
    """The ERP server for tenant acme, with `tools` stored, calling a scripted upstream (its
    configured ERP API); `resolver` answers the outbound guard's DNS lookups.

    `user_token_for=(token,)` serves it over HTTP to a client holding a mesh token that carries
    `token` (None: none); `forward_to_upstream` lets tools forward users' tokens to the upstream."""
    upstream = ScriptedUpstream()
    resolver = resolver or StaticResolver()
    async with serve_on_loopback(upstream.app()) as upstream_url:
        if forward_to_upstream:
            settings_changes["AGENTMESH_FORWARD_USER_TOKEN_TO"] = upstream_url
        settings = settings_for(data_dir, AGENTMESH_ERP_API_URL=upstream_url, **settings_changes)
        engine = create_engine(settings.resolved_database_url)
        await upgrade_database(engine)
        # What the admin API did when the tools were saved: public destinations only.
        store = ToolConfigStore(session_factory(engine), outbound=OutboundGuard(AllowList(), resolver))
        for config in tools:
            await store.create(None, config)
        for owner, configs in (tenant_tools or {}).items():
            for config in configs:
                await store.create(owner, config)
        secrets = ServiceCredentialStore(session_factory(engine), secret_box(settings))
        for (owner, name), value in (credentials or {}).items():
            await secrets.put(owner, name, value)
        await engine.dispose()
        if not user_token_for:
            server = build_server(
                settings, ServeOptions(transport="stdio", local_tenant="acme"), resolver=resolver
            )
            async with Client(server) as client:
                yield client, upstream
            return
        # Over HTTP, as the host calls it: the caller is the mesh token, with the user's own token
        # in it when the host sends one.
        server = build_server(settings, ServeOptions(transport="http"), resolver=resolver)
        app = server.streamable_http_app(streamable_http_path="/mcp", host="127.0.0.1")
        token = mesh_token(
            settings, "erp", tools=[config["name"] for config in tools], user_token=user_token_for[0]
        )
        async with serve_on_loopback(app) as url, http_client(f"{url}/mcp", token) as client:
            yield client, upstream


def error_of(result: CallToolResult) -> dict[str, Any]:
    assert result.is_error, result.content
    assert result.meta is not None
    return dict(result.meta[ERROR_META_KEY])


def text_of(result: CallToolResult) -> str:
    return str(result.content[0].text)  # type: ignore[union-attr]


async def test_arguments_go_to_the_path_query_or_json_body(tmp_path: Path) -> None:
    item: dict[str, Any] = {
        "type": "object",
        "required": ["item"],
        "properties": {"item": {"type": "string"}},
    }
    tools = [
        tool(
            "lookup",
            "/ok/{item}",
            input_schema=item | {"properties": {**item["properties"], "n": {"type": "integer"}}},
        ),
        tool("submit", "/ok", method="POST", destructive=True),
    ]
    async with erp_with(tmp_path, tools) as (client, _):
        looked_up = await client.call_tool("lookup", {"item": "a b", "n": 3})
        submitted = await client.call_tool("submit", {"lines": [{"sku": "X", "quantity": 1}]})
        traversal = await client.call_tool("lookup", {"item": ".."})
    assert looked_up.structured_content is not None
    assert looked_up.structured_content["path"] == "/ok/a b"
    assert looked_up.structured_content["query"] == {"n": "3"}
    assert submitted.structured_content is not None
    assert submitted.structured_content["body"] == {"lines": [{"sku": "X", "quantity": 1}]}
    assert error_of(traversal)["code"] == "invalid_arguments"


async def test_each_auth_mode_sends_what_it_promises(tmp_path: Path) -> None:
    tools = [
        tool("anonymous", "/ok"),
        tool("as_service", "/ok", auth={"mode": "service", "credential": "erp"}),
        tool(
            "as_bearer",
            "/ok",
            auth={"mode": "service", "credential": "erp", "header": "Authorization", "scheme": "Bearer"},
        ),
        tool("as_user", "/ok", auth={"mode": "user"}),
        tool("as_user_elsewhere", "/ok", auth={"mode": "user", "audience": "https://crm.acme.example"}),
        tool("missing_credential", "/ok", auth={"mode": "service", "credential": "other"}),
    ]
    credentials = {("acme", "erp"): "acme-secret", ("globex", "other"): "globex-secret"}
    async with erp_with(tmp_path, tools, credentials=credentials) as (client, upstream):
        await client.call_tool("anonymous", {})
        anonymous = {k.lower() for k in upstream.last_headers}
        await client.call_tool("as_service", {})
        service = dict(upstream.last_headers)
        await client.call_tool("as_bearer", {})
        bearer = dict(upstream.last_headers)
        await client.call_tool("as_user", {})
        user = dict(upstream.last_headers)
        await client.call_tool("as_user_elsewhere", {})
        elsewhere = dict(upstream.last_headers)
        missing = await client.call_tool("missing_credential", {})
    assert not anonymous & {"x-api-key", "authorization", "x-agentmesh-user", "x-agentmesh-tenant"}
    assert service["x-api-key"] == "acme-secret"
    assert bearer["authorization"] == "Bearer acme-secret"
    # The user goes as a signed identity token for the ERP API, never as headers anyone could write.
    assert not user.keys() & {"x-api-key", "x-agentmesh-user", "x-agentmesh-tenant"}
    jwks = MeshJwks(file=settings_for(tmp_path).keys_dir / MESH_JWKS_FILE)
    scheme, _, token = user["authorization"].partition(" ")
    claims = verify_identity_token(token, jwks=jwks, issuer="agentmesh-host", audience="agentmesh-erp-api")
    assert (scheme, claims.sub, claims.tenant_id) == ("Bearer", "local", "acme")
    assert claims.exp - claims.iat <= 60
    other = elsewhere["authorization"].removeprefix("Bearer ")
    assert verify_identity_token(
        other, jwks=jwks, issuer="agentmesh-host", audience="https://crm.acme.example"
    )
    assert error_of(missing)["code"] == "credential_missing", "globex's credential is never used for acme"
    assert "tenant 'acme' has no service credential 'other'" in text_of(missing)


FORWARDED = [tool("my_crm_profile", "/ok", auth={"mode": "forward"})]


async def test_forward_sends_the_users_own_token_to_a_listed_upstream(tmp_path: Path) -> None:
    async with erp_with(
        tmp_path, FORWARDED, user_token_for=("alice-own-token",), forward_to_upstream=True
    ) as (client, upstream):
        (listed,) = [tool for tool in (await client.list_tools()).tools if tool.name == "my_crm_profile"]
        result = await client.call_tool("my_crm_profile", {})
    assert not result.is_error, text_of(result)
    assert upstream.last_headers["authorization"] == "Bearer alice-own-token"
    assert listed.meta is not None and listed.meta[FORWARDS_USER_TOKEN_META_KEY] is True


async def test_forward_without_the_users_token_or_to_an_unlisted_upstream_sends_nothing(
    tmp_path: Path,
) -> None:
    async with erp_with(tmp_path / "a", FORWARDED, user_token_for=(None,), forward_to_upstream=True) as (
        client,
        upstream,
    ):
        tokenless = await client.call_tool("my_crm_profile", {})
        tokenless_hits = upstream.hits["ok"]
    async with erp_with(tmp_path / "b", FORWARDED, user_token_for=("alice-own-token",)) as (client, upstream):
        unlisted = await client.call_tool("my_crm_profile", {})
        unlisted_hits = upstream.hits["ok"]
    assert error_of(tokenless)["code"] == "user_token_unavailable" and tokenless_hits == 0
    assert error_of(unlisted)["code"] == "invalid_tool_config" and unlisted_hits == 0
    assert "AGENTMESH_FORWARD_USER_TOKEN_TO" in text_of(unlisted)


async def test_a_forward_tool_is_saved_only_for_a_listed_upstream(tmp_path: Path) -> None:
    engine = create_engine(settings_for(tmp_path).resolved_database_url)
    await upgrade_database(engine)
    guard = OutboundGuard(AllowList(), StaticResolver({"crm.acme.example": ["93.184.216.34"]}))

    def store(*origins: str) -> ToolConfigStore:
        forwarding = UserTokenForwarding(origins, erp_api_url=None)
        return ToolConfigStore(session_factory(engine), outbound=guard, forwarding=forwarding)

    crm_tool = tool("crm_profile", "https://crm.acme.example/me", auth={"mode": "forward"})
    with pytest.raises(ForwardingRefused, match=r"crm\.acme\.example"):
        await store("https://elsewhere.example").create("acme", crm_tool)
    with pytest.raises(ForwardingRefused, match="embedded ERP API"):  # relative URL, no ERP API set
        await store("https://crm.acme.example").create(
            "acme", tool("relative", "/me", auth={"mode": "forward"})
        )
    saved = await store("https://CRM.acme.example").create("acme", crm_tool)
    await engine.dispose()
    assert saved.config.auth.mode == "forward"


async def test_upstream_404_is_a_clear_not_found(tmp_path: Path) -> None:
    number = {"type": "object", "required": ["number"], "properties": {"number": {"type": "string"}}}
    async with erp_with(tmp_path, [tool("get_invoice", "/invoices/{number}", input_schema=number)]) as (
        client,
        up,
    ):
        result = await client.call_tool("get_invoice", {"number": "INV-9"})
    assert text_of(result) == "Not found: no invoice INV-9"
    assert error_of(result) == {"code": "not_found", "retryable": False, "details": {"status": 404}}
    assert up.hits["missing"] == 1, "a 404 is an answer, not a failure to retry"


async def test_upstream_5xx_is_retryable_and_a_read_only_tool_is_retried(tmp_path: Path) -> None:
    async with erp_with(tmp_path, [tool("flaky_read", "/broken", max_retries=2)]) as (client, upstream):
        result = await client.call_tool("flaky_read", {})
    assert "The ERP failed (HTTP 503): database is down" in text_of(result)
    assert "retryable" in text_of(result)
    assert error_of(result)["retryable"] is True
    assert error_of(result)["code"] == "upstream_unavailable"
    assert upstream.hits["broken"] == 3, "the first attempt and two retries"


async def test_a_destructive_tool_is_sent_once_and_its_failure_says_to_check(tmp_path: Path) -> None:
    write = tool("flaky_write", "/broken", method="POST", destructive=True)
    async with erp_with(tmp_path, [write]) as (client, upstream):
        result = await client.call_tool("flaky_write", {"note": "once"})
    assert upstream.hits["broken"] == 1
    assert error_of(result)["retryable"] is False
    assert "flaky_write changes data and was not retried" in text_of(result)


async def test_a_timeout_is_a_clear_error(tmp_path: Path) -> None:
    tools = [
        tool("slow_read", "/slow", timeout_seconds=0.3, max_retries=0),
        tool("slow_write", "/slow", method="POST", destructive=True, timeout_seconds=0.3),
    ]
    async with erp_with(tmp_path, tools) as (client, _):
        read = await client.call_tool("slow_read", {})
        write = await client.call_tool("slow_write", {})
    assert text_of(read) == (
        "The ERP did not answer within 0.3 s."
        " This is a temporary failure (retryable): trying again later may succeed."
    )
    assert error_of(read) == {"code": "timeout", "retryable": True}
    assert error_of(write)["retryable"] is False
    assert "check whether it took effect" in text_of(write)


async def test_payloads_are_capped_at_100_kb_each_way(tmp_path: Path) -> None:
    tools = [tool("big_answer", "/big"), tool("big_request", "/ok", method="POST", destructive=True)]
    async with erp_with(tmp_path, tools) as (client, upstream):
        answer = await client.call_tool("big_answer", {})
        request = await client.call_tool("big_request", {"note": "x" * (101 * 1024)})
        small = await client.call_tool("big_request", {"note": "x" * (90 * 1024)})
    assert error_of(answer)["code"] == "too_large"
    assert "the limit is 100.0 KB" in text_of(answer)
    assert error_of(request)["code"] == "too_large"
    assert "the request to the ERP would be" in text_of(request)
    assert not small.is_error
    assert upstream.hits["ok"] == 1, "the oversized request was never sent"


async def test_answers_that_are_not_what_the_tool_declares_are_refused(tmp_path: Path) -> None:
    declared = {"type": "object", "required": ["total"], "properties": {"total": {"type": "integer"}}}
    tools = [
        tool("html", "/not-json"),
        tool("shape", "/wrong-shape", output_schema=declared),
        tool("rejected", "/rejects", method="POST", destructive=True),
        tool("denied", "/denied"),
    ]
    async with erp_with(tmp_path, tools) as (client, _):
        html = await client.call_tool("html", {})
        shape = await client.call_tool("shape", {})
        rejected = await client.call_tool("rejected", {})
        denied = await client.call_tool("denied", {})
    assert error_of(html)["code"] == "bad_upstream_response"
    assert error_of(shape)["code"] == "bad_upstream_response"
    assert "total: 'a lot' is not of type 'integer'" in text_of(shape)
    assert text_of(rejected) == "The ERP rejected the request (HTTP 422): quantity must be positive"
    assert error_of(denied)["code"] == "upstream_unauthorized"


async def test_another_tenants_tool_is_neither_listed_nor_callable(tmp_path: Path) -> None:
    tenant_tools = {"globex": [tool("globex_report", "/ok")], "acme": [tool("acme_report", "/ok")]}
    async with erp_with(tmp_path, [], tenant_tools=tenant_tools) as (client, upstream):
        listed = {t.name: t for t in (await client.list_tools()).tools}
        refused = await client.call_tool("globex_report", {})
        allowed = await client.call_tool("acme_report", {})
    assert "globex_report" not in listed
    assert listed["acme_report"].meta is not None
    assert listed["acme_report"].meta[TENANT_META_KEY] == "acme"
    assert TENANT_META_KEY not in (listed["get_customer_debt"].meta or {})
    assert text_of(refused) == "tool 'globex_report' is not available to tenant 'acme'"
    assert error_of(refused)["code"] == "tool_not_found"
    assert not allowed.is_error
    assert upstream.hits["ok"] == 1


async def test_tools_list_carries_annotations_schemas_and_render_hints(tmp_path: Path) -> None:
    async with erp_with(tmp_path, []) as (client, _):
        tools = {t.name: t for t in (await client.list_tools()).tools}
    debt, order = tools["get_customer_debt"], tools["create_order"]
    assert debt.annotations is not None and order.annotations is not None
    assert debt.annotations.read_only_hint is True and debt.annotations.destructive_hint is False
    assert order.annotations.read_only_hint is False and order.annotations.destructive_hint is True
    assert debt.output_schema is not None and "outstanding" in debt.output_schema["properties"]
    assert debt.input_schema["required"] == ["mst"]
    assert debt.meta is not None
    assert debt.meta["io.agentmesh/render"]["format"] == "summary_text"
    assert tools["get_payment_history"].meta["io.agentmesh/render"]["rows"] == "payments"  # type: ignore[index]


async def test_an_absolute_url_that_turned_private_is_refused_when_called(tmp_path: Path) -> None:
    # Saved while partner.example.com resolved to a public address; at call time DNS answers
    # with loopback, where the scripted ERP listens: the connection is refused, nothing is sent.
    resolver = StaticResolver({"partner.example.com": ["93.184.216.34"]})
    async with contextlib.AsyncExitStack() as stack:
        other = ScriptedUpstream()
        other_url = await stack.enter_async_context(serve_on_loopback(other.app()))
        port = other_url.rsplit(":", 1)[1]
        partner = tool("partner", f"http://partner.example.com:{port}/ok")
        client, _ = await stack.enter_async_context(erp_with(tmp_path, [partner], resolver=resolver))
        resolver.answer("partner.example.com", "127.0.0.1")
        refused = await client.call_tool("partner", {})
    assert error_of(refused)["code"] == "blocked_destination"
    assert "partner.example.com resolves to 127.0.0.1, a loopback address" in text_of(refused)
    assert other.hits["ok"] == 0


async def test_the_platform_allow_list_lets_a_private_upstream_through(tmp_path: Path) -> None:
    resolver = StaticResolver({"erp2.corp.example": ["93.184.216.34"]})
    async with contextlib.AsyncExitStack() as stack:
        other = ScriptedUpstream()
        other_url = await stack.enter_async_context(serve_on_loopback(other.app()))
        port = other_url.rsplit(":", 1)[1]
        second = tool("second_erp", f"http://erp2.corp.example:{port}/ok")
        allowed = f"erp2.corp.example:{port}"
        client, _ = await stack.enter_async_context(
            erp_with(tmp_path, [second], resolver=resolver, AGENTMESH_OUTBOUND_ALLOW=allowed)
        )
        resolver.answer("erp2.corp.example", "127.0.0.1")  # the company's second ERP, on its network
        called = await client.call_tool("second_erp", {})
    assert not called.is_error, text_of(called)
    assert other.hits["ok"] == 1


async def test_the_demo_erp_answers_a_user_tool_from_the_signed_identity_alone(
    tmp_path: Path, demo_data: dict[str, Any]
) -> None:
    # The ERP server signs who calls; the demo ERP (in-process, no AGENTMESH_ERP_API_URL) verifies
    # it against the mesh keys and answers from that tenant's rows; no API key is involved.
    mst = debtors(demo_data, "acme")[0]
    settings = settings_for(tmp_path)
    engine = create_engine(settings.resolved_database_url)
    await upgrade_database(engine)
    as_user = tool(
        "debt_as_user",
        "/customers/{mst}/debt",
        auth={"mode": "user"},
        input_schema={"type": "object", "required": ["mst"], "properties": {"mst": {"type": "string"}}},
    )
    await ToolConfigStore(session_factory(engine), outbound=OutboundGuard(AllowList())).create(None, as_user)
    await engine.dispose()
    server = build_server(settings, ServeOptions(transport="stdio", local_tenant="acme"))
    async with Client(server) as client:
        result = await client.call_tool("debt_as_user", {"mst": mst})
    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    outstanding, overdue = expected_debt(demo_data, "acme", mst)
    assert (result.structured_content["outstanding"], result.structured_content["overdue"]) == (
        outstanding,
        overdue,
    )
