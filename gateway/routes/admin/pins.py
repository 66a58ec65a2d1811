"""`/api/admin/.../pins`: tools withheld because their definition changed, and accepting them.

A tool whose description or schema changes is withheld from every catalog until an admin accepts
the new definition. Platform admins see and accept every change (`/api/admin/pins`); a tenant
admin sees the changes that concern the tenant (platform tools and its own) and accepts those of
its own tools. Each change carries both definitions, so an admin reads the difference before
deciding. Rejecting keeps the tool withheld (its accepted definition stays the pinned one) and
records who rejected which definition; the change stays listed until the server serves the
accepted definition again or an admin accepts a new one.
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


class PinRejected(BaseModel):
    """The new definition is rejected: the tool stays withheld."""

    server: str
    tool: str
    pending_hash: str
    rejected_by: str
    withheld: bool = True


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


REJECT_ANY = Operation(
    "POST",
    "/api/admin/pins/{server}/{tool}/reject",
    "rejectPinChange",
    "Reject a tool's new definition: it stays withheld",
    "pins",
    PinRejected,
    errors=(403, 404),
    path_schemas=TOOL_PATH,
)
REJECT_TENANT = Operation(
    "POST",
    "/api/admin/tenants/{tenant_id}/pins/{server}/{tool}/reject",
    "rejectTenantPinChange",
    "Reject the new definition of one of the tenant's own tools: it stays withheld",
    "pins",
    PinRejected,
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


async def _tenant_change(access: AdminAccess, request: Request, verb: str) -> PinChange:
    """The tenant's pending change of the path's tool, which this admin may decide on."""
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
            f"'{server}:{tool}' serves every tenant: a platform admin {verb} its new definition",
        )
    return change


async def accept_tenant(request: Request) -> Response:
    access = await tenant_admin(request)
    await _tenant_change(access, request, "accepts")
    return await _accept(access, request, ACCEPT_TENANT)


async def _reject(access: AdminAccess, change: PinChange, operation: Operation) -> Response:
    await access.record(
        "pin.reject",
        change.qualified_name,
        effect="withheld",
        detail={"pending_hash": change.pending_hash, "accepted_hash": change.accepted_hash},
        tenant_id=change.owner_tenant,
    )
    return operation.reply(
        PinRejected(
            server=change.server,
            tool=change.tool,
            pending_hash=change.pending_hash,
            rejected_by=access.principal,
        )
    )


async def reject_any(request: Request) -> Response:
    access = platform_admin(request)
    server, tool = request.path_params["server"], request.path_params["tool"]
    change = next(
        (c for c in await access.state.admin.pins.changed() if (c.server, c.tool) == (server, tool)), None
    )
    if change is None:
        raise ApiError(PinNotFound.code, f"'{server}:{tool}' has no changed definition waiting")
    return await _reject(access, change, REJECT_ANY)


async def reject_tenant(request: Request) -> Response:
    access = await tenant_admin(request)
    change = await _tenant_change(access, request, "rejects")
    return await _reject(access, change, REJECT_TENANT)


operations = [
    LIST_ALL.bind(list_all),
    ACCEPT_ANY.bind(accept_any),
    LIST_TENANT.bind(list_tenant),
    ACCEPT_TENANT.bind(accept_tenant),
    REJECT_ANY.bind(reject_any),
    REJECT_TENANT.bind(reject_tenant),
]
