"""End-user authentication: bearer JWTs signed RS256 or ES256, from a JWKS URL or a PEM key.

The key decides the algorithm: a token is verified only with the one algorithm its key signs
with, so `alg: none`, HMAC tokens "signed" with the public key, and RSA/EC confusion are all
refused before any signature check. The dev key pair in the data directory is the default.

A token's audience is either the platform (`AGENTMESH_JWT_AUDIENCE`: every API) or one resource
named by its URL (RFC 8707: the tokens the OAuth authorization server issues for `/mcp`). A token
bound to a resource is accepted only by that resource (`authenticate(..., resource=...)`).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import jwt
import structlog
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from opentelemetry import trace
from pydantic import BaseModel, Field, ValidationError
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send

from agentmesh.keys import dev_user_key
from agentmesh.settings import Settings
from gateway.errors import ApiError
from gateway.jwks import JwksKeySet, KeySetUnavailable, UnknownKey
from host.caller import Caller

ACCEPTED_ALGORITHMS = ("RS256", "ES256")
ROLES = ("user", "tenant_admin", "platform_admin")
REQUIRED_CLAIMS = ["exp", "sub", "iss", "aud"]


class AuthenticatedUser(BaseModel):
    """The verified caller: tenant, user and roles from the token."""

    tenant_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    subject: str = Field(min_length=1, max_length=256)
    roles: list[str] = Field(default_factory=lambda: ["user"])
    resource: str | None = Field(
        default=None, description="the one resource the token is bound to (RFC 8707); None: the platform"
    )
    token: str | None = Field(default=None, exclude=True, repr=False)
    """The bearer token itself, for the tools that forward it upstream (auth mode `forward`).

    Only a platform token is ever forwarded: a token bound to one resource (an MCP client's
    OAuth token for `/mcp`) was issued to this gateway alone, and the MCP authorization spec
    forbids passing it on."""

    def has_role(self, role: str) -> bool:
        return role in self.roles

    def caller(self, session_id: str | None = None) -> Caller:
        """This user as the host knows a caller."""
        return Caller(
            tenant_id=self.tenant_id,
            subject=self.subject,
            roles=self.roles,
            session_id=session_id,
            user_token=self.token if self.resource is None else None,
        )


def unauthorized(message: str) -> ApiError:
    """A 401 with the `WWW-Authenticate` challenge RFC 6750 asks for."""
    return ApiError(
        "unauthorized",
        message,
        headers={"WWW-Authenticate": f'Bearer error="invalid_token", error_description="{message}"'},
    )


def _static_key(settings: Settings) -> tuple[Any, str]:
    """The PEM public key from settings (or the dev key's public half) and its algorithm."""
    if settings.jwt_public_key_file is None:
        return dev_user_key(settings.keys_dir).private_key.public_key(), "RS256"
    key = serialization.load_pem_public_key(settings.jwt_public_key_file.read_bytes())
    if isinstance(key, rsa.RSAPublicKey):
        return key, "RS256"
    if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1):
        return key, "ES256"
    raise ValueError(f"{settings.jwt_public_key_file}: the token key must be RSA (RS256) or EC P-256 (ES256)")


def canonical_resource(url: str) -> str:
    """A resource URL as audiences compare it: scheme and host lower case, no fragment, no final `/`."""
    parts = urlsplit(url)
    path = parts.path.rstrip("/")
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), path, parts.query, ""))


def _bound_resource(claim: Any, platform_audience: str) -> str | None:
    """None for a platform token; the resource URL a resource-bound token names; else a 401."""
    audiences = [claim] if isinstance(claim, str) else claim if isinstance(claim, list) else []
    if platform_audience in audiences:
        return None
    if len(audiences) == 1 and isinstance(audiences[0], str):
        parts = urlsplit(audiences[0])
        if parts.scheme in ("http", "https") and parts.netloc:
            return canonical_resource(audiences[0])
    raise unauthorized("token audience not accepted")


def _roles(claim: Any) -> list[str]:
    values = [claim] if isinstance(claim, str) else claim if isinstance(claim, list) else []
    return [role for role in values if role in ROLES] or ["user"]


