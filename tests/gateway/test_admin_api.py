"""The admin API: each resource does what it says, validates its input, keeps secrets sealed,
scopes every read and write to the tenant in the path, and leaves an audit record of each change.

These run the gateway without MCP servers; `test_admin_erp_tools_live.py` adds the ERP server.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import anyio
import pytest
from sqlalchemy import create_engine, text
from starlette.testclient import TestClient

from agentmesh.dev_tokens import issue_dev_token
from agentmesh.outbound import AllowList, OutboundGuard
from agentmesh.settings import Settings, load_settings
from gateway.app import create_app
from gateway.servers import ServerNameTaken, ServerRegistry
from gateway.state import GatewayState
from host.usage import Usage
from tests.support.resolver import StaticResolver

ERP_TOOL = {
    "name": "get_invoice",
    "description": "One invoice by its number.",
    "method": "GET",
    "url": "/invoices/{number}",
    "input_schema": {"type": "object", "required": ["number"], "properties": {"number": {"type": "string"}}},
}


DNS = StaticResolver({"intranet.corp.example": ["10.9.8.7"], "search.example.com": ["93.184.216.34"]})
"""The gateway's DNS in these tests: one name inside a private network, one on the internet."""


@pytest.fixture(scope="module")
def module_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    # The loopback "servers" and the SearXNG below are named in the platform's allow list, as an
    # operator would name internal services; nothing else private may be saved.
    return load_settings(
        AGENTMESH_DATA_DIR=tmp_path_factory.mktemp("admin-api"),
        AGENTMESH_OUTBOUND_ALLOW="127.0.0.1:9,searx.internal:8080",
    )


@pytest.fixture(scope="module")
def client(module_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(module_settings, servers={}, resolver=DNS)) as test_client:
        yield test_client


class Callers:
    def __init__(self, settings: Settings) -> None:
        self.platform = self._headers(settings, "platform", "root", "platform_admin")
        self.acme_admin = self._headers(settings, "acme", "ada", "tenant_admin")
        self.globex_admin = self._headers(settings, "globex", "gina", "tenant_admin")
        self.acme_user = self._headers(settings, "acme", "alice", "user")

    @staticmethod
    def _headers(settings: Settings, tenant: str, user: str, role: str) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {issue_dev_token(settings, tenant_id=tenant, user=user, roles=[role])}"
        }


@pytest.fixture(scope="module")
def who(module_settings: Settings) -> Callers:
    return Callers(module_settings)


def state_of(client: TestClient) -> GatewayState:
    return client.app.state.gateway  # type: ignore[attr-defined,no-any-return]


def assert_error(response, status: int, code: str) -> dict:  # type: ignore[no-untyped-def,type-arg]
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code and error["message"]
    return error  # type: ignore[no-any-return]


def audit_actions(client: TestClient, headers: dict[str, str], tenant: str) -> list[str]:
    response = client.get(f"/api/admin/tenants/{tenant}/audit", headers=headers)
    assert response.status_code == 200, response.text
    return [event["action"] for event in response.json()["items"]]


def platform_db(settings: Settings):  # type: ignore[no-untyped-def]
    return create_engine(settings.resolved_database_url.replace("+aiosqlite", ""))


# Tenants


def test_platform_admin_creates_and_lists_tenants(client: TestClient, who: Callers) -> None:
    created = client.post(
        "/api/admin/tenants", json={"id": "initech", "name": "Initech"}, headers=who.platform
    )
    assert created.status_code == 201, created.text
    assert created.json()["id"] == "initech"
    listed = client.get("/api/admin/tenants", headers=who.platform).json()["items"]
    assert {"acme", "globex", "initech"} <= {tenant["id"] for tenant in listed}
    assert "admin.tenant.create" in audit_actions(client, who.platform, "initech")


def test_creating_an_existing_tenant_is_409(client: TestClient, who: Callers) -> None:
    response = client.post("/api/admin/tenants", json={"id": "acme", "name": "Again"}, headers=who.platform)
    assert_error(response, 409, "tenant_exists")


def test_a_bad_tenant_body_names_each_field(client: TestClient, who: Callers) -> None:
    response = client.post("/api/admin/tenants", json={"id": "Not Valid!", "extra": 1}, headers=who.platform)
    error = assert_error(response, 400, "invalid_request")
    assert {problem["field"] for problem in error["details"]} == {"id", "name", "extra"}


