"""Acme's data is really in every store the suite attacks: each refusal elsewhere hides something."""

from __future__ import annotations

import pytest

from tests.isolation.acme_data import (
    ACME_CUSTOMER,
    ACME_MST,
    BRIEF_TOOL,
    CARD_TOOL,
    DOCUMENT_ID,
    LLM_KEY,
    MARKER,
    TENANT_AGENT,
    UPLOAD_CONTENT,
    AcmeData,
)
from tests.isolation.acme_state import snapshot
from tests.isolation.attackers import ACME_ADMIN, ALICE
from tests.isolation.channels import call_tool, list_tools
from tests.support.whole_mesh import WholeMesh

pytestmark = pytest.mark.slow


def test_every_store_holds_acme_data(mesh: WholeMesh, acme: AcmeData) -> None:
    state = snapshot(
        mesh, acme, ("session", "knowledge", "erp_tools", "llm", "agents", "approvals", "pins", "uploads")
    )
    (status, transcript), (_, sessions) = state["session"]
    assert status == 200 and ACME_CUSTOMER in transcript["messages"][1]["content"]
    assert acme.session_id in {s["session_id"] for s in sessions["items"]}
    assert DOCUMENT_ID in {d["document_id"] for d in state["knowledge"][1]["documents"]}
    assert {t["name"] for t in state["erp_tools"][1]["items"]} == {CARD_TOOL, BRIEF_TOOL}
    assert state["llm"][1]["key_hint"] == f"…{LLM_KEY[-4:]}"
    assert TENANT_AGENT in {a["name"] for a in state["agents"][1]["items"]}
    assert acme.approval_id in {a["id"] for a in state["approvals"][1]["items"]}
    assert BRIEF_TOOL in {c["tool"] for c in state["pins"][1]["items"]}
    assert {tenant for tenant, *_ in mesh.orders()} == {"acme", "globex"}
    (_, uploads), status, content = state["uploads"]
    assert [item["handle"] for item in uploads["items"]] == [acme.upload_handle]
    assert (status, content) == (200, UPLOAD_CONTENT)


def test_acme_reaches_its_own_data_through_every_channel(mesh: WholeMesh, acme: AcmeData) -> None:
    token = mesh.token(*ALICE)
    tools, _ = list_tools(f"{mesh.url}/mcp", token)
    assert f"erp__{CARD_TOOL}" in tools and f"erp__{BRIEF_TOOL}" not in tools  # withheld until accepted
    found = call_tool(f"{mesh.url}/mcp", token, "rag__search", {"query": MARKER, "top_k": 1})
    assert not found.is_error and "violet film" in found.raw
    debt = call_tool(f"{mesh.url}/mcp", token, "erp__get_customer_debt", {"mst": ACME_MST})
    assert not debt.is_error and ACME_CUSTOMER in debt.raw
    admin = mesh.headers(*ACME_ADMIN)
    audit = mesh.request("GET", "/api/admin/tenants/acme/audit?limit=500", admin).json()["items"]
    assert {"admin.erp_tool.create", "admin.agent.put", "approval.requested", "tool.call"} <= {
        e["action"] for e in audit
    }
    usage = mesh.request("GET", "/api/admin/tenants/acme/usage", admin).json()
    assert usage["totals"]["requests"] >= 2 and TENANT_AGENT in {a["agent"] for a in usage["by_agent"]}
