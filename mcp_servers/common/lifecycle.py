"""A tenant's data on a domain server, exported or deleted on the platform's authority.

The stores of the RAG, search and OCR servers belong to those processes, so the gateway asks them:
`GET /internal/tenant/export` (JSON lines) and `POST /internal/tenant/delete` (what was removed),
HTTP routes beside `/mcp`, never MCP tools (no catalog, policy or `/mcp` client can reach them).
Each needs a mesh token minted for this server carrying the scope the gateway gives only to a
platform admin's export or deletion (`tenant:export`, `tenant:delete`) and the `platform_admin`
role. The tenant is the token's, never a parameter.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import structlog
from mcp.server.mcpserver import MCPServer
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from agentmesh.mesh_tokens import (
    LISTING_TENANT,
    TENANT_DELETE_SCOPE,
    TENANT_EXPORT_SCOPE,
    MeshTokenError,
    verify_server_token,
)
from agentmesh.settings import Settings
from mcp_servers.common.auth import mesh_jwks

log = structlog.get_logger(__name__)

TENANT_DELETE_PATH = "/internal/tenant/delete"
TENANT_EXPORT_PATH = "/internal/tenant/export"
PLATFORM_ADMIN = "platform_admin"
JSON_LINES = "application/x-ndjson"

TenantDeleter = Callable[[str], Awaitable[dict[str, int]]]
"""Deletes everything the server keeps of a tenant; how much of each kind there was."""
TenantExporter = Callable[[str], AsyncIterator[dict[str, Any]]]
"""Everything the server keeps of a tenant, one JSON-ready record at a time."""


def _refusal(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message, "details": None}}, status_code=status)


def serve_tenant_lifecycle(
    server: MCPServer,
    name: str,
    settings: Settings,
    *,
    delete: TenantDeleter,
    export: TenantExporter | None = None,
) -> None:
    """Add the tenant export (when the server has something to export) and deletion routes."""
    jwks = mesh_jwks(settings)

    def tenant_of(request: Request, scope: str) -> str | JSONResponse:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return _refusal(401, "unauthorized", "a mesh token is required")
        try:
            claims = verify_server_token(token.strip(), jwks=jwks, issuer=settings.mesh_issuer, server=name)
        except MeshTokenError as exc:
            return _refusal(401, "unauthorized", str(exc))
        if (
            scope not in claims.tools
            or PLATFORM_ADMIN not in claims.roles
            or claims.tenant_id == LISTING_TENANT
        ):
            return _refusal(403, "platform_admin_required", f"this needs a platform admin's '{scope}' token")
        return claims.tenant_id

    @server.custom_route(TENANT_DELETE_PATH, methods=["POST"])
    async def delete_tenant(request: Request) -> Response:
        tenant_id = tenant_of(request, TENANT_DELETE_SCOPE)
        if isinstance(tenant_id, Response):
            return tenant_id
        removed = await delete(tenant_id)
        log.info("tenant_data_deleted", server=name, tenant_id=tenant_id, **removed)
        return JSONResponse({"server": name, "tenant_id": tenant_id, "removed": removed})

    if export is None:
        return

    @server.custom_route(TENANT_EXPORT_PATH, methods=["GET"])
    async def export_tenant(request: Request) -> Response:
        tenant_id = tenant_of(request, TENANT_EXPORT_SCOPE)
        if isinstance(tenant_id, Response):
            return tenant_id

        async def lines() -> AsyncIterator[bytes]:
            async for record in export(tenant_id):
                yield json.dumps(record, ensure_ascii=False, default=str).encode() + b"\n"

        return StreamingResponse(lines(), media_type=JSON_LINES)
