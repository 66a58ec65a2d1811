"""`/api/admin/tenants/{tenant_id}/audit`: a tenant's audit log, newest first, never another's,
filtered by action, resource, principal or effect."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import Response

from gateway.admin_auth import TENANT_PATH, tenant_admin
from gateway.openapi import Operation
from policies.audit import AuditEvent


class AuditQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=100, ge=1, le=500, description="events per page")
    before_id: int | None = Field(
        default=None, ge=1, le=2**63 - 1, description="return events older than this id"
    )
    action: str | None = Field(
        default=None, max_length=100, description="actions starting with this (`policy.`, `admin.`)"
    )
    resource: str | None = Field(
        default=None, max_length=300, description="resources starting with this (`erp:`, `agent:debt`)"
    )
    principal: str | None = Field(default=None, max_length=300, description="this principal only")
    effect: str | None = Field(default=None, max_length=32, description="this effect only (allow, deny, ...)")


class AuditPage(BaseModel):
    """One page of audit events; pass `next_before_id` as `before_id` for the next."""

    items: list[AuditEvent]
    next_before_id: int | None


GET = Operation(
    "GET",
    "/api/admin/tenants/{tenant_id}/audit",
    "getAudit",
    "Read the tenant's audit log: policy decisions, tool calls and admin changes",
    "audit",
    AuditPage,
    query=AuditQuery,
    errors=(400, 403, 404),
    path_schemas=TENANT_PATH,
)


async def get_audit(request: Request) -> Response:
    access = await tenant_admin(request)
    assert access.tenant_id is not None
    query = GET.read_query(request)
    events = await access.state.audit.for_tenant(
        access.tenant_id,
        limit=query.limit,
        before_id=query.before_id,
        action=query.action,
        resource=query.resource,
        principal=query.principal,
        effect=query.effect,
    )
    next_before = events[-1].id if len(events) == query.limit else None
    return GET.reply(AuditPage(items=events, next_before_id=next_before))


operations = [GET.bind(get_audit)]
