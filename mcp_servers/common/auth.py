"""Mesh-token verification for the MCP servers (plugged into the SDK's bearer-auth middleware)."""

from __future__ import annotations

from typing import Any

import structlog
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings

from agentmesh.mesh_tokens import (
    DEVELOPMENT_TOKEN_LIFETIME_SECONDS,
    MESH_TOKEN_LIFETIME_SECONDS,
    MeshJwks,
    MeshTokenError,
    verify_server_token,
)
from agentmesh.settings import Settings

log = structlog.get_logger(__name__)

# The principal of a connection is the host (the token's issuer); the end user and tenant ride
# in the claims of each per-call token. This keeps one long-lived connection usable for every
# tenant while each call stays individually authorised.
HOST_CLIENT_ID = "agentmesh-host"


class MeshTokenVerifier:
    """Accepts only tokens the mesh minted for this server (`aud = mcp:<server>`)."""

    def __init__(
        self,
        *,
        server: str,
        jwks: MeshJwks,
        issuer: str,
        max_lifetime_seconds: int = MESH_TOKEN_LIFETIME_SECONDS,
    ) -> None:
        self._server = server
        self._jwks = jwks
        self._issuer = issuer
        self._max_lifetime = max_lifetime_seconds

    async def verify_token(self, token: str) -> AccessToken | None:
        try:
            claims = verify_server_token(
                token,
                jwks=self._jwks,
                issuer=self._issuer,
                server=self._server,
                max_lifetime_seconds=self._max_lifetime,
            )
        except MeshTokenError as exc:
            log.info("mesh_token_refused", server=self._server, reason=str(exc))
            return None
        return AccessToken(
            token=token,
            client_id=HOST_CLIENT_ID,
            scopes=sorted(claims.tools),
            expires_at=claims.exp,
            claims=claims.model_dump(),
        )


def mesh_jwks(settings: Settings) -> MeshJwks:
    """The mesh JWKS: its URL when configured, else the file the host writes in the data dir."""
    if settings.mesh_jwks_url:
        return MeshJwks(url=settings.mesh_jwks_url)
    from agentmesh.keys import MESH_JWKS_FILE, mesh_key

    jwks_file = settings.keys_dir / MESH_JWKS_FILE
    if not jwks_file.exists():
        mesh_key(settings.keys_dir)
    return MeshJwks(file=jwks_file)


def accepted_lifetime(settings: Settings) -> int:
    """The longest token lifetime this server accepts.

    With `AGENTMESH_MESH_JWKS_URL` (a deployment: the keys are the gateway's) only the host's
    60-second tokens. With the keys in the data directory (development: `agentmesh up`, or a
    server run alone) also `agentmesh token --server` tokens, which that directory's keys sign.
    """
    return MESH_TOKEN_LIFETIME_SECONDS if settings.mesh_jwks_url else DEVELOPMENT_TOKEN_LIFETIME_SECONDS


def server_auth(settings: Settings, server: str) -> dict[str, Any]:
    """Keyword arguments for `MCPServer` that require a mesh token on every HTTP request."""
    return {
        "token_verifier": MeshTokenVerifier(
            server=server,
            jwks=mesh_jwks(settings),
            issuer=settings.mesh_issuer,
            max_lifetime_seconds=accepted_lifetime(settings),
        ),
        "auth": AuthSettings(
            issuer_url=settings.mesh_jwks_url or "http://agentmesh.local",  # type: ignore[arg-type]
            resource_server_url=None,
            required_scopes=[],
        ),
    }
