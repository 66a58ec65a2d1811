"""`/api/admin/tenants`: the tenants of the platform (created and listed by platform admins).

A platform admin also exports a tenant (`GET .../export`: a tar.gz of everything the platform
keeps of it, `gateway.tenant_export`) and deletes it from every store (`DELETE`: idempotent,
audited under the platform, `gateway.tenant_deletion`). The platform's own scope cannot be
deleted, nor the tenant the admin's own token belongs to.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import IntegrityError
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import FileResponse, Response

from gateway.admin_auth import PLATFORM_SCOPE, TENANT_PATH, platform_admin, tenant_admin
from gateway.errors import ApiError
from gateway.openapi import Operation
from gateway.tables import TenantRow
from gateway.tenant_deletion import TenantDeletion, TenantDeletionReport, incomplete
from gateway.tenant_export import TenantExport

TENANT_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"


class TenantIn(BaseModel):
    """A new tenant. Its policy starts empty: it may use nothing until granted."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=TENANT_ID_PATTERN, description="lower-case id used in URLs and tokens")
    name: str = Field(min_length=1, max_length=200)


class TenantUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)


class TenantView(BaseModel):
    """A tenant."""

    id: str
    name: str
    created_at: datetime

    @classmethod
    def of(cls, row: TenantRow) -> TenantView:
        return cls(id=row.id, name=row.name, created_at=row.created_at)


class TenantList(BaseModel):
    """Every tenant, by id."""

    items: list[TenantView]


LIST = Operation(
    "GET", "/api/admin/tenants", "listTenants", "List every tenant", "tenants", TenantList, errors=(403,)
)
CREATE = Operation(
    "POST",
    "/api/admin/tenants",
    "createTenant",
    "Create a tenant",
    "tenants",
    TenantView,
    body=TenantIn,
    status=201,
    errors=(400, 403, 409, 413),
)
GET = Operation(
    "GET",
    "/api/admin/tenants/{tenant_id}",
    "getTenant",
    "Read one tenant (its own admins, or a platform admin)",
    "tenants",
    TenantView,
    errors=(403, 404),
    path_schemas=TENANT_PATH,
)
UPDATE = Operation(
    "PATCH",
    "/api/admin/tenants/{tenant_id}",
    "renameTenant",
    "Rename a tenant",
    "tenants",
    TenantView,
    body=TenantUpdate,
    errors=(400, 403, 404, 413),
    path_schemas=TENANT_PATH,
)


EXPORT = Operation(
    "GET",
    "/api/admin/tenants/{tenant_id}/export",
    "exportTenant",
    "Export everything the platform keeps of a tenant, as a tar.gz with a manifest",
    "tenants",
    None,
    errors=(403, 404, 503),
    description=(
        "`manifest.json` first (what each file is, their SHA-256, the secret columns left out), then "
        "the tenant's rows of every table, its effective policy, what the MCP servers keep of it "
        "(knowledge documents with their text and chunks) and its uploads. Keys are never exported."
    ),
    media_type="application/gzip",
    path_schemas=TENANT_PATH,
)
DELETE = Operation(
    "DELETE",
    "/api/admin/tenants/{tenant_id}",
    "deleteTenant",
    "Delete a tenant from every store (idempotent; audited under the platform)",
    "tenants",
    TenantDeletionReport,
    errors=(403, 409, 503),
    description=(
        "Its SQL rows in every table, its Redis keys, its vector points and ingestion jobs, page "
        "index, OCR folder, uploads, recorded episodes, keys and cached objects. A server that "
        "cannot be reached leaves its part: the answer is 503 with what was done, and deleting "
        "again finishes the job."
    ),
    path_schemas=TENANT_PATH,
)


def _deletable(tenant_id: str, admin_tenant: str) -> None:
    if tenant_id == PLATFORM_SCOPE:
        raise ApiError("tenant_reserved", "the platform's own scope is not a tenant and cannot be deleted")
    if tenant_id == admin_tenant:
        raise ApiError("tenant_reserved", f"'{tenant_id}' is the tenant your own token belongs to")


async def list_tenants(request: Request) -> Response:
    access = platform_admin(request)
    rows = await access.state.tenants.all()
    return LIST.reply(TenantList(items=[TenantView.of(row) for row in rows]))


async def create_tenant(request: Request) -> Response:
    access = platform_admin(request)
    body = await CREATE.read_body(request, access.state.settings.max_body_bytes)
    try:
        async with access.state.db() as db, db.begin():
            row = TenantRow(id=body.id, name=body.name)
            db.add(row)
    except IntegrityError as exc:
        raise ApiError("tenant_exists", f"tenant '{body.id}' already exists") from exc
    await access.record("tenant.create", f"tenant:{body.id}", arguments=body.model_dump(), tenant_id=body.id)
    return CREATE.reply(TenantView.of(row))


async def _row(request: Request, tenant_id: str) -> TenantRow:
    async with request.app.state.gateway.db() as db:
        row = await db.get(TenantRow, tenant_id)
    if row is None:
        raise ApiError("unknown_tenant", f"tenant '{tenant_id}' does not exist")
    return row


async def get_tenant(request: Request) -> Response:
    access = await tenant_admin(request, must_exist=False)
    assert access.tenant_id is not None
    return GET.reply(TenantView.of(await _row(request, access.tenant_id)))


async def rename_tenant(request: Request) -> Response:
    access = platform_admin(request)
    tenant_id = request.path_params["tenant_id"]
    body = await UPDATE.read_body(request, access.state.settings.max_body_bytes)
    async with access.state.db() as db, db.begin():
        row = await db.get(TenantRow, tenant_id, with_for_update=True)
        if row is None:
            raise ApiError("unknown_tenant", f"tenant '{tenant_id}' does not exist")
        row.name = body.name
    await access.record(
        "tenant.rename", f"tenant:{tenant_id}", arguments=body.model_dump(), tenant_id=tenant_id
    )
    return UPDATE.reply(TenantView.of(row))


async def export_tenant(request: Request) -> Response:
    access = platform_admin(request)
    tenant_id = request.path_params["tenant_id"]
    await _row(request, tenant_id)
    archive = await TenantExport(access.state).archive(tenant_id, exported_by=access.principal)
    await access.record(
        "tenant.export", f"tenant:{tenant_id}", detail={"bytes": archive.stat().st_size}, tenant_id=tenant_id
    )
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return FileResponse(
        archive,
        media_type=EXPORT.media_type,
        filename=f"agentmesh-{tenant_id}-{stamp}.tar.gz",
        background=BackgroundTask(shutil.rmtree, archive.parent, ignore_errors=True),
    )


async def delete_tenant(request: Request) -> Response:
    access = platform_admin(request)
    tenant_id = request.path_params["tenant_id"]
    _deletable(tenant_id, access.user.tenant_id)
    report = await TenantDeletion(access.state).delete(tenant_id, deleted_by=access.principal)
    # Filed under the platform: the tenant's own audit log went with it.
    await access.record(
        "tenant.delete",
        f"tenant:{tenant_id}",
        effect="ok" if report.complete else "partial",
        detail=report.model_dump(mode="json", exclude={"tenant_id"}),
    )
    if not report.complete:
        raise incomplete(report)
    return DELETE.reply(report)


operations = [
    LIST.bind(list_tenants),
    CREATE.bind(create_tenant),
    GET.bind(get_tenant),
    UPDATE.bind(rename_tenant),
    EXPORT.bind(export_tenant),
    DELETE.bind(delete_tenant),
]
