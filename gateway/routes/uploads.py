"""`/api/{tenant_id}/uploads`: files handed to tools by reference, and their bytes for the servers.

A user uploads a document or a photo once (`POST`, the file as the raw body or a multipart `file`
part) and gets a handle and its reference `upload://<handle>`, which a chat attachment, a
knowledge upload or any tool argument (through `/mcp` too) may then name instead of base64. An
upload is its tenant's, visible to the user who made it and to the tenant's admins; any other
caller (another user, another tenant) gets the 404 of an upload that never existed.

`GET /internal/uploads/{handle}` is how an MCP server reads the bytes a reference names: it
presents the mesh token of the call it is serving (`gateway.mesh_callers`) and gets only uploads
of that token's tenant and user.

Bytes are always served as `application/octet-stream` with `Content-Disposition: attachment`:
a tenant's file is never rendered by a browser on the gateway's origin.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from agentmesh.uploads import HANDLE_PATTERN, INTERNAL_UPLOADS_PATH
from gateway.auth import AuthenticatedUser, authenticate, require_tenant
from gateway.file_bodies import file_body
from gateway.openapi import Operation
from gateway.routes.chat import TENANT_PATH
from gateway.state import GatewayState
from gateway.uploads import UploadInfo

OCTET_STREAM = "application/octet-stream"
HANDLE_SCHEMA: dict[str, Any] = {"type": "string", "pattern": HANDLE_PATTERN}
UPLOAD_PATH: dict[str, dict[str, Any]] = {**TENANT_PATH, "handle": HANDLE_SCHEMA}


class UploadQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    filename: str | None = Field(
        default=None, min_length=1, max_length=255, description="the file's name, with its extension"
    )


class UploadView(BaseModel):
    """An upload: hand `reference` to a tool, a chat attachment or a knowledge upload."""

    handle: str
    reference: str = Field(description="`upload://<handle>`")
    filename: str
    media_type: str
    size_bytes: int
    sha256: str
    uploaded_by: str
    created_at: datetime
    expires_at: datetime = Field(
        description="when the upload is deleted (it is also deleted with its tenant)"
    )

    @classmethod
    def of(cls, info: UploadInfo) -> UploadView:
        return cls.model_validate(info.model_dump(exclude={"tenant_id"}))


class UploadList(BaseModel):
    """The caller's uploads, newest first."""

    items: list[UploadView]


CREATE = Operation(
    "POST",
    "/api/{tenant_id}/uploads",
    "createUpload",
    "Upload a file (raw body or multipart `file`) to hand to tools as `upload://<handle>`",
    "uploads",
    UploadView,
    query=UploadQuery,
    status=201,
    errors=(400, 403, 404, 413, 429),
    file_body=True,
    path_schemas=TENANT_PATH,
)
LIST = Operation(
    "GET",
    "/api/{tenant_id}/uploads",
    "listUploads",
    "The caller's own uploads, newest first",
    "uploads",
    UploadList,
    errors=(400, 403, 404, 429),
    path_schemas=TENANT_PATH,
)
GET = Operation(
    "GET",
    "/api/{tenant_id}/uploads/{handle}",
    "getUpload",
    "One upload's description (its uploader or a tenant admin)",
    "uploads",
    UploadView,
    errors=(400, 403, 404, 429),
    path_schemas=UPLOAD_PATH,
)
CONTENT = Operation(
    "GET",
    "/api/{tenant_id}/uploads/{handle}/content",
    "getUploadContent",
    "One upload's bytes, as an attachment (its uploader or a tenant admin)",
    "uploads",
    None,
    errors=(400, 403, 404, 429),
    media_type=OCTET_STREAM,
    path_schemas=UPLOAD_PATH,
)
DELETE = Operation(
    "DELETE",
    "/api/{tenant_id}/uploads/{handle}",
    "deleteUpload",
    "Delete an upload now (its uploader or a tenant admin)",
    "uploads",
    None,
    status=204,
    errors=(400, 403, 404, 429),
    path_schemas=UPLOAD_PATH,
)
INTERNAL = Operation(
    "GET",
    INTERNAL_UPLOADS_PATH + "/{handle}",
    "readUploadForServer",
    "An upload's bytes for the MCP server serving a call (the call's mesh token, not a user token)",
    "internal",
    None,
    errors=(400, 404),
    media_type=OCTET_STREAM,
    path_schemas={"handle": HANDLE_SCHEMA},
)


async def _visible(state: GatewayState, user: AuthenticatedUser, handle: str) -> UploadInfo:
    return await state.uploads.usable(user.tenant_id, handle, subject=user.subject, roles=user.roles)


async def _caller(request: Request) -> tuple[GatewayState, AuthenticatedUser, dict[str, str]]:
    state: GatewayState = request.app.state.gateway
    user = authenticate(request)
    require_tenant(user, request.path_params["tenant_id"])
    await state.tenants.require(user.tenant_id)
    return state, user, await state.admission.admit(user)


def _attachment(filename: str) -> str:
    # RFC 6266: a plain name as is, anything else percent-encoded in `filename*`.
    quoted = quote(filename)
    if quoted == filename:
        return f'attachment; filename="{filename}"'
    return f"attachment; filename*=utf-8''{quoted}"


def _bytes(state: GatewayState, info: UploadInfo, headers: dict[str, str] | None = None) -> Response:
    return StreamingResponse(
        state.uploads.chunks(info),
        media_type=OCTET_STREAM,
        headers={
            **(headers or {}),
            "Content-Length": str(info.size_bytes),
            "Content-Disposition": _attachment(info.filename),
            "X-Content-Type-Options": "nosniff",
            "X-Upload-Media-Type": info.media_type,
            "X-Upload-Filename": quote(info.filename, safe=""),
        },
    )


async def create_upload(request: Request) -> Response:
    state, user, headers = await _caller(request)
    query = CREATE.read_query(request)
    body = await file_body(request)
    info = await state.uploads.save(
        user.tenant_id,
        uploaded_by=user.subject,
        filename=query.filename or body.filename,
        media_type=body.media_type,
        chunks=body.chunks,
        declared_size=body.declared_size,
    )
    return CREATE.reply(UploadView.of(info), headers=headers)


async def list_uploads(request: Request) -> Response:
    state, user, headers = await _caller(request)
    items = await state.uploads.list(user.tenant_id, uploaded_by=user.subject)
    return LIST.reply(UploadList(items=[UploadView.of(info) for info in items]), headers=headers)


async def get_upload(request: Request) -> Response:
    state, user, headers = await _caller(request)
    info = await _visible(state, user, request.path_params["handle"])
    return GET.reply(UploadView.of(info), headers=headers)


async def get_content(request: Request) -> Response:
    state, user, headers = await _caller(request)
    return _bytes(state, await _visible(state, user, request.path_params["handle"]), headers)


async def delete_upload(request: Request) -> Response:
    state, user, headers = await _caller(request)
    info = await _visible(state, user, request.path_params["handle"])
    await state.uploads.delete(user.tenant_id, info.handle)
    return DELETE.reply(headers=headers)


async def read_for_server(request: Request) -> Response:
    state: GatewayState = request.app.state.gateway
    claims = state.mesh_callers.verify(request)
    handle = request.path_params["handle"]
    info = await state.uploads.usable(claims.tenant_id, handle, subject=claims.sub, roles=claims.roles)
    return _bytes(state, info)


operations = [
    CREATE.bind(create_upload),
    LIST.bind(list_uploads),
    GET.bind(get_upload),
    CONTENT.bind(get_content),
    DELETE.bind(delete_upload),
    INTERNAL.bind(read_for_server),
]
