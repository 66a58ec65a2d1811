"""alice's upload stays hers: nobody else can read it, list it, or have a tool read it by reference.

alice (acme) uploaded a scan; its handle is in `acme.upload_handle`. A globex user and a globex
tenant admin, and bob (another acme user, who is no admin), try to read its description and
bytes, list it, delete it, attach it to a chat turn, hand its reference to the knowledge admin
API, to a tool through `/mcp`, to the OCR and RAG servers directly with their own mesh token, and
to the gateway's internal uploads endpoint the servers use. Every attempt ends in a precise
refusal (another tenant's path: 403; a handle that is not theirs: the same 404 as none), with
nothing of acme's in the answer and alice's upload unchanged.

The servers' tenant export and deletion routes are tried too: only a platform admin's token for
that purpose opens them, whatever else a token grants.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import httpx
import pytest

from agentmesh.keys import mesh_key
from agentmesh.mesh_tokens import TENANT_DELETE_SCOPE, TENANT_EXPORT_SCOPE, mint_server_token
from tests.isolation.acme_data import AcmeData
from tests.isolation.acme_state import snapshot
from tests.isolation.attackers import ATTACKERS
from tests.isolation.attempts import (
    ADMIN_REQUIRED,
    ANSWERED,
    FORBIDDEN_TENANT,
    HttpAttempt,
    McpAttempt,
    attempt_over_http,
    attempt_over_mcp,
    by_globex,
    fill,
    mcp_by_globex,
)
from tests.isolation.leaks import leaked
from tests.isolation.test_mcp_servers import globex_token
from tests.support.whole_mesh import WholeMesh

pytestmark = pytest.mark.slow

ACME = "/api/acme/uploads"
GLOBEX = "/api/globex/uploads"
NOT_FOUND = (404, "upload_not_found")
FT, AR = FORBIDDEN_TENANT, ADMIN_REQUIRED
GUARDED = ("uploads",)
ATTACHED = {
    "message": "Read the text in this image",
    "attachments": [{"name": "scan.txt", "upload": "{upload_reference}"}],
}
KNOWLEDGE = {"filename": "manifest.txt", "upload": "{upload_reference}"}
INGEST = {"filename": "manifest.txt", "content_base64": "{upload_reference}"}


def by_bob(
    action: str, method: str, path: str, expected: tuple[int, str | None], **options: Any
) -> HttpAttempt:
    return HttpAttempt("uploads", action, "acme_user", method, path, expected, **options)


HTTP_ATTEMPTS = [
    # The gateway's uploads API: acme's path is not globex's; on its own path the handle is nobody's.
    *by_globex("uploads", "read_via_acme_path", "GET", f"{ACME}/{{upload_handle}}", user=FT, admin=FT),
    *by_globex(
        "uploads", "read_via_own_path", "GET", f"{GLOBEX}/{{upload_handle}}", user=NOT_FOUND, admin=NOT_FOUND
    ),
    *by_globex(
        "uploads", "content_via_acme_path", "GET", f"{ACME}/{{upload_handle}}/content", user=FT, admin=FT
    ),
    *by_globex(
        "uploads",
        "content_via_own_path",
        "GET",
        f"{GLOBEX}/{{upload_handle}}/content",
        user=NOT_FOUND,
        admin=NOT_FOUND,
    ),
    *by_globex("uploads", "list_via_acme_path", "GET", ACME, user=FT, admin=FT),
    *by_globex("uploads", "list_via_own_path", "GET", GLOBEX, user=ANSWERED, admin=ANSWERED),
    *by_globex(
        "uploads",
        "delete_via_acme_path",
        "DELETE",
        f"{ACME}/{{upload_handle}}",
        user=FT,
        admin=FT,
        guards=GUARDED,
    ),
    *by_globex(
        "uploads",
        "delete_via_own_path",
        "DELETE",
        f"{GLOBEX}/{{upload_handle}}",
        user=NOT_FOUND,
        admin=NOT_FOUND,
        guards=GUARDED,
    ),
    # Within acme, an upload is its uploader's (and the admins'): bob finds nothing.
    by_bob("read_as_another_user", "GET", f"{ACME}/{{upload_handle}}", NOT_FOUND),
    by_bob("content_as_another_user", "GET", f"{ACME}/{{upload_handle}}/content", NOT_FOUND),
    by_bob("list_as_another_user", "GET", ACME, ANSWERED),
    by_bob("delete_as_another_user", "DELETE", f"{ACME}/{{upload_handle}}", NOT_FOUND, guards=GUARDED),
    # A chat attachment naming it.
    *by_globex(
        "uploads",
        "attach_in_chat",
        "POST",
        "/api/globex/chat",
        user=NOT_FOUND,
        admin=NOT_FOUND,
        body=ATTACHED,
        guards=GUARDED,
        channel="chat",
    ),
    by_bob(
        "attach_in_chat", "POST", "/api/acme/chat", NOT_FOUND, body=ATTACHED, guards=GUARDED, channel="chat"
    ),
    # The knowledge admin API asked to ingest it.
    *by_globex(
        "uploads",
        "ingest_via_own_path",
        "POST",
        "/api/admin/tenants/globex/knowledge",
        user=AR,
        admin=NOT_FOUND,
        body=KNOWLEDGE,
        guards=(*GUARDED, "knowledge"),
    ),
    *by_globex(
        "uploads",
        "ingest_via_acme_path",
        "POST",
        "/api/admin/tenants/acme/knowledge",
        user=AR,
        admin=FT,
        body=KNOWLEDGE,
        guards=(*GUARDED, "knowledge"),
    ),
    # The servers' endpoint, with a user's own token.
    *by_globex(
        "uploads",
        "read_for_server",
        "GET",
        "/internal/uploads/{upload_handle}",
        user=(401, "unauthorized"),
        admin=(401, "unauthorized"),
    ),
]


@pytest.mark.parametrize("attempt", HTTP_ATTEMPTS, ids=lambda attempt: attempt.id)
def test_nobody_but_alice_reaches_her_upload_over_http(
    mesh: WholeMesh, acme: AcmeData, attempt: HttpAttempt
) -> None:
    response = attempt_over_http(mesh, acme, attempt)
    if attempt.action.startswith("list") and response.status_code == 200:
        assert response.json()["items"] == []


MCP_ATTEMPTS = [
    # Globex's policy grants no tool that reads files.
    *mcp_by_globex(
        "uploads", "ocr_by_reference", "ocr__ocr_image", {"image": "{upload_reference}"}, "denied"
    ),
    *mcp_by_globex(
        "uploads",
        "ingest_by_reference",
        "rag__ingest_document",
        INGEST,
        "denied",
        guards=(*GUARDED, "knowledge"),
    ),
    # bob's read is allowed, and runs as bob: the server reads the upload as bob, and finds none.
    McpAttempt(
        "uploads",
        "ocr_by_reference",
        "acme_user",
        "ocr__ocr_image",
        {"image": "{upload_reference}"},
        "upload_not_found",
    ),
    # Ingesting changes acme's knowledge: a plain user is refused before any upload is read.
    McpAttempt(
        "uploads",
        "ingest_by_reference",
        "acme_user",
        "rag__ingest_document",
        INGEST,
        "denied",
        guards=(*GUARDED, "knowledge"),
    ),
]


@pytest.mark.parametrize("attempt", MCP_ATTEMPTS, ids=lambda attempt: attempt.id)
def test_no_tool_called_through_mcp_reads_her_upload(
    mesh: WholeMesh, acme: AcmeData, attempt: McpAttempt
) -> None:
    attempt_over_mcp(mesh, acme, f"{mesh.url}/mcp", mesh.token(*ATTACKERS[attempt.attacker]), attempt)


def _on(server: str, attempts: list[McpAttempt]) -> list[McpAttempt]:
    return [dataclasses.replace(attempt, channel=f"{server}_server") for attempt in attempts]


SERVER_ATTEMPTS = [
    *_on(
        "ocr",
        [
            *mcp_by_globex(
                "uploads",
                "ocr_by_reference",
                "ocr_image",
                {"image": "{upload_reference}"},
                "upload_not_found",
            ),
            *mcp_by_globex(
                "uploads",
                "extract_by_reference",
                "extract_invoice_fields",
                {"document": "{upload_reference}"},
                "upload_not_found",
            ),
        ],
    ),
    *_on(
        "rag",
        mcp_by_globex(
            "uploads",
            "ingest_by_reference",
            "ingest_document",
            INGEST,
            "upload_not_found",
            guards=(*GUARDED, "knowledge"),
        ),
    ),
]


@pytest.mark.parametrize("attempt", SERVER_ATTEMPTS, ids=lambda attempt: attempt.id)
def test_a_server_called_with_globex_token_cannot_read_her_upload(
    mesh: WholeMesh, acme: AcmeData, attempt: McpAttempt
) -> None:
    """As if a bug upstream had granted the call: the server reads as globex, and finds nothing."""
    server = attempt.channel.removesuffix("_server")
    token = globex_token(mesh, server, attempt.attacker, [attempt.tool])
    attempt_over_mcp(mesh, acme, mesh.server_urls[server], token, attempt)


@pytest.mark.parametrize(
    "attacker", ["globex_user", "globex_admin"], ids=lambda a: f"uploads-read_for_server-internal-{a}"
)
def test_the_gateway_hands_servers_only_uploads_of_the_tokens_tenant(
    mesh: WholeMesh, acme: AcmeData, attacker: str
) -> None:
    """The mesh token a server holds for a globex call reads globex's uploads, never acme's."""
    token = globex_token(mesh, "ocr", attacker, ["ocr_image"])
    before = snapshot(mesh, acme, GUARDED)
    response = httpx.get(
        f"{mesh.url}/internal/uploads/{acme.upload_handle}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert (response.status_code, response.json()["error"]["code"]) == NOT_FOUND, response.text
    assert leaked(response.text, acme.secrets, sent=acme.upload_handle) == [], response.text
    assert snapshot(mesh, acme, GUARDED) == before


def lifecycle_token(mesh: WholeMesh, server: str, who: tuple[str, ...], scope: str, roles: list[str]) -> str:
    tenant, subject, *_ = who
    settings = mesh.settings
    return mint_server_token(
        mesh_key(settings.keys_dir),
        issuer=settings.mesh_issuer,
        server=server,
        tenant_id=tenant,
        subject=subject,
        tools=[scope],
        roles=roles,
    )


LIFECYCLE_TOKENS = {
    # A tool grant (what any call's token carries), even for acme's own admin.
    "tool_token": lambda mesh, server, scope: globex_token(mesh, server, "globex_admin", ["ingest_document"]),
    "acme_admins_tool_token": lambda mesh, server, scope: lifecycle_token(
        mesh, server, ("acme", "ada"), "ingest_document", ["tenant_admin"]
    ),
    # The right scope without the platform's role.
    "scope_without_platform_role": lambda mesh, server, scope: lifecycle_token(
        mesh, server, ("acme", "ada"), scope, ["tenant_admin"]
    ),
}


@pytest.mark.parametrize(
    ("path", "method", "scope", "kind"),
    [
        (path, method, scope, kind)
        for path, method, scope in (
            ("/internal/tenant/delete", "POST", TENANT_DELETE_SCOPE),
            ("/internal/tenant/export", "GET", TENANT_EXPORT_SCOPE),
        )
        for kind in LIFECYCLE_TOKENS
    ],
    ids=lambda value: str(value).strip("/").replace("/", "_").replace(":", "_"),
)
def test_the_servers_tenant_export_and_deletion_need_a_platform_admins_token(
    mesh: WholeMesh, acme: AcmeData, path: str, method: str, scope: str, kind: str
) -> None:
    before = snapshot(mesh, acme, ("knowledge",))
    url = mesh.server_urls["rag"].removesuffix("/mcp") + path
    token = LIFECYCLE_TOKENS[kind](mesh, "rag", scope)
    response = httpx.request(method, url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert (response.status_code, response.json()["error"]["code"]) == (403, "platform_admin_required")
    unsigned = httpx.request(method, url, timeout=30)
    assert unsigned.status_code == 401, unsigned.text
    assert leaked(response.text + unsigned.text, acme.secrets) == []
    assert snapshot(mesh, acme, ("knowledge",)) == before
    assert fill("{document_id}", acme.fields()) in str(before)  # acme's document was there all along