def test_a_tenant_admin_reads_its_tenant_but_cannot_rename_it(client: TestClient, who: Callers) -> None:
    assert client.get("/api/admin/tenants/acme", headers=who.acme_admin).json()["name"]
    renamed = client.patch("/api/admin/tenants/acme", json={"name": "ACME"}, headers=who.acme_admin)
    assert_error(renamed, 403, "platform_admin_required")


def test_platform_admin_renames_a_tenant_and_unknown_tenants_are_404(
    client: TestClient, who: Callers
) -> None:
    client.post("/api/admin/tenants", json={"id": "umbrella", "name": "Umbrella"}, headers=who.platform)
    renamed = client.patch(
        "/api/admin/tenants/umbrella", json={"name": "Umbrella Corp"}, headers=who.platform
    )
    assert renamed.status_code == 200 and renamed.json()["name"] == "Umbrella Corp"
    assert_error(client.get("/api/admin/tenants/nobody", headers=who.platform), 404, "unknown_tenant")


# Audit


def test_audit_records_who_changed_what_without_the_arguments(client: TestClient, who: Callers) -> None:
    client.put(
        "/api/admin/tenants/acme/erp/credentials/audited",
        json={"secret": "s3cret-value"},
        headers=who.acme_admin,
    )
    events = client.get("/api/admin/tenants/acme/audit?limit=5", headers=who.acme_admin).json()["items"]
    event = next(e for e in events if e["action"] == "admin.erp_credential.put")
    assert event["principal"] == "ada@acme"
    assert event["rule"] == "role:tenant_admin"
    assert event["resource"] == "erp-credential:audited"
    assert "s3cret-value" not in str(events)


def test_audit_pages_newest_first(client: TestClient, who: Callers) -> None:
    for index in range(3):
        client.put(
            f"/api/admin/tenants/globex/erp/credentials/page-{index}",
            json={"secret": "x"},
            headers=who.globex_admin,
        )
    first = client.get("/api/admin/tenants/globex/audit?limit=2", headers=who.globex_admin).json()
    assert [e["resource"] for e in first["items"]] == ["erp-credential:page-2", "erp-credential:page-1"]
    second = client.get(
        f"/api/admin/tenants/globex/audit?limit=2&before_id={first['next_before_id']}",
        headers=who.globex_admin,
    ).json()
    assert second["items"][0]["resource"] == "erp-credential:page-0"


def test_audit_of_one_tenant_never_shows_another_tenants_events(client: TestClient, who: Callers) -> None:
    client.put(
        "/api/admin/tenants/acme/erp/credentials/acme-only", json={"secret": "x"}, headers=who.acme_admin
    )
    events = client.get("/api/admin/tenants/globex/audit?limit=500", headers=who.platform).json()["items"]
    assert events and all(event["tenant_id"] == "globex" for event in events)
    assert_error(
        client.get("/api/admin/tenants/acme/audit", headers=who.globex_admin), 403, "forbidden_tenant"
    )


def test_a_bad_audit_query_is_400(client: TestClient, who: Callers) -> None:
    error = assert_error(
        client.get("/api/admin/tenants/acme/audit?limit=0&before_id=x", headers=who.acme_admin),
        400,
        "invalid_query",
    )
    assert {problem["field"] for problem in error["details"]} == {"limit", "before_id"}


# MCP servers


def test_registering_a_server_connects_it_in_the_background_and_survives_a_restart(
    client: TestClient, who: Callers, module_settings: Settings
) -> None:
    registered = client.put(
        "/api/admin/servers/billing", json={"url": "http://127.0.0.1:9/mcp"}, headers=who.platform
    )
    assert registered.status_code == 200, registered.text
    assert registered.json()["source"] == "admin"
    assert "billing" in {
        s["name"] for s in client.get("/api/admin/servers", headers=who.platform).json()["items"]
    }
    assert "billing" in state_of(client).host.pool.servers()
    with TestClient(create_app(module_settings, servers={})) as restarted:
        assert "billing" in state_of(restarted).host.pool.servers()
        view = restarted.get("/api/admin/servers/billing", headers=who.platform).json()
        assert view["url"] == "http://127.0.0.1:9/mcp" and view["registered_by"] == "root@platform"


