"""The tenant a tool call runs for, taken from the verified mesh token, never from arguments."""

from __future__ import annotations

from dataclasses import dataclass, field

from mcp.server.auth.middleware.auth_context import get_access_token

from agentmesh.errors import AgentmeshError
from agentmesh.mesh_tokens import MeshClaims


class NoTenant(AgentmeshError):
    """A call over HTTP without a verified mesh token (the transport's auth should have refused it)."""

    code = "unauthorized"


@dataclass(frozen=True)
class TenantContext:
    """Who is calling: tenant, end user, their roles and session."""

    tenant_id: str
    subject: str
    roles: tuple[str, ...] = ()
    session_id: str | None = None
    user_token: str | None = field(default=None, repr=False)
    """The user's own token, present only for a call to a tool that forwards it upstream."""


def current_claims() -> MeshClaims | None:
    """The verified mesh token of the current request, if it came over HTTP."""
    token = get_access_token()
    if token is None or not token.claims:
        return None
    return MeshClaims.model_validate(token.claims)


class TenantResolver:
    """Resolves the caller of the current request.

    Over HTTP the caller is always the verified mesh token. Over stdio there is no token: the
    server runs as a local process for one person, so the tenant given at start (`--tenant`)
    is used.
    """

    def __init__(self, *, local_tenant: str | None = None) -> None:
        self._local_tenant = local_tenant

    def current(self) -> TenantContext:
        claims = current_claims()
        if claims is not None:
            return TenantContext(
                tenant_id=claims.tenant_id,
                subject=claims.sub,
                roles=tuple(claims.roles),
                session_id=claims.session_id,
                user_token=claims.user_token,
            )
        if self._local_tenant:
            return TenantContext(tenant_id=self._local_tenant, subject="local")
        raise NoTenant("no tenant: this server must be called with a mesh token")
