"""Audience-bound tokens signed with the mesh key: to one MCP server, and to one upstream API.

For every tool call the host mints a token that names one server as its audience, carries the
tenant, the end user and the tools that user may call on that server, and expires within a
minute. Servers accept nothing else: an end-user token (other issuer, other audience, other key)
or a token minted for another server is refused.

For every call a server makes to an upstream API on a user's behalf (an ERP tool with auth mode
`user`), the server mints an *identity token*: audience that upstream, the end user, the tenant
and the user's roles, valid for a minute, typed `agentmesh-identity+jwt` so that neither kind
of token is ever accepted as the other. Upstreams verify it with the keys the gateway publishes
at `/.well-known/mesh-jwks.json` (`verify_identity_token`).
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import jwt
from pydantic import BaseModel, Field

from agentmesh.keys import SigningKey

MESH_ALGORITHMS = ["ES256"]
IDENTITY_TOKEN_TYPE = "agentmesh-identity+jwt"
"""The `typ` header of an upstream identity token (server tokens carry plain `JWT`)."""
MAX_LIFETIME_SECONDS = 60
"""The longest an identity token lives."""

MESH_TOKEN_LIFETIME_SECONDS = 60
"""The longest a token the host mints lives, and the longest a deployed server accepts."""

DEVELOPMENT_TOKEN_LIFETIME_SECONDS = 24 * 3600
"""The longest a development token (`agentmesh token --server`) lives. Only a server that reads
the mesh keys from its own data directory accepts one: whoever can mint it holds those keys."""

LISTING_TENANT = "*"
"""The tenant of the host's own listing token: it may list a server's tools and call none.

User tokens can never carry it (tenant ids are word characters), so a server may safely answer
a listing for this tenant with every tenant's tools, which the host then filters per tenant.
"""


TENANT_EXPORT_SCOPE = "tenant:export"
TENANT_DELETE_SCOPE = "tenant:delete"
"""Scopes of the tokens a platform admin's tenant export or deletion sends each server. No tool
name holds a colon, so no grant of tools can ever put these in a token."""


def server_audience(server: str) -> str:
    """The `aud` value that binds a token to one server."""
    return f"mcp:{server}"


class MeshClaims(BaseModel):
    """What a server learns about the caller from a verified mesh token."""

    iss: str
    aud: str
    sub: str = Field(description="the end user on whose behalf the call is made")
    tenant_id: str
    scope: str = Field(default="", description="space-separated tool names the caller may call here")
    roles: list[str] = Field(default_factory=list)
    session_id: str | None = None
    user_token: str | None = Field(
        default=None,
        repr=False,
        description="the end user's own bearer token: only in a token for a call to a tool that "
        "forwards it to an upstream trusting the same identity provider",
    )
    exp: int
    iat: int
    jti: str

    @property
    def tools(self) -> frozenset[str]:
        return frozenset(self.scope.split())

    @property
    def server(self) -> str:
        return self.aud.removeprefix("mcp:")


def mint_server_token(
    key: SigningKey,
    *,
    issuer: str,
    server: str,
    tenant_id: str,
    subject: str,
    tools: list[str] | frozenset[str],
    roles: list[str] | None = None,
    session_id: str | None = None,
    ttl_seconds: int = 60,
    max_lifetime_seconds: int = MESH_TOKEN_LIFETIME_SECONDS,
    user_token: str | None = None,
) -> str:
    """Sign a token for `server` only, valid for `ttl_seconds` capped at `max_lifetime_seconds`;
    `user_token` travels in it for a tool that forwards the user's own token upstream."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": server_audience(server),
        "sub": subject,
        "tenant_id": tenant_id,
        "scope": " ".join(sorted(tools)),
        "roles": list(roles or []),
        "iat": now,
        "nbf": now,
        "exp": now + min(ttl_seconds, max_lifetime_seconds),
        "jti": uuid.uuid4().hex,
    }
    if session_id:
        claims["session_id"] = session_id
    if user_token:
        claims["user_token"] = user_token
    return jwt.encode(claims, key.private_key, algorithm=key.algorithm, headers={"kid": key.kid})


class IdentityClaims(BaseModel):
    """What an upstream learns about the caller from a verified identity token."""

    iss: str
    aud: str = Field(description="the upstream this token was minted for")
    sub: str = Field(description="the end user on whose behalf the call is made")
    tenant_id: str
    roles: list[str] = Field(default_factory=list)
    exp: int
    iat: int
    jti: str