def test_a_removed_server_is_disconnected_and_stays_removed_after_a_restart(
    client: TestClient, who: Callers, module_settings: Settings
) -> None:
    url = "http://127.0.0.1:9/mcp"
    assert client.put("/api/admin/servers/ledger", json={"url": url}, headers=who.platform).status_code == 200
    assert "ledger" in state_of(client).host.pool.servers()

    removed = client.delete("/api/admin/servers/ledger", headers=who.platform)
    assert removed.status_code == 204, removed.text
    assert "ledger" not in state_of(client).host.pool.servers()
    assert_error(client.get("/api/admin/servers/ledger", headers=who.platform), 404, "server_not_found")
    assert_error(client.delete("/api/admin/servers/ledger", headers=who.platform), 404, "server_not_found")
    assert_error(
        client.delete("/api/admin/servers/ledger", headers=who.acme_admin), 403, "platform_admin_required"
    )
    with TestClient(create_app(module_settings, servers={})) as restarted:
        assert "ledger" not in state_of(restarted).host.pool.servers()


def test_a_server_configured_at_startup_cannot_be_removed(client: TestClient) -> None:
    state = state_of(client)
    registry = ServerRegistry(
        state.db, state.host.pool, state.host.catalog, outbound=OutboundGuard(AllowList()), startup=["erp"]
    )
    with pytest.raises(ServerNameTaken, match="configured at startup"):
        anyio.run(registry.remove, "erp")


def test_registrations_and_removals_reach_every_replica_at_its_next_turn(
    module_settings: Settings, who: Callers
) -> None:
    with (
        TestClient(create_app(module_settings, servers={})) as first,
        TestClient(create_app(module_settings, servers={})) as second,
    ):
        url = "http://127.0.0.1:9/mcp"
        assert first.put("/api/admin/servers/crm", json={"url": url}, headers=who.platform).status_code == 200
        assert "crm" not in state_of(second).host.pool.servers(), "not before the replica's next turn"
        turn = second.post("/api/acme/chat", json={"message": "hello"}, headers=who.acme_user)
        assert turn.status_code == 200, turn.text
        assert "crm" in state_of(second).host.pool.servers()

        assert first.delete("/api/admin/servers/crm", headers=who.platform).status_code == 204
        second.post("/api/acme/chat", json={"message": "hello again"}, headers=who.acme_user)
        assert "crm" not in state_of(second).host.pool.servers()


@pytest.mark.parametrize(
    ("name", "body", "field"),
    [
        ("Bad_Name", {"url": "http://127.0.0.1:9/mcp"}, None),
        ("ok-name", {"url": "ftp://example.com/mcp"}, "url"),
        ("ok-name", {"url": "http://127.0.0.1:9/mcp", "token": "x"}, "token"),
    ],
)
def test_a_bad_server_registration_is_400(
    client: TestClient, who: Callers, name: str, body: dict[str, str], field: str | None
) -> None:
    response = client.put(f"/api/admin/servers/{name}", json=body, headers=who.platform)
    assert response.status_code == 400, response.text
    if field:
        assert field in {problem["field"] for problem in response.json()["error"]["details"]}


def test_an_unknown_server_is_404(client: TestClient, who: Callers) -> None:
    assert_error(client.get("/api/admin/servers/nothing-here", headers=who.platform), 404, "server_not_found")


# Search provider


def test_search_provider_key_is_sealed_and_never_returned(
    client: TestClient, who: Callers, module_settings: Settings
) -> None:
    key = "BSA-very-secret-key-123"
    response = client.put(
        "/api/admin/tenants/acme/search/provider",
        json={"provider": "brave", "api_key": key},
        headers=who.acme_admin,
    )
    assert response.status_code == 200, response.text
    assert response.json()["has_api_key"] is True and key not in response.text
    read = client.get("/api/admin/tenants/acme/search/provider", headers=who.acme_admin)
    assert read.json()["provider"] == "brave" and key not in read.text
    with platform_db(module_settings).connect() as db:
        sealed = db.execute(
            text("SELECT api_key_sealed FROM search_provider_configs WHERE tenant_id='acme'")
        ).scalar()
    assert sealed and key not in sealed


def test_search_provider_is_per_tenant_and_removable(client: TestClient, who: Callers) -> None:
    client.put(
        "/api/admin/tenants/globex/search/provider",
        json={"provider": "searxng", "base_url": "http://searx.internal:8080"},
        headers=who.globex_admin,
    )
    assert_error(
        client.get("/api/admin/tenants/globex/search/provider", headers=who.acme_admin),
        403,
        "forbidden_tenant",
    )
    assert (
        client.delete("/api/admin/tenants/globex/search/provider", headers=who.globex_admin).status_code
        == 204
    )
    assert_error(
        client.get("/api/admin/tenants/globex/search/provider", headers=who.globex_admin),
        404,
        "search_provider_not_set",
    )


