"""`/api/admin/tenants/{tenant_id}/knowledge`: the tenant's knowledge base on the RAG server.

Uploads go to the RAG server's `ingest_document` tool as that tenant, through
`AgentHost.call_tool`: the tenant's policy decides (a tenant not granted `rag:ingest_document`
cannot upload), the call is audited, and the RAG server sees an audience-bound mesh token for
the tenant, never the admin's own token. Large files become ingestion jobs to poll.

The file travels by reference: it is stored in the tenant's upload store (or is already there,
named by `upload`) and the tool receives `upload://<handle>`, which the RAG server reads back
from the gateway with its mesh token. The tool arguments stay small, so the policy's cap on
them (64 KiB in the base policy) protects the server without refusing a 10 MB PDF.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from starlette.requests import Request
from starlette.responses import Response

from agentmesh.uploads import handle_of
from gateway.admin_auth import TENANT_PATH, AdminAccess, tenant_admin
from gateway.file_bodies import file_body
from gateway.openapi import Operation
from gateway.rag_calls import call_rag
from gateway.schemas import UPLOAD_REFERENCE_PATTERN
from gateway.uploads import UploadInfo
from host.caller import Caller
from host.executor import ToolOutcome
from mcp_servers.rag.models import DeletedDocument, DocumentContent, DocumentList, IngestJob, IngestOutcome

JSON_OVERHEAD_BYTES = 64 * 1024
DOCUMENT_ID_PATTERN = r"^[A-Za-z0-9._-]{1,128}$"


class KnowledgeUpload(BaseModel):
    """A document for the knowledge base: text, Markdown, HTML or PDF, as base64 or an earlier upload."""

    model_config = ConfigDict(extra="forbid")

    filename: str = Field(
        min_length=1, max_length=255, description="with its extension: .txt, .md, .html, .pdf"
    )
    content_base64: str | None = Field(default=None, min_length=4, description="the file, base64-encoded")
    upload: str | None = Field(
        default=None,
        pattern=UPLOAD_REFERENCE_PATTERN,
        description="instead of content_base64: `upload://<handle>` of a file uploaded to the tenant",
    )
    title: str | None = Field(default=None, min_length=1, max_length=300)
    metadata: dict[str, Any] | None = Field(default=None, description="fields to filter searches on later")
    document_id: str | None = Field(
        default=None, pattern=DOCUMENT_ID_PATTERN, description="replace this document"
    )
    mime_type: str | None = Field(default=None, max_length=100)

    @field_validator("content_base64")
    @classmethod
    def _is_base64(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValueError("content_base64 is not valid base64") from exc
        return value

    @model_validator(mode="after")
    def _one_source(self) -> KnowledgeUpload:
        if (self.content_base64 is None) == (self.upload is None):
            raise ValueError("send the document as content_base64 or as upload, not both or neither")
        return self


class KnowledgeFileQuery(BaseModel):
    """How to file a document sent as the request body itself (raw or multipart)."""

    model_config = ConfigDict(extra="forbid")

    filename: str | None = Field(
        default=None, min_length=1, max_length=255, description="with its extension (else the part's name)"
    )
    title: str | None = Field(default=None, min_length=1, max_length=300)
    document_id: str | None = Field(
        default=None, pattern=DOCUMENT_ID_PATTERN, description="replace this document"
    )


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
    query=KnowledgeFileQuery,
    errors=(400, 403, 404, 413, 502, 503, 504),
    description=(
        "The document is a JSON body (base64, or `upload` naming an earlier upload), or the file "
        "itself as the body (raw with its `Content-Type`, or multipart `file`; `filename`, `title` "
        "and `document_id` as query parameters). Either way it reaches the RAG server by reference, "
        "so files far larger than the policy's tool-argument cap are accepted."
    ),
    file_body=True,
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
    assert access.tenant_id is not None
    stored, kept, arguments = await _stored_document(request, access)
    try:
        outcome = await _call(access, "ingest_document", {**arguments, "content_base64": stored.reference})
    finally:
        if not kept:  # the RAG server has read it (queued jobs too): the transient copy goes
            await access.state.uploads.delete(access.tenant_id, stored.handle)
    result = IngestOutcome.model_validate(outcome.structured)
    await access.record(
        "knowledge.upload",
        f"document:{result.document_id or arguments['filename']}",
        arguments=arguments,
        detail={"status": result.status, "bytes": stored.size_bytes},
    )
    return UPLOAD.reply(result)


async def _stored_document(request: Request, access: AdminAccess) -> tuple[UploadInfo, bool, dict[str, Any]]:
    """The document as an upload of the tenant, whether it is the admin's own upload (kept after
    ingestion), and the other arguments of `ingest_document`."""
    assert access.tenant_id is not None
    state, tenant_id = access.state, access.tenant_id
    if _is_json(request):
        settings = state.settings
        max_bytes = (
            min(settings.rag_max_upload_bytes, settings.upload_max_bytes) * 4 // 3 + JSON_OVERHEAD_BYTES
        )
        body = await UPLOAD.read_body(request, max_bytes)
        arguments = body.model_dump(exclude_none=True, exclude={"content_base64", "upload"})
        if body.upload is not None:
            info = await state.uploads.usable(
                tenant_id, handle_of(body.upload), subject=access.user.subject, roles=access.user.roles
            )
            return info, True, arguments
        assert body.content_base64 is not None
        info = await state.uploads.save_bytes(
            tenant_id,
            uploaded_by=access.user.subject,
            filename=body.filename,
            media_type=body.mime_type,
            data=base64.b64decode(body.content_base64),
        )
        return info, False, arguments
    query = UPLOAD.read_query(request)
    file = await file_body(request)
    info = await state.uploads.save(
        tenant_id,
        uploaded_by=access.user.subject,
        filename=query.filename or file.filename,
        media_type=file.media_type,
        chunks=file.chunks,
        declared_size=file.declared_size,
    )
    arguments = {"filename": info.filename, **query.model_dump(exclude_none=True, exclude={"filename"})}
    return info, False, arguments


def _is_json(request: Request) -> bool:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return media_type == "application/json" or media_type.endswith("+json")


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
