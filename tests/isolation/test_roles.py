"""Roles decide which of a tenant's tools a person may use, at `/mcp` and in chat alike.

Tools that change data (not annotated read-only) are for tenant admins (and platform admins),
unless the tenant's policy names them in `tools.users`; read-only tools are for everyone the
policy allows. The matrix: a user, a tenant admin and a platform admin of acme, each with a
read-only tool (`rag:search`), a tool that writes (`rag:ingest_text`), a destructive one
(`rag:delete_document`), and one acme grants its users under approval (`erp:create_order`).
"""

from __future__ import annotations

import pytest

from tests.isolation.acme_data import ACME_MST, ACME_SKU, LIBRARIAN, AcmeData
from tests.isolation.channels import call_tool, list_tools
from tests.support.whole_mesh import WholeMesh

pytestmark = pytest.mark.slow

ROLES = {
    "user": ("acme", "uma"),
    "tenant_admin": ("acme", "ada", "tenant_admin"),
    "platform_admin": ("acme", "root", "platform_admin"),
}
WRITES = {"rag__ingest_text", "rag__delete_document"}


def _document(role: str) -> str:
    return f"role-matrix-{role.replace('_', '-')}"


@pytest.mark.parametrize("role", list(ROLES))
def test_the_catalog_lists_tools_that_change_data_to_admins_only(
    mesh: WholeMesh, acme: AcmeData, role: str
) -> None:
    names, _ = list_tools(f"{mesh.url}/mcp", mesh.token(*ROLES[role]))
    assert "rag__search" in names and "erp__get_customer_debt" in names
    assert (set(names) >= WRITES) is (role != "user")


@pytest.mark.parametrize("role", list(ROLES))
def test_each_role_calls_what_its_role_allows(mesh: WholeMesh, acme: AcmeData, role: str) -> None:
    url, token = f"{mesh.url}/mcp", mesh.token(*ROLES[role])
    search = call_tool(url, token, "rag__search", {"query": "return policy"})
    document = _document(role)
    ingest = call_tool(
        url, token, "rag__ingest_text", {"title": "Role matrix", "text": "Scratch.", "document_id": document}
    )
    delete = call_tool(url, token, "rag__delete_document", {"document_id": document})
    order = call_tool(
        url, token, "erp__create_order", {"mst": ACME_MST, "items": [{"sku": ACME_SKU, "quantity": 1}]}
    )
    assert not search.is_error
    if role == "user":
        assert (ingest.error_code, delete.error_code) == ("denied", "denied")
        assert "tenant_admin" in ingest.text and "tenant_admin" in delete.text
    else:
        assert not ingest.is_error and not delete.is_error, (ingest.text, delete.text)
    # Every order waits for a person: at /mcp there is none to ask.
    assert order.error_code in ("approval_required", "denied")
    assert order.error_code == ("denied" if role == "user" else "approval_required")


@pytest.mark.parametrize("role", list(ROLES))
def test_in_chat_an_agent_of_writing_tools_has_none_for_a_user(
    mesh: WholeMesh, acme: AcmeData, role: str
) -> None:
    answer = mesh.request(
        "POST",
        "/api/acme/chat",
        mesh.headers(*ROLES[role]),
        {"message": "Remove the document acme-nothing-here", "agent": LIBRARIAN},
    ).json()
    tool_steps = [step for step in answer["steps"] if step["type"] == "tool_call"]
    if role == "user":
        assert answer["outcome"] == "unavailable" and tool_steps == []
        assert "no tools your organisation may use" in answer["answer"]
    else:
        assert answer["outcome"] != "unavailable", answer
