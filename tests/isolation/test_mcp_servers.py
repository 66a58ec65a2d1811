"""Defence in depth: the MCP servers scope every call by the tenant of its mesh token.

Here the host's checks are skipped on purpose: the test presents the ERP and RAG servers with the
audience-bound token the host would mint for a globex user (or admin), granting the very tool
being called, as if a bug upstream had let the call through. The servers still answer from
globex's data only: acme's customers, shipments, orders, stock, documents and ingestion jobs are
not found, acme's own tools are not available, and nothing of acme's is in any answer.
"""

from __future__ import annotations

import dataclasses
import time

import httpx
import jwt
import pytest

from agentmesh.keys import mesh_key
from agentmesh.mesh_tokens import mint_server_token, server_audience
from tests.isolation.acme_data import DOCUMENT_ID, AcmeData
from tests.isolation.acme_state import snapshot
from tests.isolation.attackers import ATTACKERS
from tests.isolation.attempts import McpAttempt, attempt_over_mcp, fill, mcp_by_globex
from tests.isolation.channels import call_tool, list_tools, read_resource
from tests.isolation.leaks import leaked
from tests.support.whole_mesh import WholeMesh

pytestmark = pytest.mark.slow

ORDER = {"mst": "{acme_mst}", "items": [{"sku": "{acme_sku}", "quantity": 1}]}


def _on(server: str, attempts: list[McpAttempt]) -> list[McpAttempt]:
    return [dataclasses.replace(attempt, channel=f"{server}_server") for attempt in attempts]


ERP_ATTEMPTS = _on(
    "erp",
    [
        *mcp_by_globex("erp_data", "customer_debt", "get_customer_debt", {"mst": "{acme_mst}"}, "not_found"),
        *mcp_by_globex("erp_data", "payments", "get_payment_history", {"mst": "{acme_mst}"}, "not_found"),
        *mcp_by_globex("erp_data", "overdue_customers", "list_overdue_customers", {}, None),
        *mcp_by_globex(
            "erp_data", "shipment", "track_shipment", {"shipment_id": "{acme_shipment}"}, "not_found"
        ),
        *mcp_by_globex(
            "erp_data",
            "shipment_events",
            "get_shipment_events",
            {"shipment_id": "{acme_shipment}"},
            "not_found",
        ),
        *mcp_by_globex("erp_data", "order", "get_order", {"order_id": "{acme_order}"}, "not_found"),
        *mcp_by_globex("erp_data", "stock", "get_stock_level", {"sku": "{acme_sku}"}, "not_found"),
        *mcp_by_globex("erp_data", "create_order", "create_order", ORDER, "not_found", guards=("orders",)),
        *mcp_by_globex("erp_tools", "call_acme_tool", "{card_tool}", {"mst": "{acme_mst}"}, "tool_not_found"),
    ],
)
RAG_ATTEMPTS = _on(
    "rag",
    [
        *mcp_by_globex("knowledge", "search_marker", "search", {"query": "{marker}"}, None),
        *mcp_by_globex("knowledge", "list_documents", "list_documents", {}, None),
        *mcp_by_globex("knowledge", "read_job", "ingest_status", {"job_id": "{job_id}"}, "job_not_found"),
        *mcp_by_globex(
            "knowledge",
            "delete_document",
            "delete_document",
            {"document_id": "{document_id}"},
            "document_not_found",
            guards=("knowledge",),
        ),
    ],
)


def globex_token(mesh: WholeMesh, server: str, attacker: str, tools: list[str]) -> str:
    """The token the host would mint for this globex caller's call to `tools` on `server`."""
    tenant, subject, *roles = ATTACKERS[attacker]
    settings = mesh.settings
    return mint_server_token(
        mesh_key(settings.keys_dir),
        issuer=settings.mesh_issuer,
        server=server,
        tenant_id=tenant,
        subject=subject,
        tools=tools,
        roles=roles or ["user"],
        ttl_seconds=60,
    )


@pytest.mark.parametrize("attempt", [*ERP_ATTEMPTS, *RAG_ATTEMPTS], ids=lambda attempt: attempt.id)
def test_a_server_answers_globex_from_globex_data_only(
    mesh: WholeMesh, acme: AcmeData, attempt: McpAttempt
) -> None:
    server = attempt.channel.removesuffix("_server")
    tool = fill(attempt.tool, acme.fields())
    token = globex_token(mesh, server, attempt.attacker, [tool])
    attempt_over_mcp(mesh, acme, mesh.server_urls[server], token, attempt)