def test_an_incomplete_search_provider_says_what_is_missing(client: TestClient, who: Callers) -> None:
    response = client.put(
        "/api/admin/tenants/acme/search/provider", json={"provider": "searxng"}, headers=who.acme_admin
    )
    error = assert_error(response, 400, "invalid_request")
    assert "base_url" in str(error["details"])


# ERP credentials and tools (no ERP server here: writes are stored but not live)


def test_erp_credentials_are_sealed_and_listed_by_name_only(
    client: TestClient, who: Callers, module_settings: Settings
) -> None:
    secret = "erp-api-key-0000-secret"
    assert (
        client.put(
            "/api/admin/tenants/acme/erp/credentials/billing-erp",
            json={"secret": secret},
            headers=who.acme_admin,
        ).status_code
        == 204
    )
    listed = client.get("/api/admin/tenants/acme/erp/credentials", headers=who.acme_admin)
    assert "billing-erp" in listed.json()["names"] and secret not in listed.text
    with platform_db(module_settings).connect() as db:
        sealed = db.execute(
            text(
                "SELECT ciphertext FROM erp_service_credentials WHERE tenant_id='acme' AND name='billing-erp'"
            )
        ).scalar()
    assert sealed and secret not in sealed
    assert (
        "billing-erp"
        not in client.get("/api/admin/tenants/globex/erp/credentials", headers=who.globex_admin).json()[
            "names"
        ]
    )
    assert (
        client.delete(
            "/api/admin/tenants/acme/erp/credentials/billing-erp", headers=who.acme_admin
        ).status_code
        == 204
    )
    assert_error(
        client.delete("/api/admin/tenants/acme/erp/credentials/billing-erp", headers=who.acme_admin),
        404,
        "credential_not_found",
    )


def test_a_bad_credential_name_is_400(client: TestClient, who: Callers) -> None:
    response = client.put(
        "/api/admin/tenants/acme/erp/credentials/has%20space", json={"secret": "x"}, headers=who.acme_admin
    )
    error = assert_error(response, 400, "invalid_path")
    assert [problem["field"] for problem in error["details"]] == ["name"]


def test_an_erp_tool_is_the_tenants_own(client: TestClient, who: Callers) -> None:
    created = client.post("/api/admin/tenants/acme/erp/tools", json=ERP_TOOL, headers=who.acme_admin)
    assert created.status_code == 201, created.text
    assert created.json()["tenant_id"] == "acme" and created.json()["live"] is False
    assert [
        t["name"]
        for t in client.get("/api/admin/tenants/acme/erp/tools", headers=who.acme_admin).json()["items"]
    ] == ["get_invoice"]
    assert client.get("/api/admin/tenants/globex/erp/tools", headers=who.globex_admin).json()["items"] == []
    assert_error(
        client.get("/api/admin/tenants/globex/erp/tools/get_invoice", headers=who.globex_admin),
        404,
        "tool_config_not_found",
    )
    assert_error(
        client.delete("/api/admin/tenants/globex/erp/tools/get_invoice", headers=who.globex_admin),
        404,
        "tool_config_not_found",
    )
    assert "admin.erp_tool.create" in audit_actions(client, who.acme_admin, "acme")


def test_erp_tool_names_are_unique_and_built_ins_reserved(client: TestClient, who: Callers) -> None:
    tool = {**ERP_TOOL, "name": "get_credit_note"}
    assert (
        client.post("/api/admin/tenants/acme/erp/tools", json=tool, headers=who.acme_admin).status_code == 201
    )
    assert_error(
        client.post("/api/admin/tenants/globex/erp/tools", json=tool, headers=who.globex_admin),
        409,
        "tool_name_taken",
    )
    builtin = {**ERP_TOOL, "name": "get_customer_debt"}
    assert_error(
        client.post("/api/admin/tenants/acme/erp/tools", json=builtin, headers=who.acme_admin),
        409,
        "tool_name_taken",
    )


