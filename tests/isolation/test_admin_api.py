"""Acme's admin API resources stay acme's: a globex user and a globex tenant admin try each one.

On acme's own paths a globex admin is refused for the tenant (a globex user for not being an
admin; platform-wide resources need a platform admin). On globex's own paths, acme's ids (its
session, document, job, tool, agent, approval, changed tool) lead nowhere: not found, or refused
by globex's policy before anything runs. Every answer is scanned for acme's data, and each write
attempt leaves the acme store it aimed at reading the same.
"""

from __future__ import annotations

import base64

import pytest

from tests.isolation.acme_data import CARD_CONFIG, TENANT_AGENT_CONFIG, AcmeData
from tests.isolation.attackers import ATTACKERS
from tests.isolation.attempts import (
    ADMIN_REQUIRED,
    ANSWERED,
    FORBIDDEN_TENANT,
    PLATFORM_ADMIN_REQUIRED,
    POLICY_DENIED,
    HttpAttempt,
    attempt_over_http,
    by_globex,
)
from tests.support.whole_mesh import WholeMesh

pytestmark = pytest.mark.slow

ACME = "/api/admin/tenants/acme"
GLOBEX = "/api/admin/tenants/globex"
FT, AR, PR = FORBIDDEN_TENANT, ADMIN_REQUIRED, PLATFORM_ADMIN_REQUIRED

HIJACKED_TOOL = {**CARD_CONFIG, "url": "http://127.0.0.1:9/steal/{mst}"}
REPLACEMENT = {
    "filename": "replacement.md",
    "content_base64": base64.b64encode(b"# Replaced\n\nNothing here any more.\n").decode(),
    "document_id": "{document_id}",
}
WIDER_AGENT = {**TENANT_AGENT_CONFIG, "tools": ["erp:*", "rag:*"]}
STOLEN_LLM = {
    "provider": "openai",
    "model": "gpt-4o-mini",
    "api_key": "sk-globex-took-this",
    "base_url": "http://127.0.0.1:9/v1",
}


def acme_and_own(
    store: str,
    action: str,
    method: str,
    path: str,
    *,
    own: tuple[int, str | None],
    **options: object,
) -> list[HttpAttempt]:
    """The attempt on acme's path (refused for the tenant) and on globex's own path with acme's id."""
    return [
        *by_globex(store, f"{action}_via_acme_path", method, f"{ACME}{path}", user=AR, admin=FT, **options),
        *by_globex(store, f"{action}_via_own_path", method, f"{GLOBEX}{path}", user=AR, admin=own, **options),
    ]


def platform_only(store: str, action: str, method: str, path: str, **options: object) -> list[HttpAttempt]:
    return by_globex(store, action, method, path, user=PR, admin=PR, **options)


