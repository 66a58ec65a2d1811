"""The gateway's per-tenant `/mcp` keeps acme's tools and data out of globex's reach.

Globex's MCP clients (a user's and a tenant admin's) list exactly the tools globex's policy allows,
and never acme's own; each call aimed at acme's knowledge base, ERP records or tools ends in a
precise error (policy denied, not found in globex's ERP, no such tool), with nothing of acme's in
the result and acme's data unchanged.
"""

from __future__ import annotations

import base64

import pytest

from policies.loader import PolicySet
from tests.isolation.acme_data import AcmeData
from tests.isolation.attackers import ATTACKERS
from tests.isolation.attempts import McpAttempt, attempt_over_mcp, mcp_by_globex
from tests.isolation.channels import list_tools
from tests.isolation.leaks import leaked
from tests.support.whole_mesh import WholeMesh

pytestmark = pytest.mark.slow

ORDER = {"mst": "{acme_mst}", "items": [{"sku": "{acme_sku}", "quantity": 1}]}
REPLACEMENT = {
    "filename": "replacement.md",
    "content_base64": base64.b64encode(b"# Replaced\n").decode(),
    "document_id": "{document_id}",
}

ATTEMPTS = [
    # Acme's knowledge base.
    *mcp_by_globex("knowledge", "search_marker", "rag__search", {"query": "{marker}"}, None),
    *mcp_by_globex("knowledge", "list_documents", "rag__list_documents", {}, None),
    *mcp_by_globex("knowledge", "read_job", "rag__ingest_status", {"job_id": "{job_id}"}, "denied"),
    *mcp_by_globex(
        "knowledge",
        "delete_document",
        "rag__delete_document",
        {"document_id": "{document_id}"},
        "denied",
        guards=("knowledge",),
    ),
    *mcp_by_globex(
        "knowledge", "replace_document", "rag__ingest_document", REPLACEMENT, "denied", guards=("knowledge",)
    ),
    # Acme's ERP records: customers, payments, shipments, orders, stock.
    *mcp_by_globex("erp_data", "customer_debt", "erp__get_customer_debt", {"mst": "{acme_mst}"}, "not_found"),
    *mcp_by_globex("erp_data", "payments", "erp__get_payment_history", {"mst": "{acme_mst}"}, "not_found"),
    *mcp_by_globex("erp_data", "overdue_customers", "erp__list_overdue_customers", {}, None),
    *mcp_by_globex(
        "erp_data", "shipment", "erp__track_shipment", {"shipment_id": "{acme_shipment}"}, "denied"
    ),
    *mcp_by_globex(
        "erp_data",
        "shipment_events",
        "erp__get_shipment_events",
        {"shipment_id": "{acme_shipment}"},
        "denied",
    ),
    *mcp_by_globex("erp_data", "order", "erp__get_order", {"order_id": "{acme_order}"}, "denied"),
    *mcp_by_globex("erp_data", "stock", "erp__get_stock_level", {"sku": "{acme_sku}"}, "denied"),
    *mcp_by_globex("erp_data", "create_order", "erp__create_order", ORDER, "denied", guards=("orders",)),
    # Acme's own tools: the catalog of globex has no such tool, served or withheld.
    *mcp_by_globex("catalog", "call_acme_tool", "erp__{card_tool}", {"mst": "{acme_mst}"}, "tool_not_found"),
    *mcp_by_globex(
        "catalog", "call_withheld_acme_tool", "erp__{brief_tool}", {"mst": "{acme_mst}"}, "tool_not_found"
    ),
]


@pytest.mark.parametrize("attempt", ATTEMPTS, ids=lambda attempt: attempt.id)
def test_globex_mcp_client_cannot_reach_acme(mesh: WholeMesh, acme: AcmeData, attempt: McpAttempt) -> None:
    attempt_over_mcp(mesh, acme, f"{mesh.url}/mcp", mesh.token(*ATTACKERS[attempt.attacker]), attempt)


def globex_policy_tools() -> set[str]:
    """`server__tool` for every tool of the running servers globex's policy files allow."""
    globex = PolicySet.from_directory().tenant_policy("globex")
    assert globex is not None
    return {pattern.replace(":", "__") for pattern in globex.tools.allow}


@pytest.mark.parametrize(
    "attacker", ["globex_user", "globex_admin"], ids=lambda a: f"catalog-list_tools-mcp-{a}"
)
def test_globex_lists_exactly_its_policys_tools(mesh: WholeMesh, acme: AcmeData, attacker: str) -> None:
    tools, raw = list_tools(f"{mesh.url}/mcp", mesh.token(*ATTACKERS[attacker]))
    assert set(tools) == globex_policy_tools()
    assert leaked(raw, acme.secrets) == [], raw
