"""End-user authentication: bearer JWTs (RS256/ES256) from a PEM key or the dev key pair."""

from __future__ import annotations

from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from pydantic import BaseModel, Field, ValidationError
from starlette.requests import HTTPConnection

from agentmesh.keys import dev_user_key
from agentmesh.settings import Settings
from gateway.errors import ApiError

ACCEPTED_ALGORITHMS = ["RS256", "ES256"]
ROLES = ("user", "tenant_admin", "platform_admin")


class AuthenticatedUser(BaseModel):
    """The verified caller: tenant, user and roles from the token."""

    tenant_id: str = Field(min_length=1, max_length=64)
    subject: str = Field(min_length=1, max_length=256)
    roles: list[str] = Field(default_factory=lambda: ["user"])

    def has_role(self, role: str) -> bool:
        return role in self.roles


def _unauthorized(message: str) -> ApiError:
    return ApiError(
        401,
        "unauthorized",
        message,
        headers={"WWW-Authenticate": f'Bearer error="invalid_token", error_description="{message}"'},
    )


class UserTokenVerifier:
    """Verifies end-user tokens: signature, `iss`, `aud`, `exp`/`nbf` (with leeway), and claims."""

    def __init__(self, settings: Settings) -> None:
        self._issuer = settings.jwt_issuer
        self._audience = settings.jwt_audience
        self._leeway = settings.jwt_leeway_seconds
        self._jwks = (
            jwt.PyJWKClient(settings.jwt_jwks_url, cache_keys=True) if settings.jwt_jwks_url else None
        )
        self._public_key: Any = None
        if self._jwks is None:
            if settings.jwt_public_key_file:
                self._public_key = serialization.load_pem_public_key(
                    settings.jwt_public_key_file.read_bytes()
                )
            else:
                self._public_key = dev_user_key(settings.keys_dir).private_key.public_key()

    def _key_for(self, token: str) -> Any:
        if self._jwks is None:
            return self._public_key
        try:
            return self._jwks.get_signing_key_from_jwt(token).key
        except jwt.PyJWKClientError as exc:
            raise _unauthorized("token signed by an unknown key") from exc

    def verify(self, token: str) -> AuthenticatedUser:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise _unauthorized("malformed token") from exc
        if header.get("alg") not in ACCEPTED_ALGORITHMS:
            raise _unauthorized("token algorithm not accepted")
        try:
            claims = jwt.decode(
                token,
                self._key_for(token),
                algorithms=ACCEPTED_ALGORITHMS,
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": ["exp", "sub", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise _unauthorized("token expired") from exc
        except jwt.ImmatureSignatureError as exc:
            raise _unauthorized("token not yet valid") from exc
        except jwt.InvalidAudienceError as exc:
            raise _unauthorized("token audience not accepted") from exc
        except jwt.InvalidIssuerError as exc:
            raise _unauthorized("token issuer not accepted") from exc
        except jwt.PyJWTError as exc:
            raise _unauthorized("invalid token") from exc
        try:
            return AuthenticatedUser(
                tenant_id=claims.get("tenant_id", ""),
                subject=claims["sub"],
                roles=[r for r in claims.get("roles", ["user"]) if r in ROLES] or ["user"],
            )
        except ValidationError as exc:
            raise _unauthorized("token lacks a tenant_id or subject") from exc


def bearer_token(connection: HTTPConnection) -> str:
    header = connection.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized("missing bearer token")
    return token.strip()


def authenticate(connection: HTTPConnection) -> AuthenticatedUser:
    """The verified user of a request; also checks `X-Tenant-ID` against the token when sent."""
    verifier: UserTokenVerifier = connection.app.state.token_verifier
    user = verifier.verify(bearer_token(connection))
    header_tenant = connection.headers.get("x-tenant-id")
    if header_tenant is not None and header_tenant != user.tenant_id:
        raise ApiError(403, "tenant_mismatch", "X-Tenant-ID does not match the token's tenant")
    return user


def require_tenant(user: AuthenticatedUser, tenant_id: str) -> None:
    """A user acts only in their own tenant: the path's tenant must be the token's."""
    if user.tenant_id != tenant_id:
        raise ApiError(403, "forbidden_tenant", f"this token is not valid for tenant '{tenant_id}'")