def test_an_invalid_erp_tool_lists_each_problem(client: TestClient, who: Callers) -> None:
    bad = {
        **ERP_TOOL,
        "name": "bad tool",
        "method": "DELETE",
        "headers": {"Authorization": "Bearer x"},
        "input_schema": {"type": "array"},
    }
    error = assert_error(
        client.post("/api/admin/tenants/acme/erp/tools", json=bad, headers=who.acme_admin),
        400,
        "invalid_request",
    )
    fields = {problem["field"] for problem in error["details"]}
    assert {"name", "method", "headers", "input_schema"} <= fields


def test_updating_an_erp_tool_needs_the_same_name_in_path_and_body(client: TestClient, who: Callers) -> None:
    tool = {**ERP_TOOL, "name": "get_receipt"}
    client.post("/api/admin/tenants/acme/erp/tools", json=tool, headers=who.acme_admin)
    mismatch = client.put("/api/admin/tenants/acme/erp/tools/get_other", json=tool, headers=who.acme_admin)
    assert_error(mismatch, 400, "name_mismatch")
    changed = client.put(
        "/api/admin/tenants/acme/erp/tools/get_receipt",
        json={**tool, "description": "A receipt."},
        headers=who.acme_admin,
    )
    assert changed.status_code == 200 and changed.json()["config"]["description"] == "A receipt."
    removed = client.delete("/api/admin/tenants/acme/erp/tools/get_receipt", headers=who.acme_admin)
    assert removed.status_code == 200 and removed.json()["name"] == "get_receipt"


def test_platform_erp_tools_are_for_platform_admins(client: TestClient, who: Callers) -> None:
    tool = {**ERP_TOOL, "name": "get_exchange_rate"}
    assert_error(
        client.post("/api/admin/erp/tools", json=tool, headers=who.acme_admin), 403, "platform_admin_required"
    )
    created = client.post("/api/admin/erp/tools", json=tool, headers=who.platform)
    assert created.status_code == 201 and created.json()["tenant_id"] is None
    assert "get_exchange_rate" not in {
        t["name"]
        for t in client.get("/api/admin/tenants/acme/erp/tools", headers=who.acme_admin).json()["items"]
    }


# Tenant permissions


def test_platform_admin_sets_a_tenant_policy_override_that_tenant_admins_can_read(
    client: TestClient, who: Callers
) -> None:
    override = {"tenant": "globex", "tools": {"allow": ["erp:get_customer_debt"], "deny": ["rag:*"]}}
    assert_error(
        client.put("/api/admin/tenants/globex/policy", json=override, headers=who.globex_admin),
        403,
        "platform_admin_required",
    )
    stored = client.put("/api/admin/tenants/globex/policy", json=override, headers=who.platform)
    assert stored.status_code == 200, stored.text
    assert stored.json()["override"]["tools"]["deny"] == ["rag:*"]
    read = client.get("/api/admin/tenants/globex/policy", headers=who.globex_admin).json()
    assert read["override"]["tools"]["allow"] == ["erp:get_customer_debt"]
    assert "admin.policy.put" in audit_actions(client, who.globex_admin, "globex")
    assert client.delete("/api/admin/tenants/globex/policy", headers=who.platform).status_code == 204
    assert client.get("/api/admin/tenants/globex/policy", headers=who.globex_admin).json()["override"] is None


def test_a_policy_for_another_tenant_cannot_be_stored_under_this_one(
    client: TestClient, who: Callers
) -> None:
    response = client.put(
        "/api/admin/tenants/globex/policy", json={"tenant": "acme", "agents": ["*"]}, headers=who.platform
    )
    assert_error(response, 400, "invalid_policy_override")


# Usage


