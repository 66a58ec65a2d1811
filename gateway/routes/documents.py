"""A user's view of the tenant's knowledge base: `GET /api/{tenant_id}/documents` and one document.

What an answer cites, a user can open: the read goes to the RAG server as the user, through the
host's single-call path, so the tenant's policy decides (`rag:list_documents`, `rag:get_document`)
and the read is audited like any tool call. A document of another tenant is not found, exactly
like one that never existed: the RAG server only ever sees the caller's tenant.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from gateway.auth import AuthenticatedUser, authenticate, require_tenant
from gateway.openapi import Operation
from gateway.rag_calls import call_rag
from gateway.routes.admin.knowledge import DOCUMENT_ID_PATTERN
from gateway.routes.chat import TENANT_PATH
from gateway.state import GatewayState
from host.caller import Caller
from mcp_servers.rag.models import DocumentContent, DocumentList

DOCUMENT_PATH: dict[str, dict[str, Any]] = {
    **TENANT_PATH,
    "document_id": {"type": "string", "pattern": DOCUMENT_ID_PATTERN},
}

LIST = Operation(
    "GET",
    "/api/{tenant_id}/documents",
    "listDocuments",
    "The documents of the tenant's knowledge base (as the tenant's policy lets the caller see them)",
    "documents",
    DocumentList,
    errors=(400, 403, 404, 429, 503),
    path_schemas=TENANT_PATH,
)
READ = Operation(
    "GET",
    "/api/{tenant_id}/documents/{document_id}",
    "readDocument",
    "One document of the tenant's knowledge base with its full text: what a citation points to",
    "documents",
    DocumentContent,
    errors=(400, 403, 404, 429, 503),
    path_schemas=DOCUMENT_PATH,
)


async def _caller(request: Request) -> tuple[GatewayState, Caller, dict[str, str]]:
    state: GatewayState = request.app.state.gateway
    user: AuthenticatedUser = authenticate(request)
    require_tenant(user, request.path_params["tenant_id"])
    await state.tenants.require(user.tenant_id)
    headers = await state.admission.admit(user)
    return state, user.caller(), headers


async def list_documents(request: Request) -> Response:
    state, caller, headers = await _caller(request)
    outcome = await call_rag(state.host, caller, "list_documents", {})
    return LIST.reply(DocumentList.model_validate(outcome.structured), headers=headers)


async def read_document(request: Request) -> Response:
    state, caller, headers = await _caller(request)
    outcome = await call_rag(
        state.host, caller, "get_document", {"document_id": request.path_params["document_id"]}
    )
    return READ.reply(DocumentContent.model_validate(outcome.structured), headers=headers)


operations = [LIST.bind(list_documents), READ.bind(read_document)]
