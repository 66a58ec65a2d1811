"""`/api/admin/tenants/{tenant_id}/policy`: what a tenant may use, set at run time.

The override is a policy document holding only the sections a platform admin set (`tools`,
`agents`, `limits`, ...); each replaces the same section of the tenant's policy file, and the
base policy's denies still bind. Every replica applies a change within about a second. Tenant
admins read their tenant's policy; only platform admins change what a tenant is granted.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, create_model
from starlette.requests import Request
from starlette.responses import Response

from gateway.admin_auth import TENANT_PATH, platform_admin, tenant_admin
from gateway.errors import ApiError
from gateway.openapi import Operation
from policies.limits import Limits
from policies.model import TenantPolicy

PATH = "/api/admin/tenants/{tenant_id}/policy"


# The override as stored: the same sections as a policy document, each null unless the override
# sets it (a null section is the policy file's). Derived from `TenantPolicy` so the two never drift.
_SECTIONS: dict[str, Any] = {
    name: (field.annotation | None, Field(default=None, description=field.description))  # type: ignore[operator]
    for name, field in TenantPolicy.model_fields.items()
    if name != "tenant"
}
PolicyOverride: type[BaseModel] = create_model(
    "PolicyOverride",
    __doc__="A tenant's policy override: the sections it sets; a null section is the policy file's.",
    tenant=(str, ...),
    **_SECTIONS,
)


def _override_view(policy: TenantPolicy | None) -> Any:
    if policy is None:
        return None
    return PolicyOverride(**{name: getattr(policy, name) for name in {"tenant", *policy.model_fields_set}})


class PolicyView(BaseModel):
    """The tenant's override (the sections set through this API) and the policy in force."""

    tenant_id: str
    override: PolicyOverride | None = Field(  # type: ignore[valid-type]
        description="null when the tenant's policy file applies unchanged"
    )
    effective: TenantPolicy | None = Field(
        description="the tenant's document in force here (file with override); null: base policy only"
    )
    base: TenantPolicy | None = Field(
        default=None, description="the base policy binding every tenant (its denies and approvals win)"
    )
    limits: Limits | None = Field(
        default=None, description="the limits in force: the tenant's, else the base policy's, else defaults"
    )


GET = Operation(
    "GET",
    PATH,
    "getPolicy",
    "Read the tenant's policy override and the policy in force",
    "permissions",
    PolicyView,
    errors=(403, 404),
    path_schemas=TENANT_PATH,
)
PUT = Operation(
    "PUT",
    PATH,
    "putPolicy",
    "Set the tenant's policy override (platform admins); the sections sent replace the file's",
    "permissions",
    PolicyView,
    body=TenantPolicy,
    errors=(400, 403, 404, 413),
    path_schemas=TENANT_PATH,
)
DELETE = Operation(
    "DELETE",
    PATH,
    "deletePolicy",
    "Remove the tenant's override: its policy file applies again (platform admins)",
    "permissions",
    None,
    status=204,
    errors=(403, 404),
    path_schemas=TENANT_PATH,
)


async def get_policy(request: Request) -> Response:
    access = await tenant_admin(request)
    assert access.tenant_id is not None
    override = await access.state.admin.policies.get(access.tenant_id)
    policies = access.state.host.policies
    return GET.reply(
        PolicyView(
            tenant_id=access.tenant_id,
            override=_override_view(override),
            effective=policies.tenant_policy(access.tenant_id),
            base=_base(policies.for_tenant(access.tenant_id)),
            limits=policies.limits(access.tenant_id),
        )
    )


def _base(documents: list[TenantPolicy]) -> TenantPolicy | None:
    return next((document for document in documents if document.tenant == "*"), None)


async def put_policy(request: Request) -> Response:
    access = platform_admin(request)
    tenant_id = request.path_params["tenant_id"]
    await access.state.tenants.require(tenant_id)
    body = await PUT.read_body(request, access.state.settings.max_body_bytes)
    # The store appends the audit event in the same transaction as the change.
    stored = await access.state.admin.policies.put(tenant_id, body, changed_by=access.principal)
    # This replica applies the change now; the others within their refresh interval (about a second).
    policies = access.state.host.policies
    await policies.refresh()
    return PUT.reply(
        PolicyView(
            tenant_id=tenant_id,
            override=_override_view(stored),
            effective=policies.tenant_policy(tenant_id),
            base=_base(policies.for_tenant(tenant_id)),
            limits=policies.limits(tenant_id),
        )
    )


async def delete_policy(request: Request) -> Response:
    access = platform_admin(request)
    tenant_id = request.path_params["tenant_id"]
    await access.state.tenants.require(tenant_id)
    if not await access.state.admin.policies.delete(tenant_id, changed_by=access.principal):
        raise ApiError("policy_override_not_found", f"tenant '{tenant_id}' has no policy override")
    await access.state.host.policies.refresh()
    return DELETE.reply()


operations = [GET.bind(get_policy), PUT.bind(put_policy), DELETE.bind(delete_policy)]