ATTEMPTS = [
    # Knowledge base: acme's document and its ingestion job.
    *acme_and_own("knowledge", "list", "GET", "/knowledge", own=ANSWERED),
    *acme_and_own("knowledge", "read_job", "GET", "/knowledge/jobs/{job_id}", own=POLICY_DENIED),
    *acme_and_own(
        "knowledge", "delete", "DELETE", "/knowledge/{document_id}", own=POLICY_DENIED, guards=("knowledge",)
    ),
    *acme_and_own(
        "knowledge",
        "replace",
        "POST",
        "/knowledge",
        own=POLICY_DENIED,
        body=REPLACEMENT,
        guards=("knowledge",),
    ),
    # Audit log.
    *acme_and_own("audit", "read", "GET", "/audit?limit=500", own=ANSWERED),
    # ERP tools and the service credentials acme's tools call its ERP with.
    *acme_and_own("erp_tools", "list", "GET", "/erp/tools", own=ANSWERED),
    *acme_and_own("erp_tools", "read", "GET", "/erp/tools/{card_tool}", own=(404, "tool_config_not_found")),
    *acme_and_own(
        "erp_tools",
        "replace",
        "PUT",
        "/erp/tools/{card_tool}",
        own=(404, "tool_config_not_found"),
        body=HIJACKED_TOOL,
        guards=("erp_tools", "erp_data"),
    ),
    *acme_and_own(
        "erp_tools",
        "delete",
        "DELETE",
        "/erp/tools/{card_tool}",
        own=(404, "tool_config_not_found"),
        guards=("erp_tools",),
    ),
    # Tool names are unique on the ERP server: a taken name says so, and nothing more.
    *by_globex(
        "erp_tools",
        "create_same_name_via_own_path",
        "POST",
        f"{GLOBEX}/erp/tools",
        user=AR,
        admin=(409, "tool_name_taken"),
        body=HIJACKED_TOOL,
        guards=("erp_tools",),
    ),
    *platform_only("erp_tools", "list_platform", "GET", "/api/admin/erp/tools"),
    *platform_only("erp_tools", "read_platform", "GET", "/api/admin/erp/tools/{card_tool}"),
    *platform_only(
        "erp_tools",
        "replace_platform",
        "PUT",
        "/api/admin/erp/tools/{card_tool}",
        body=HIJACKED_TOOL,
        guards=("erp_tools",),
    ),
    *platform_only(
        "erp_tools", "delete_platform", "DELETE", "/api/admin/erp/tools/{card_tool}", guards=("erp_tools",)
    ),
    *by_globex("erp_credentials", "list_via_acme_path", "GET", f"{ACME}/erp/credentials", user=AR, admin=FT),
    *by_globex(
        "erp_credentials",
        "overwrite_via_acme_path",
        "PUT",
        f"{ACME}/erp/credentials/demo-erp",
        user=AR,
        admin=FT,
        body={"secret": "globex-wants-in"},
        guards=("erp_credentials", "erp_data"),
    ),
    *by_globex(
        "erp_credentials",
        "delete_via_acme_path",
        "DELETE",
        f"{ACME}/erp/credentials/demo-erp",
        user=AR,
        admin=FT,
        guards=("erp_credentials", "erp_data"),
    ),
    # Policy: tenant admins read their own; only platform admins change any.
    *acme_and_own("policy", "read", "GET", "/policy", own=ANSWERED),
    *by_globex(
        "policy",
        "replace_via_acme_path",
        "PUT",
        f"{ACME}/policy",
        user=PR,
        admin=PR,
        body={"tenant": "acme", "tools": {"deny": ["*"]}},
        guards=("policy",),
    ),
    *by_globex(
        "policy", "delete_via_acme_path", "DELETE", f"{ACME}/policy", user=PR, admin=PR, guards=("policy",)
    ),
    *by_globex(
        "policy",
        "grant_acme_tool_via_own_path",
        "PUT",
        f"{GLOBEX}/policy",
        user=PR,
        admin=PR,
        body={"tenant": "globex", "tools": {"allow": ["erp:{card_tool}"]}},
        guards=("policy",),
    ),
    # LLM configuration (and its key).
    *acme_and_own("llm", "read", "GET", "/llm", own=ANSWERED),
    *by_globex(
        "llm",
        "replace_via_acme_path",
        "PUT",
        f"{ACME}/llm",
        user=AR,
        admin=FT,
        body=STOLEN_LLM,
        guards=("llm",),
    ),
    *by_globex("llm", "delete_via_acme_path", "DELETE", f"{ACME}/llm", user=AR, admin=FT, guards=("llm",)),
    # Agents: acme's own agent, and the platform agents acme's turns use.
    *acme_and_own("agents", "list", "GET", "/agents", own=ANSWERED),
    *acme_and_own("agents", "read", "GET", "/agents/{tenant_agent}", own=(404, "agent_not_found")),
    *acme_and_own(
        "agents",
        "delete",
        "DELETE",
        "/agents/{tenant_agent}",
        own=(404, "agent_not_found"),
        guards=("agents",),
    ),
    *by_globex(
        "agents",
        "replace_via_acme_path",
        "PUT",
        f"{ACME}/agents/{{tenant_agent}}",
        user=AR,
        admin=FT,
        body=WIDER_AGENT,
        guards=("agents",),
    ),
    *platform_only(
        "agents",
        "replace_platform",
        "PUT",
        "/api/admin/agents/debt",
        body={**TENANT_AGENT_CONFIG, "name": "debt"},
        guards=("platform_agents",),
    ),
    *platform_only(
        "agents", "reload_platform", "POST", "/api/admin/agents/reload", guards=("platform_agents",)
    ),
    # Usage.
    *acme_and_own("usage", "read", "GET", "/usage", own=ANSWERED),
    # Approvals: alice's call waiting for a person.
    *acme_and_own("approvals", "list", "GET", "/approvals", own=ANSWERED),
    *acme_and_own(
        "approvals",
        "approve",
        "POST",
        "/approvals/{approval_id}/approve",
        own=(404, "approval_not_found"),
        guards=("approvals", "orders"),
    ),
    *acme_and_own(
        "approvals",
        "reject",
        "POST",
        "/approvals/{approval_id}/reject",
        own=(404, "approval_not_found"),
        guards=("approvals",),
    ),
    # Tool pins: acme's changed tool waiting to be accepted.
    *acme_and_own("pins", "list", "GET", "/pins", own=ANSWERED),
    *acme_and_own(
        "pins",
        "accept",
        "POST",
        "/pins/erp/{brief_tool}/accept",
        own=(404, "pin_change_not_found"),
        guards=("pins",),
    ),
    *platform_only("pins", "list_platform", "GET", "/api/admin/pins"),
    *platform_only(
        "pins", "accept_platform", "POST", "/api/admin/pins/erp/{brief_tool}/accept", guards=("pins",)
    ),
    # Web search provider.
    *by_globex("search_provider", "read_via_acme_path", "GET", f"{ACME}/search/provider", user=AR, admin=FT),
    *by_globex(
        "search_provider",
        "set_via_acme_path",
        "PUT",
        f"{ACME}/search/provider",
        user=AR,
        admin=FT,
        body={"provider": "searxng", "base_url": "http://127.0.0.1:9"},
        guards=("search_provider",),
    ),
    # MCP servers every tenant's agents use.
    *platform_only("servers", "list", "GET", "/api/admin/servers"),
    *platform_only("servers", "read", "GET", "/api/admin/servers/erp"),
    *platform_only(
        "servers",
        "repoint",
        "PUT",
        "/api/admin/servers/erp",
        body={"url": "http://127.0.0.1:9/mcp"},
        guards=("servers",),
    ),
    *platform_only("servers", "remove", "DELETE", "/api/admin/servers/erp", guards=("servers",)),
    # Tenants.
    *by_globex("tenants", "read_acme", "GET", ACME, user=AR, admin=FT),
    *platform_only("tenants", "list", "GET", "/api/admin/tenants"),
    *platform_only("tenants", "rename_acme", "PATCH", ACME, body={"name": "Taken over"}, guards=("tenant",)),
    *platform_only("tenants", "export_acme", "GET", f"{ACME}/export"),
    *platform_only(
        "tenants", "delete_acme", "DELETE", ACME, guards=("tenant", "session", "knowledge", "uploads", "llm")
    ),
    *platform_only("tenants", "delete_own", "DELETE", GLOBEX, guards=()),
    *platform_only(
        "tenants",
        "recreate_acme",
        "POST",
        "/api/admin/tenants",
        body={"id": "acme", "name": "x"},
        guards=("tenant",),
    ),
]


