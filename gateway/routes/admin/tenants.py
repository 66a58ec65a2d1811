"""`/api/admin/tenants`: the tenants of the platform (created and listed by platform admins)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import IntegrityError
from starlette.requests import Request
from starlette.responses import Response

from gateway.admin_auth import TENANT_PATH, platform_admin, tenant_admin
from gateway.errors import ApiError
from gateway.openapi import Operation
from gateway.tables import TenantRow

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


operations = [
    LIST.bind(list_tenants),
    CREATE.bind(create_tenant),
    GET.bind(get_tenant),
    UPDATE.bind(rename_tenant),
]
