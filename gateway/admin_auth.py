"""Who may administer what, and the audit record every admin change leaves.

A `platform_admin` administers every tenant and the platform-wide resources (tenants, servers,
platform agents and tools). A `tenant_admin` administers only the tenant in their token. A
plain `user` administers nothing. Authorization is decided before the tenant's existence is
looked up, so an admin of one tenant cannot learn which other tenants exist.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from gateway.auth import AuthenticatedUser, authenticate
from gateway.errors import ApiError
from gateway.state import GatewayState
from policies.audit import AuditEvent, arguments_hash

PLATFORM_ADMIN = "platform_admin"
TENANT_ADMIN = "tenant_admin"
PLATFORM_SCOPE = "*"
"""The audit log's tenant for platform-wide changes."""

TENANT_PATH: dict[str, dict[str, Any]] = {"tenant_id": {"type": "string", "minLength": 1, "maxLength": 64}}
"""OpenAPI schema of the `{tenant_id}` path parameter that `tenant_admin` reads."""


def require_admin(user: AuthenticatedUser, tenant_id: str) -> str:
    """The role that lets `user` administer `tenant_id`; 403 when none does."""
    if user.has_role(PLATFORM_ADMIN):
        return PLATFORM_ADMIN
    if user.has_role(TENANT_ADMIN):
        if user.tenant_id == tenant_id:
            return TENANT_ADMIN
        raise ApiError(
            "forbidden_tenant", f"a tenant admin of '{user.tenant_id}' cannot administer another tenant"
        )
    raise ApiError("admin_required", "this endpoint needs the tenant_admin or platform_admin role")


def require_platform_admin(user: AuthenticatedUser) -> str:
    """`platform_admin`, or 403: the resource is shared by every tenant."""
    if user.has_role(PLATFORM_ADMIN):
        return PLATFORM_ADMIN
    raise ApiError("platform_admin_required", "this endpoint needs the platform_admin role")


@dataclass(frozen=True)
class AdminAccess:
    """An authorised admin request: who, in which role, over which tenant (None: platform-wide)."""

    state: GatewayState
    user: AuthenticatedUser
    role: str
    tenant_id: str | None

    @property
    def principal(self) -> str:
        return f"{self.user.subject}@{self.user.tenant_id}"

    async def record(
        self,
        action: str,
        resource: str,
        *,
        arguments: Mapping[str, Any] | None = None,
        effect: str = "ok",
        detail: Mapping[str, Any] | None = None,
        tenant_id: str | None = None,
    ) -> None:
        """Append the change to the audit log (arguments only as a hash; never pass secrets in).

        It is filed under `tenant_id` when given (a platform admin changing one tenant), else
        under the tenant administered, else under the platform.
        """
        await self.state.audit.append(
            AuditEvent(
                tenant_id=tenant_id or self.tenant_id or PLATFORM_SCOPE,
                principal=self.principal,
                action=f"admin.{action}",
                resource=resource,
                effect=effect,
                rule=f"role:{self.role}",
                arguments_hash=arguments_hash(arguments),
                detail=dict(detail or {}),
            )
        )


def _state(request: Request) -> GatewayState:
    state: GatewayState = request.app.state.gateway
    return state


async def tenant_admin(request: Request, *, must_exist: bool = True) -> AdminAccess:
    """Authorise an admin of the path's `tenant_id`; 404 after authorisation when it does not exist."""
    user = authenticate(request)
    tenant_id = request.path_params["tenant_id"]
    role = require_admin(user, tenant_id)
    state = _state(request)
    if must_exist:
        await state.tenants.require(tenant_id)
    return AdminAccess(state=state, user=user, role=role, tenant_id=tenant_id)


def platform_admin(request: Request) -> AdminAccess:
    """Authorise a platform admin for a platform-wide resource."""
    user = authenticate(request)
    role = require_platform_admin(user)
    return AdminAccess(state=_state(request), user=user, role=role, tenant_id=None)