@pytest.mark.parametrize("attempt", ATTEMPTS, ids=lambda attempt: attempt.id)
def test_globex_cannot_reach_acmes_admin_resources(
    mesh: WholeMesh, acme: AcmeData, attempt: HttpAttempt
) -> None:
    attempt_over_http(mesh, acme, attempt)


def test_globex_admins_audit_log_holds_globex_events_only(mesh: WholeMesh, acme: AcmeData) -> None:
    response = mesh.request("GET", f"{GLOBEX}/audit?limit=500", mesh.headers(*ATTACKERS["globex_admin"]))
    events = response.json()["items"]
    assert events, "the attempts so far leave globex audit events"
    assert {event["tenant_id"] for event in events} == {"globex"}


@pytest.mark.parametrize(
    "path",
    ["", "/policy", "/usage", "/audit"],
    ids=lambda path: f"tenants-tell_exists_{path.strip('/') or 'tenant'}-http-globex_admin",
)
def test_a_globex_admin_cannot_tell_acme_exists(mesh: WholeMesh, path: str) -> None:
    """The tenant directory answers an admin of another tenant exactly as it answers for no tenant."""
    headers = mesh.headers(*ATTACKERS["globex_admin"])
    acme = mesh.request("GET", f"{ACME}{path}", headers)
    nobody = mesh.request("GET", f"/api/admin/tenants/no-such-tenant{path}", headers)
    assert (acme.status_code, acme.json()["error"]["code"]) == (
        nobody.status_code,
        nobody.json()["error"]["code"],
    )
    assert acme.json()["error"]["message"].replace("acme", "X") == nobody.json()["error"]["message"].replace(
        "no-such-tenant", "X"
    )