def test_usage_sums_one_tenants_requests_by_day_agent_and_channel(client: TestClient, who: Callers) -> None:
    ledger = state_of(client).admin.usage
    today = datetime.now(UTC)
    yesterday = today - timedelta(days=1)

    async def record() -> None:
        usage = Usage(input_tokens=100, output_tokens=20, cost_usd=0.0012, model_calls=1, tool_calls=2)
        await ledger.record(
            tenant_id="initech", user_id="u1", channel="chat", outcome="answered", usage=usage, agent="debt"
        )
        await ledger.record(
            tenant_id="initech",
            user_id="u2",
            channel="chat",
            outcome="answered",
            usage=usage,
            agent="debt",
            at=yesterday,
        )
        await ledger.record(
            tenant_id="initech",
            user_id="u1",
            channel="approval",
            outcome="answered",
            usage=Usage(tool_calls=1),
            agent="shipment",
        )
        await ledger.record(
            tenant_id="umbrella", user_id="x", channel="chat", outcome="answered", usage=usage, agent="debt"
        )

    client.portal.call(record)  # type: ignore[union-attr]
    summary = client.get("/api/admin/tenants/initech/usage", headers=who.platform).json()
    assert summary["totals"] == {
        "requests": 3,
        "input_tokens": 200,
        "output_tokens": 40,
        "total_tokens": 240,
        "cost_usd": 0.0024,
        "model_calls": 2,
        "tool_calls": 5,
    }
    assert [day["day"] for day in summary["by_day"]] == [
        yesterday.date().isoformat(),
        today.date().isoformat(),
    ]
    assert {a["agent"]: a["requests"] for a in summary["by_agent"]} == {"debt": 2, "shipment": 1}
    assert {c["channel"]: c["requests"] for c in summary["by_channel"]} == {"approval": 1, "chat": 2}
    only_today = client.get(
        f"/api/admin/tenants/initech/usage?since={today.date()}", headers=who.platform
    ).json()
    assert only_today["totals"]["requests"] == 2


def test_a_reversed_or_too_long_usage_window_is_400(client: TestClient, who: Callers) -> None:
    today = date.today()
    reversed_window = f"since={today}&until={today - timedelta(days=1)}"
    assert_error(
        client.get(f"/api/admin/tenants/acme/usage?{reversed_window}", headers=who.acme_admin),
        400,
        "invalid_query",
    )
    too_long = f"since={today - timedelta(days=400)}&until={today}"
    assert_error(
        client.get(f"/api/admin/tenants/acme/usage?{too_long}", headers=who.acme_admin), 400, "invalid_query"
    )
    assert_error(
        client.get("/api/admin/tenants/acme/usage?since=yesterday", headers=who.acme_admin),
        400,
        "invalid_query",
    )


# Tenant LLM configuration


def test_an_llm_key_is_sealed_and_never_returned(
    client: TestClient, who: Callers, module_settings: Settings
) -> None:
    key = "sk-test-0123456789abcdef-wxyz"
    body = {"provider": "openai", "model": "gpt-4o-mini", "api_key": key}
    stored = client.put("/api/admin/tenants/acme/llm", json=body, headers=who.acme_admin)
    assert stored.status_code == 200, stored.text
    assert key not in stored.text
    assert stored.json()["configured"] is True
    assert stored.json()["has_api_key"] is True and stored.json()["key_hint"] == "…wxyz"
    read = client.get("/api/admin/tenants/acme/llm", headers=who.acme_admin)
    assert read.json()["model"] == "gpt-4o-mini" and key not in read.text
    with platform_db(module_settings).connect() as db:
        sealed = " ".join(str(v) for v in db.execute(text("SELECT * FROM host_llm_configs")).one())
    assert key not in sealed
    assert key not in str(
        client.get("/api/admin/tenants/acme/audit?limit=500", headers=who.acme_admin).json()
    )


def test_an_llm_configuration_is_per_tenant_and_removable(client: TestClient, who: Callers) -> None:
    body = {"provider": "anthropic", "model": "claude-sonnet-4", "api_key": "sk-ant-abcdefgh"}
    assert client.put("/api/admin/tenants/globex/llm", json=body, headers=who.globex_admin).status_code == 200
    assert_error(client.get("/api/admin/tenants/globex/llm", headers=who.acme_admin), 403, "forbidden_tenant")
    assert client.delete("/api/admin/tenants/globex/llm", headers=who.globex_admin).status_code == 204
    # None stored is a state the console shows, not a missing resource; removing it twice is.
    none = client.get("/api/admin/tenants/globex/llm", headers=who.globex_admin)
    assert none.status_code == 200
    assert none.json() == {
        "tenant_id": "globex",
        "configured": False,
        "provider": None,
        "model": None,
        "base_url": None,
        "has_api_key": False,
        "key_hint": None,
        "updated_at": None,
    }
    assert_error(
        client.delete("/api/admin/tenants/globex/llm", headers=who.globex_admin), 404, "llm_config_not_found"
    )


def test_a_bad_llm_configuration_names_each_field(client: TestClient, who: Callers) -> None:
    body = {"provider": "acme-ai", "model": "has space", "api_key": "short", "base_url": "ftp://x"}
    error = assert_error(
        client.put("/api/admin/tenants/acme/llm", json=body, headers=who.acme_admin), 400, "invalid_request"
    )
    assert {problem["field"] for problem in error["details"]} == {"provider", "model", "api_key", "base_url"}