def mint_identity_token(
    key: SigningKey,
    *,
    issuer: str,
    audience: str,
    tenant_id: str,
    subject: str,
    roles: list[str] | tuple[str, ...] = (),
    ttl_seconds: int = MAX_LIFETIME_SECONDS,
) -> str:
    """Sign a token telling upstream `audience` who calls: valid for at most 60 seconds."""
    if audience.startswith("mcp:"):
        raise ValueError("identity tokens are for upstream APIs; 'mcp:' audiences belong to MCP servers")
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": audience,
        "sub": subject,
        "tenant_id": tenant_id,
        "roles": list(roles),
        "iat": now,
        "nbf": now,
        "exp": now + min(ttl_seconds, MAX_LIFETIME_SECONDS),
        "jti": uuid.uuid4().hex,
    }
    headers = {"kid": key.kid, "typ": IDENTITY_TOKEN_TYPE}
    return jwt.encode(claims, key.private_key, algorithm=key.algorithm, headers=headers)


class MeshTokenError(Exception):
    """A token a server must refuse; the message says why without echoing the token."""


class MeshJwks:
    """The mesh's public keys, from a JWKS file in the data directory or a JWKS URL.

    Keys are cached by `kid`; an unknown `kid` triggers one reload, at most every 30 seconds,
    so a rotated key is picked up without letting a flood of bad tokens hammer the source.
    """

    _min_reload_interval = 30.0

    def __init__(self, *, file: Path | None = None, url: str | None = None) -> None:
        if not file and not url:
            raise ValueError("MeshJwks needs a JWKS file or URL")
        self._file = file
        self._url = url
        self._keys: dict[str, Any] = {}
        self._loaded_at = 0.0

    def _fetch(self) -> dict[str, Any]:
        if self._url:
            import httpx

            response = httpx.get(self._url, timeout=5.0)
            response.raise_for_status()
            return dict(response.json())
        assert self._file is not None
        return dict(json.loads(self._file.read_text()))

    def _reload(self) -> None:
        jwk_set = jwt.PyJWKSet.from_dict(self._fetch())
        self._keys = {k.key_id: k for k in jwk_set.keys if k.key_id}
        self._loaded_at = time.monotonic()

    def key_for(self, kid: str) -> Any:
        stale = not self._loaded_at or time.monotonic() - self._loaded_at >= self._min_reload_interval
        if kid not in self._keys and stale:
            self._reload()
        found = self._keys.get(kid)
        if found is None:
            raise MeshTokenError("token signed by an unknown key")
        return found.key


def verify_server_token(
    token: str,
    *,
    jwks: MeshJwks,
    issuer: str,
    server: str,
    max_lifetime_seconds: int = MESH_TOKEN_LIFETIME_SECONDS,
) -> MeshClaims:
    """Verify a mesh token for `server` that lives at most `max_lifetime_seconds`; raise
    `MeshTokenError` with a reason otherwise."""
    payload = _verified(
        token,
        jwks=jwks,
        issuer=issuer,
        audience=server_audience(server),
        identity=False,
        max_lifetime_seconds=max_lifetime_seconds,
    )
    return MeshClaims.model_validate(payload)


def verify_identity_token(token: str, *, jwks: MeshJwks, issuer: str, audience: str) -> IdentityClaims:
    """Verify an identity token minted for upstream `audience` (signature, type, audience, expiry,
    lifetime); raise `MeshTokenError` with a reason otherwise."""
    payload = _verified(
        token,
        jwks=jwks,
        issuer=issuer,
        audience=audience,
        identity=True,
        max_lifetime_seconds=MAX_LIFETIME_SECONDS,
    )
    if not isinstance(payload.get("tenant_id"), str):
        raise MeshTokenError("token names no tenant")
    return IdentityClaims.model_validate(payload)


def _verified(
    token: str, *, jwks: MeshJwks, issuer: str, audience: str, identity: bool, max_lifetime_seconds: int
) -> dict[str, Any]:
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise MeshTokenError("malformed token") from exc
    if header.get("alg") not in MESH_ALGORITHMS:
        raise MeshTokenError("token algorithm not accepted")
    if (header.get("typ") == IDENTITY_TOKEN_TYPE) != identity:
        kind = "an identity token for an upstream API" if not identity else "not an identity token"
        raise MeshTokenError(f"token is {kind}")
    kid = header.get("kid")
    if not isinstance(kid, str):
        raise MeshTokenError("token has no key id")
    try:
        payload: dict[str, Any] = jwt.decode(
            token,
            jwks.key_for(kid),
            algorithms=MESH_ALGORITHMS,
            audience=audience,
            issuer=issuer,
            leeway=5,
            options={"require": ["exp", "iat", "aud", "iss", "sub", "jti"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise MeshTokenError("token expired") from exc
    except jwt.InvalidAudienceError as exc:
        raise MeshTokenError(
            "token is for another audience" if identity else "token is for another server"
        ) from exc
    except jwt.PyJWTError as exc:
        raise MeshTokenError(f"token rejected: {exc}") from exc
    if payload["exp"] - payload["iat"] > max_lifetime_seconds + 5:
        raise MeshTokenError(f"token lifetime exceeds {max_lifetime_seconds} seconds")
    return payload