class UserTokenVerifier:
    """Verifies end-user tokens: algorithm, signature, `iss`, `aud`, `exp`/`nbf` (with leeway), claims.

    Keys are loaded once: the PEM key at construction, JWKS keys on first use and then cached.
    A token that verified is remembered until its `exp` (a client sends the same token with every
    request; checking its signature again each time costs more than the rest of authentication).
    The cache is keyed by the whole token, so it answers only for that exact token; a key removed
    from the JWKS therefore stops new tokens at once and tokens already seen at their expiry.
    """

    MAX_REMEMBERED = 10_000

    def __init__(self, settings: Settings, *, key_set: JwksKeySet | None = None) -> None:
        self._issuer = settings.jwt_issuer
        self._audience = settings.jwt_audience
        self._leeway = settings.jwt_leeway_seconds
        self._jwks = key_set
        if self._jwks is None and settings.jwt_jwks_url:
            self._jwks = JwksKeySet(
                settings.jwt_jwks_url,
                cache_seconds=settings.jwks_cache_seconds,
                min_refetch_seconds=settings.jwks_min_refetch_seconds,
            )
        self._static = None if self._jwks is not None else _static_key(settings)
        self._verified: OrderedDict[str, tuple[AuthenticatedUser, float]] = OrderedDict()

    async def aclose(self) -> None:
        if self._jwks is not None:
            await self._jwks.aclose()

    async def _key_for(self, kid: str | None) -> tuple[Any, str]:
        if self._jwks is None:
            assert self._static is not None
            return self._static
        try:
            jwk = await self._jwks.key_for(kid)
        except UnknownKey as exc:
            raise unauthorized("token signed by an unknown key") from exc
        except KeySetUnavailable as exc:
            raise ApiError(
                "identity_provider_unavailable", "the identity provider's signing keys cannot be fetched"
            ) from exc
        return jwk.key, jwk.algorithm_name

    async def verify(self, token: str) -> AuthenticatedUser:
        """The user a token names, or a 401 `ApiError` saying what is wrong with it."""
        remembered = self._verified.get(token)
        if remembered is not None:
            user, expires_at = remembered
            if time.time() < expires_at:
                return user
            del self._verified[token]
        user, expires_at = await self._verify(token)
        self._verified[token] = (user, expires_at)
        if len(self._verified) > self.MAX_REMEMBERED:
            self._verified.popitem(last=False)
        return user

    async def _verify(self, token: str) -> tuple[AuthenticatedUser, float]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise unauthorized("malformed token") from exc
        algorithm = header.get("alg")
        if algorithm not in ACCEPTED_ALGORITHMS:
            raise unauthorized(f"token algorithm {str(algorithm)[:16]!r} is not accepted")
        kid = header.get("kid")
        key, key_algorithm = await self._key_for(kid if isinstance(kid, str) else None)
        if algorithm != key_algorithm:
            raise unauthorized("token algorithm does not match its signing key")
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[key_algorithm],
                issuer=self._issuer,
                leeway=self._leeway,
                # The audience is checked below: the platform's, or one resource's URL.
                options={"require": REQUIRED_CLAIMS, "verify_aud": False},
            )
        except jwt.ExpiredSignatureError as exc:
            raise unauthorized("token expired") from exc
        except jwt.ImmatureSignatureError as exc:
            raise unauthorized("token not yet valid") from exc
        except jwt.InvalidIssuerError as exc:
            raise unauthorized("token issuer not accepted") from exc
        except jwt.MissingRequiredClaimError as exc:
            raise unauthorized(f"token lacks the '{exc.claim}' claim") from exc
        except jwt.PyJWTError as exc:
            raise unauthorized("invalid token signature or claims") from exc
        resource = _bound_resource(claims["aud"], self._audience)
        try:
            user = AuthenticatedUser(
                tenant_id=claims.get("tenant_id", ""),
                subject=claims["sub"],
                roles=_roles(claims.get("roles")),
                resource=resource,
                token=token,
            )
        except ValidationError as exc:
            raise unauthorized("token lacks a valid tenant_id or subject") from exc
        return user, float(claims["exp"])


AUTH_SCOPE_KEY = "agentmesh.auth"


def bearer_token(connection: HTTPConnection) -> str:
    """The bearer token of the `Authorization` header, or a 401."""
    header = connection.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise unauthorized("missing bearer token")
    return token.strip()


class BearerAuthMiddleware:
    """Verifies the request's bearer token once, before routing, and keeps the outcome in the scope.

    Verification may need the network (a JWKS refetch), so it runs here, asynchronously; routes
    then ask `authenticate(request)`, which only reads the outcome. A bad token is not refused
    here: routes that need no caller (health, metrics) still answer.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            connection = HTTPConnection(scope)
            if connection.headers.get("authorization"):
                verifier: UserTokenVerifier = scope["app"].state.token_verifier
                try:
                    user = await verifier.verify(bearer_token(connection))
                except ApiError as exc:
                    scope[AUTH_SCOPE_KEY] = exc
                else:
                    scope[AUTH_SCOPE_KEY] = user
                    # Every log line and span of the request names its tenant from here on.
                    structlog.contextvars.bind_contextvars(tenant_id=user.tenant_id)
                    trace.get_current_span().set_attribute("agentmesh.tenant_id", user.tenant_id)
        await self.app(scope, receive, send)


def authenticate(connection: HTTPConnection, *, resource: str | None = None) -> AuthenticatedUser:
    """The verified user of a request; an `X-Tenant-ID` header, when sent, must name its tenant.

    A token bound to one resource (RFC 8707) is accepted only where that resource is named: the
    endpoint serving `resource` (its canonical URL) passes it, every other route refuses it.
    """
    outcome = connection.scope.get(AUTH_SCOPE_KEY)
    if outcome is None:
        raise unauthorized("missing bearer token")
    if isinstance(outcome, ApiError):
        raise outcome
    user: AuthenticatedUser = outcome
    if user.resource is not None and user.resource != resource:
        raise unauthorized("token issued for another resource")
    header_tenant = connection.headers.get("x-tenant-id")
    if header_tenant is not None and header_tenant != user.tenant_id:
        raise ApiError("tenant_mismatch", "X-Tenant-ID does not match the token's tenant")
    return user


def require_tenant(user: AuthenticatedUser, tenant_id: str) -> None:
    """A user acts only in their own tenant: the path's tenant must be the token's."""
    if user.tenant_id != tenant_id:
        raise ApiError("forbidden_tenant", f"this token is not valid for tenant '{tenant_id}'")
