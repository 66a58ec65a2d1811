"""The gateway's `/mcp` resources, prompts and completions keep acme's documents and ERP ids from globex.

Globex's MCP clients list no document of acme's, cannot read acme's document by its URI, and
complete neither acme's document ids nor acme's MSTs; acme's own user reads and completes them
(the control that shows each request reaches the data it is about).
"""

from __future__ import annotations

import json
from typing import Any

import anyio
import pytest
from mcp.shared.exceptions import MCPError
from mcp_types import PromptReference, ResourceTemplateReference

from tests.isolation.acme_data import ACME_MST, DOCUMENT_ID, AcmeData
from tests.isolation.attackers import ALICE, ATTACKERS
from tests.isolation.channels import read_resource
from tests.isolation.leaks import leaked
from tests.support.mcp import http_client
from tests.support.whole_mesh import WholeMesh

pytestmark = pytest.mark.slow

DOCUMENT_URI = f"kb://documents/{DOCUMENT_ID}"
TEMPLATE = ResourceTemplateReference(type="ref/resource", uri="kb://documents/{document_id}")
DEBT_PROMPT = PromptReference(type="ref/prompt", name="erp__get_customer_debt")
GLOBEX = ["globex_user", "globex_admin"]


def _dump(value: Any) -> str:
    return json.dumps(value.model_dump(mode="json", by_alias=True))


def listings(url: str, token: str) -> str:
    """Everything `/mcp` lists and completes for a caller, serialised (what the leak scan reads)."""

    async def run() -> str:
        async with http_client(url, token) as client:
            parts = [
                _dump(await client.list_resources()),
                _dump(await client.list_resource_templates()),
                _dump(await client.list_prompts()),
                _dump(await client.complete(TEMPLATE, {"name": "document_id", "value": ""})),
                _dump(await client.complete(TEMPLATE, {"name": "document_id", "value": "acme"})),
            ]
            try:
                parts.append(
                    _dump(await client.complete(DEBT_PROMPT, {"name": "mst", "value": ACME_MST[:3]}))
                )
            except MCPError as exc:
                parts.append(f"error {exc.error.code}: {exc.error.message}")
        return "\n".join(parts)

    return anyio.run(run)


@pytest.mark.parametrize("attacker", GLOBEX)
def test_globex_lists_and_completes_none_of_acmes_documents_or_ids(
    mesh: WholeMesh, acme: AcmeData, attacker: str
) -> None:
    answer = listings(f"{mesh.url}/mcp", mesh.token(*ATTACKERS[attacker]))
    assert leaked(answer, acme.secrets, sent="acme") == [], answer


@pytest.mark.parametrize("attacker", GLOBEX)
def test_globex_cannot_read_acmes_document_through_the_gateway(
    mesh: WholeMesh, acme: AcmeData, attacker: str
) -> None:
    answer = read_resource(f"{mesh.url}/mcp", mesh.token(*ATTACKERS[attacker]), DOCUMENT_URI)
    assert answer.startswith("error"), answer
    assert leaked(answer, acme.secrets, sent=DOCUMENT_ID) == [], answer


def test_acme_reads_lists_and_completes_its_own_document(mesh: WholeMesh, acme: AcmeData) -> None:
    url, token = f"{mesh.url}/mcp", mesh.token(*ALICE)
    assert DOCUMENT_URI in listings(url, token)
    answer = read_resource(url, token, DOCUMENT_URI)
    assert not answer.startswith("error"), answer
    assert leaked(answer, [acme.secrets[0]]) == [acme.secrets[0]]  # the marker is in the document
