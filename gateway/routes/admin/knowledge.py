"""`/api/admin/tenants/{tenant_id}/knowledge`: the tenant's knowledge base on the RAG server.

Uploads go to the RAG server's `ingest_document` tool as that tenant, through
`AgentHost.call_tool`: the tenant's policy decides (a tenant not granted `rag:ingest_document`
cannot upload), the call is audited, and the RAG server sees an audience-bound mesh token for
the tenant, never the admin's own token. Large files become ingestion jobs to poll.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.requests import Request
from starlette.responses import Response

from gateway.admin_auth import TENANT_PATH, AdminAccess, tenant_admin
from gateway.openapi import Operation
from gateway.rag_calls import call_rag
from host.caller import Caller
from host.executor import ToolOutcome
from mcp_servers.rag.models import DeletedDocument, DocumentContent, DocumentList, IngestJob, IngestOutcome

JSON_OVERHEAD_BYTES = 64 * 1024
DOCUMENT_ID_PATTERN = r"^[A-Za-z0-9._-]{1,128}$"


class KnowledgeUpload(BaseModel):
    """A document for the knowledge base: text, Markdown, HTML or PDF, base64-encoded."""

    model_config = ConfigDict(extra="forbid")

    filename: str = Field(
        min_length=1, max_length=255, description="with its extension: .txt, .md, .html, .pdf"
    )
    content_base64: str = Field(min_length=4)
    title: str | None = Field(default=None, min_length=1, max_length=300)
    metadata: dict[str, Any] | None = Field(default=None, description="fields to filter searches on later")
    document_id: str | None = Field(
        default=None, pattern=DOCUMENT_ID_PATTERN, description="replace this document"
    )
    mime_type: str | None = Field(default=None, max_length=100)

    @field_validator("content_base64")
    @classmethod
    def _is_base64(cls, value: str) -> str:
        try:
            base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValueError("content_base64 is not valid base64") from exc
        return value


JOB_PATH: dict[str, dict[str, Any]] = {
    **TENANT_PATH,
    "job_id": {"type": "string", "pattern": r"^[A-Za-z0-9_-]{1,64}$"},
}
DOCUMENT_PATH: dict[str, dict[str, Any]] = {
    **TENANT_PATH,
    "document_id": {"type": "string", "pattern": DOCUMENT_ID_PATTERN},
}

UPLOAD = Operation(
    "POST",
    "/api/admin/tenants/{tenant_id}/knowledge",
    "uploadKnowledge",
    "Add or replace a document in the tenant's knowledge base",
    "knowledge",
    IngestOutcome,
    body=KnowledgeUpload,
    errors=(400, 403, 404, 413, 502, 503, 504),
    path_schemas=TENANT_PATH,
)
LIST = Operation(
    "GET",
    "/api/admin/tenants/{tenant_id}/knowledge",
    "listKnowledge",
    "List the documents of the tenant's knowledge base",
    "knowledge",
    DocumentList,
    errors=(403, 404, 502, 503, 504),
    path_schemas=TENANT_PATH,
)
JOB = Operation(
    "GET",
    "/api/admin/tenants/{tenant_id}/knowledge/jobs/{job_id}",
    "getKnowledgeJob",
    "Follow a large upload's ingestion job",
    "knowledge",
    IngestJob,
    errors=(400, 403, 404, 502, 503, 504),
    path_schemas=JOB_PATH,
)
READ = Operation(
    "GET",
    "/api/admin/tenants/{tenant_id}/knowledge/{document_id}",
    "readKnowledge",
    "Read one document of the tenant's knowledge base with its full text",
    "knowledge",
    DocumentContent,
    errors=(400, 403, 404, 503),
    path_schemas=DOCUMENT_PATH,
)
DELETE = Operation(
    "DELETE",
    "/api/admin/tenants/{tenant_id}/knowledge/{document_id}",
    "deleteKnowledge",
    "Remove a document and all its passages",
    "knowledge",
    DeletedDocument,
    errors=(400, 403, 404, 502, 503, 504),
    path_schemas=DOCUMENT_PATH,
)


async def _call(access: AdminAccess, tool: str, arguments: dict[str, Any]) -> ToolOutcome:
    assert access.tenant_id is not None
    caller = Caller(tenant_id=access.tenant_id, subject=access.user.subject, roles=access.user.roles)
    return await call_rag(access.state.host, caller, tool, arguments)


async def upload(request: Request) -> Response:
    access = await tenant_admin(request)
    max_bytes = access.state.settings.rag_max_upload_bytes * 4 // 3 + JSON_OVERHEAD_BYTES
    body = await UPLOAD.read_body(request, max_bytes)
    outcome = await _call(access, "ingest_document", body.model_dump(exclude_none=True))
    result = IngestOutcome.model_validate(outcome.structured)
    await access.record(
        "knowledge.upload",
        f"document:{result.document_id or body.filename}",
        arguments=body.model_dump(exclude={"content_base64"}),
        detail={"status": result.status, "bytes": len(body.content_base64) * 3 // 4},
    )
    return UPLOAD.reply(result)


async def list_documents(request: Request) -> Response:
    access = await tenant_admin(request)
    outcome = await _call(access, "list_documents", {})
    return LIST.reply(DocumentList.model_validate(outcome.structured))


async def job_status(request: Request) -> Response:
    access = await tenant_admin(request)
    outcome = await _call(access, "ingest_status", {"job_id": request.path_params["job_id"]})
    return JOB.reply(IngestJob.model_validate(outcome.structured))


async def read_document(request: Request) -> Response:
    access = await tenant_admin(request)
    outcome = await _call(access, "get_document", {"document_id": request.path_params["document_id"]})
    return READ.reply(DocumentContent.model_validate(outcome.structured))


async def delete_document(request: Request) -> Response:
    access = await tenant_admin(request)
    document_id = request.path_params["document_id"]
    outcome = await _call(access, "delete_document", {"document_id": document_id})
    await access.record("knowledge.delete", f"document:{document_id}")
    return DELETE.reply(DeletedDocument.model_validate(outcome.structured))


operations = [
    UPLOAD.bind(upload),
    LIST.bind(list_documents),
    JOB.bind(job_status),
    READ.bind(read_document),
    DELETE.bind(delete_document),
]
