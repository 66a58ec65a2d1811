"""MCP servers calling back into the gateway, identified by the mesh token of the call they serve.

A server resolving `upload://<handle>` presents the token the host sent it for the call in
hand. That token is the whole authority: it was signed by the mesh key, names one of this
gateway's servers as its audience, expires within a minute, and carries the tenant and user the
call is made for. What the server may then read is bounded by exactly that tenant and user. The
host's listing token (tenant `*`, no tools) reads nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import jwt
from starlette.requests import Request

from agentmesh.keys import MESH_JWKS_FILE
from agentmesh.mesh_tokens import (
    LISTING_TENANT,
    MeshClaims,
    MeshJwks,
    MeshTokenError,
    server_audience,
    verify_server_token,
)
from agentmesh.settings import Settings
from gateway.auth import bearer_token, unauthorized


class MeshCallers:
    """Verifies the mesh token a server presents to the gateway."""

    def __init__(self, settings: Settings, servers: Callable[[], Iterable[str]]) -> None:
        # The gateway's own key file, never the JWKS URL: that URL may be this very gateway.
        self._jwks = MeshJwks(file=settings.keys_dir / MESH_JWKS_FILE)
        self._issuer = settings.mesh_issuer
        self._servers = servers

    def verify(self, request: Request) -> MeshClaims:
        """The claims of the request's mesh token; 401 `unauthorized` for anything else."""
        token = bearer_token(request)
        try:
            audience = jwt.decode(token, options={"verify_signature": False}).get("aud")
        except jwt.PyJWTError as exc:
            raise unauthorized("malformed token") from exc
        server = next(
            (
                name
                for name in self._servers()
                if isinstance(audience, str) and audience == server_audience(name)
            ),
            None,
        )
        if server is None:
            raise unauthorized("not a mesh token for a server of this gateway")
        try:
            claims = verify_server_token(token, jwks=self._jwks, issuer=self._issuer, server=server)
        except MeshTokenError as exc:
            raise unauthorized(str(exc)) from exc
        if claims.tenant_id == LISTING_TENANT or not claims.tools:
            raise unauthorized("a token that may call no tool reads nothing")
        return claims
