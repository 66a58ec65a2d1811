"""What a citation points to: `GET /api/{tenant}/documents[/{id}]` for users, and the admins' read.

The reads go to a real RAG server as the caller, under the tenant's policy; the same document id
names a different document in each tenant, and another tenant's document is not found.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from agentmesh.dev_tokens import issue_dev_token
from agentmesh.settings import Settings, load_settings
from tests.support.gateway import running_gateway
from tests.support.processes import running_server

pytestmark = pytest.mark.slow


@dataclass
class Gateway:
    url: str
    settings: Settings

    def get(self, path: str, tenant: str, user: str, *roles: str) -> httpx.Response:
        token = issue_dev_token(self.settings, tenant_id=tenant, user=user, roles=list(roles) or None)
        return httpx.get(f"{self.url}{path}", headers={"Authorization": f"Bearer {token}"}, timeout=60)


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    data_dir = tmp_path_factory.mktemp("documents")
    settings = load_settings(AGENTMESH_DATA_DIR=data_dir)
    with running_server("rag", data_dir) as rag_url, running_gateway(settings, {"rag": rag_url}) as url:
        yield Gateway(url, settings)


def test_a_user_lists_and_reads_their_tenants_documents(gateway: Gateway) -> None:
    listed = gateway.get("/api/acme/documents", "acme", "alice")
    assert listed.status_code == 200, listed.text
    assert {"return-policy", "payment-terms", "shipping-policy"} <= {
        d["document_id"] for d in listed.json()["documents"]
    }
    document = gateway.get("/api/acme/documents/return-policy", "acme", "alice").json()
    assert document["title"] == "ACME Return Policy" and "30 days" in document["text"]


def test_reading_is_the_tenants_policy_to_grant(gateway: Gateway) -> None:
    # globex's policy grants rag:search and rag:list_documents, not rag:get_document.
    listed = gateway.get("/api/globex/documents", "globex", "bob")
    assert listed.status_code == 200
    assert all(d["title"].startswith("Globex") for d in listed.json()["documents"])
    denied = gateway.get("/api/globex/documents/return-policy", "globex", "bob")
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "denied"
    assert gateway.get("/api/globex/documents/return-policy", "acme", "alice").status_code == 403


def test_a_document_that_is_not_the_tenants_is_not_found(gateway: Gateway) -> None:
    missing = gateway.get("/api/acme/documents/no-such-document", "acme", "alice")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "document_not_found"
    invalid = gateway.get("/api/acme/documents/..%2Fsecrets", "acme", "alice")
    assert invalid.status_code in (400, 404)


def test_admins_read_documents_of_the_tenant_they_administer(gateway: Gateway) -> None:
    read = gateway.get("/api/admin/tenants/acme/knowledge/payment-terms", "acme", "ada", "tenant_admin")
    assert read.status_code == 200 and read.json()["document_id"] == "payment-terms"
    other = gateway.get("/api/admin/tenants/acme/knowledge/payment-terms", "globex", "gina", "tenant_admin")
    assert other.status_code == 403
    user = gateway.get("/api/admin/tenants/acme/knowledge/payment-terms", "acme", "alice")
    assert user.status_code == 403
