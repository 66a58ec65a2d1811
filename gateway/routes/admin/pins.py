"""`/api/admin/.../pins`: tools withheld because their definition changed, and accepting them.

A tool whose description or schema changes is withheld from every catalog until an admin accepts
the new definition. Platform admins see and accept every change (`/api/admin/pins`); a tenant
admin sees the changes that concern the tenant (platform tools and its own) and accepts those of
its own tools.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

from gateway.admin_auth import PLATFORM_ADMIN, TENANT_PATH, AdminAccess, platform_admin, tenant_admin
from gateway.errors import ApiError
from gateway.openapi import Operation
from host.pins import PinChange, PinNotFound

TOOL_PATH: dict[str, dict[str, Any]] = {
    "server": {"type": "string", "pattern": r"^[a-z][a-z0-9-]{0,31}$"},
    "tool": {"type": "string", "pattern": r"^[A-Za-z0-9_.-]{1,128}$"},
}


class PinChangeList(BaseModel):
    """Tools withheld until their new definition is accepted."""

    items: list[PinChange]


class PinAccepted(BaseModel):
    """The new definition is accepted: the tool is served again from the next turn."""

    server: str
    tool: str
    accepted_by: str


LIST_ALL = Operation(
    "GET",
    "/api/admin/pins",
    "listPinChanges",
    "List every withheld tool change",
    "pins",
    PinChangeList,
    errors=(403,),
)
ACCEPT_ANY = Operation(
    "POST",
    "/api/admin/pins/{server}/{tool}/accept",
    "acceptPinChange",
    "Accept a tool's new definition",
    "pins",
    PinAccepted,
    errors=(403, 404),
    path_schemas=TOOL_PATH,
)
LIST_TENANT = Operation(
    "GET",
    "/api/admin/tenants/{tenant_id}/pins",
    "listTenantPinChanges",
    "List withheld tool changes that concern the tenant",
    "pins",
    PinChangeList,
    errors=(403, 404),
    path_schemas=TENANT_PATH,
)
ACCEPT_TENANT = Operation(
    "POST",
    "/api/admin/tenants/{tenant_id}/pins/{server}/{tool}/accept",
    "acceptTenantPinChange",
    "Accept the new definition of one of the tenant's own tools",
    "pins",
    PinAccepted,
    errors=(403, 404),
    path_schemas={**TENANT_PATH, **TOOL_PATH},
)


async def _accept(access: AdminAccess, request: Request, operation: Operation) -> Response:
    server, tool = request.path_params["server"], request.path_params["tool"]
    await access.state.admin.pins.accept(server, tool, accepted_by=access.principal)
    return operation.reply(PinAccepted(server=server, tool=tool, accepted_by=access.principal))


async def list_all(request: Request) -> Response:
    access = platform_admin(request)
    return LIST_ALL.reply(PinChangeList(items=await access.state.admin.pins.changed()))


async def accept_any(request: Request) -> Response:
    # The pin store audits the acceptance itself, under the tool's owner.
    return await _accept(platform_admin(request), request, ACCEPT_ANY)


async def list_tenant(request: Request) -> Response:
    access = await tenant_admin(request)
    return LIST_TENANT.reply(PinChangeList(items=await access.state.admin.pins.changed(access.tenant_id)))


async def accept_tenant(request: Request) -> Response:
    access = await tenant_admin(request)
    server, tool = request.path_params["server"], request.path_params["tool"]
    change = next(
        (
            c
            for c in await access.state.admin.pins.changed(access.tenant_id)
            if (c.server, c.tool) == (server, tool)
        ),
        None,
    )
    if change is None:
        raise PinNotFound(f"'{server}:{tool}' has no changed definition waiting for this tenant")
    if change.owner_tenant != access.tenant_id and access.role != PLATFORM_ADMIN:
        raise ApiError(
            "platform_tool",
            f"'{server}:{tool}' serves every tenant: a platform admin accepts its new definition",
        )
    return await _accept(access, request, ACCEPT_TENANT)


operations = [
    LIST_ALL.bind(list_all),
    ACCEPT_ANY.bind(accept_any),
    LIST_TENANT.bind(list_tenant),
    ACCEPT_TENANT.bind(accept_tenant),
]