@pytest.mark.parametrize(
    "attacker", ["globex_user", "globex_admin"], ids=lambda a: f"knowledge-read_document-rag_server-{a}"
)
def test_acmes_document_cannot_be_read_as_a_resource(mesh: WholeMesh, acme: AcmeData, attacker: str) -> None:
    token = globex_token(mesh, "rag", attacker, [])
    answer = read_resource(mesh.server_urls["rag"], token, f"kb://documents/{DOCUMENT_ID}")
    assert answer.startswith("error"), answer
    assert leaked(answer, acme.secrets, sent=DOCUMENT_ID) == [], answer


@pytest.mark.parametrize(
    "attacker", ["globex_user", "globex_admin"], ids=lambda a: f"knowledge-reuse_document_id-rag_server-{a}"
)
def test_a_globex_document_under_acmes_id_is_globex_own(
    mesh: WholeMesh, acme: AcmeData, attacker: str
) -> None:
    before = snapshot(mesh, acme, ("knowledge",))
    url = mesh.server_urls["rag"]
    written = call_tool(
        url,
        globex_token(mesh, "rag", attacker, ["ingest_text"]),
        "ingest_text",
        {"title": "Globex note", "text": "Short.", "document_id": DOCUMENT_ID},
    )
    try:
        assert not written.is_error and written.structured is not None, written.raw
        assert written.structured["status"] == "created", (
            written.raw
        )  # a new globex document, not acme's replaced
        assert leaked(written.raw, acme.secrets, sent=DOCUMENT_ID) == [], written.raw
        assert snapshot(mesh, acme, ("knowledge",)) == before
    finally:
        removed = call_tool(
            url,
            globex_token(mesh, "rag", attacker, ["delete_document"]),
            "delete_document",
            {"document_id": DOCUMENT_ID},
        )
        assert not removed.is_error, removed.raw
    assert snapshot(mesh, acme, ("knowledge",)) == before


@pytest.mark.parametrize(
    "attacker", ["globex_user", "globex_admin"], ids=lambda a: f"catalog-list_tools-erp_server-{a}"
)
def test_the_erp_server_lists_acmes_tools_to_acme_only(
    mesh: WholeMesh, acme: AcmeData, attacker: str
) -> None:
    tools, raw = list_tools(mesh.server_urls["erp"], globex_token(mesh, "erp", attacker, []))
    assert "get_customer_debt" in tools
    assert leaked(raw, acme.secrets) == [], raw


def end_user_token(mesh: WholeMesh, server: str) -> str:
    """The globex user's own gateway token, presented to the server directly."""
    return mesh.token(*ATTACKERS["globex_user"])


def expired_mesh_token(mesh: WholeMesh, server: str) -> str:
    """A mesh token for this very server and globex, a minute past its expiry."""
    key = mesh_key(mesh.settings.keys_dir)
    now = int(time.time())
    claims = {
        "iss": mesh.settings.mesh_issuer,
        "aud": server_audience(server),
        "sub": "gary",
        "tenant_id": "globex",
        "scope": "",
        "iat": now - 180,
        "nbf": now - 180,
        "exp": now - 120,
        "jti": "expired",
    }
    return jwt.encode(claims, key.private_key, algorithm=key.algorithm, headers={"kid": key.kid})


def other_server_token(mesh: WholeMesh, server: str) -> str:
    """A valid mesh token for globex, minted for another server."""
    other = "rag" if server == "erp" else "erp"
    return globex_token(mesh, other, "globex_user", [])


TOKENS = {
    "end_user_token": end_user_token,
    "expired_mesh_token": expired_mesh_token,
    "token_for_another_server": other_server_token,
}


@pytest.mark.parametrize(
    ("server", "kind"),
    [(server, kind) for server in ("erp", "rag", "ocr", "search") for kind in TOKENS],
    ids=[
        f"servers-{kind}-{server}_server-globex_user"
        for server in ("erp", "rag", "ocr", "search")
        for kind in TOKENS
    ],
)
def test_a_server_refuses_a_token_not_minted_for_it(
    mesh: WholeMesh, acme: AcmeData, server: str, kind: str
) -> None:
    response = httpx.post(
        mesh.server_urls[server],
        headers={
            "Authorization": f"Bearer {TOKENS[kind](mesh, server)}",
            "Accept": "application/json, text/event-stream",
        },
        json={"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}},
        timeout=30,
    )
    assert response.status_code == 401, response.text
    assert leaked(response.text, acme.secrets) == [], response.text