# The outbound guard on every URL an admin saves


def _server(url: str) -> tuple[str, str, dict[str, object]]:
    return "PUT", "/api/admin/servers/tools-x", {"url": f"{url}/mcp"}


def _search_provider(url: str) -> tuple[str, str, dict[str, object]]:
    return "PUT", "/api/admin/tenants/acme/search/provider", {"provider": "searxng", "base_url": url}


def _llm(url: str) -> tuple[str, str, dict[str, object]]:
    body = {
        "provider": "openai",
        "model": "gpt-4o-mini",
        "api_key": "sk-test-0123456789abcdef",
        "base_url": url,
    }
    return "PUT", "/api/admin/tenants/acme/llm", body


def _erp_tool(url: str) -> tuple[str, str, dict[str, object]]:
    return (
        "POST",
        "/api/admin/tenants/acme/erp/tools",
        {**ERP_TOOL, "name": "remote_x", "url": f"{url}/i/{{number}}"},
    )


SAVED_URLS = {"server": _server, "search_provider": _search_provider, "llm": _llm, "erp_tool": _erp_tool}
STORED = {
    "server": "/api/admin/servers/tools-x",
    "search_provider": "/api/admin/tenants/acme/search/provider",
    "llm": "/api/admin/tenants/acme/llm",
    "erp_tool": "/api/admin/tenants/acme/erp/tools/remote_x",
}
REFUSED = [
    ("http://127.0.0.1:8080", "127.0.0.1 is a loopback address"),
    ("http://10.0.0.5", "10.0.0.5 is a private address"),
    ("http://172.16.0.5", "172.16.0.5 is a private address"),
    ("http://192.168.1.5", "192.168.1.5 is a private address"),
    ("http://169.254.169.254", "169.254.169.254 is a cloud metadata address"),
    ("http://[::1]:8080", "::1 is a loopback address"),
    ("http://[fd00::5]", "fd00::5 is a private address"),
    # Some request models read these spellings as 127.0.0.1 already; the guard says so either way.
    ("http://2130706433", "is a loopback address"),
    ("http://0x7f000001", "is a loopback address"),
    ("http://intranet.corp.example", "intranet.corp.example resolves to 10.9.8.7, a private address"),
]


@pytest.mark.parametrize(("url", "reason"), REFUSED)
@pytest.mark.parametrize("kind", sorted(SAVED_URLS))
def test_a_saved_url_the_platform_does_not_call_for_tenants_is_400_with_the_reason(
    client: TestClient, who: Callers, kind: str, url: str, reason: str
) -> None:
    method, path, body = SAVED_URLS[kind](url)
    headers = who.platform if kind == "server" else who.acme_admin
    before = client.get(STORED[kind], headers=headers).text
    response = client.request(method, path, json=body, headers=headers)
    error = assert_error(response, 400, "blocked_destination")
    assert reason in error["message"]
    assert client.get(STORED[kind], headers=headers).text == before, "nothing was stored"


def test_a_saved_url_whose_host_does_not_resolve_is_400(client: TestClient, who: Callers) -> None:
    response = client.put(
        "/api/admin/tenants/acme/search/provider",
        json={"provider": "searxng", "base_url": "http://searx.nowhere.example"},
        headers=who.acme_admin,
    )
    error = assert_error(response, 400, "unresolvable_host")
    assert "searx.nowhere.example" in error["message"]


def test_public_urls_and_the_ones_the_platform_allows_are_saved(client: TestClient, who: Callers) -> None:
    public = client.put(
        "/api/admin/tenants/globex/search/provider",
        json={"provider": "searxng", "base_url": "https://search.example.com"},
        headers=who.globex_admin,
    )
    assert public.status_code == 200, public.text
    allowed = client.put(
        "/api/admin/servers/allowed-x", json={"url": "http://127.0.0.1:9/mcp"}, headers=who.platform
    )
    assert allowed.status_code == 200, allowed.text
    other_port = client.put(
        "/api/admin/servers/denied-x", json={"url": "http://127.0.0.1:10/mcp"}, headers=who.platform
    )
    assert_error(other_port, 400, "blocked_destination")
    client.delete("/api/admin/servers/allowed-x", headers=who.platform)
