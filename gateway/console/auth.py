"""Console sign-in state: who is signed in to a browser, and the access tokens its page may use.

A browser signed in to the console holds one HttpOnly, `SameSite=Strict` cookie naming a console
session; page scripts never see it. The session (who, until when, and with an identity provider
the provider's tokens) is sealed with the platform's secret key and kept in the gateway's shared
cache (in process, or Redis for every replica), so a stolen cache entry reveals nothing and
signing out ends it everywhere. The page asks `POST /console/auth/token` for a short-lived
access token, keeps it in memory only (never `localStorage`), and calls the public APIs with it
as any client would.

Two ways in:

- **development**: with the development key pair (no JWKS URL, no public key file), a demo user
  is picked on the sign-in page; the console mints their tokens with the dev key, exactly as
  `agentmesh token` does. By default only browsers on this machine may (`AGENTMESH_CONSOLE_DEV_SIGNIN`).
- **OpenID Connect**: authorization code + PKCE with the configured provider (`gateway.console.oidc`);
  the provider's access tokens are what the page uses, refreshed when they near expiry.
"""

from __future__ import annotations

import ipaddress
import secrets
import time
from typing import Literal

from pydantic import BaseModel, Field, ValidationError
from starlette.requests import Request

from agentmesh.dev_tokens import issue_dev_token
from agentmesh.secrets import SecretBox
from agentmesh.settings import Settings
from gateway.cache import Cache
from gateway.console.oidc import OidcClient, OidcError, TokenSet

COOKIE = "agentmesh_console"
LOGIN_COOKIE = "agentmesh_console_login"
LOGIN_SECONDS = 600
REFRESH_MARGIN_SECONDS = 60
"""An identity provider's access token this close to expiry is refreshed before it is handed out."""

DemoUserId = Literal["acme-user", "acme-admin", "globex-user", "platform-admin"]


class ConsoleIdentity(BaseModel):
    """Who is signed in: the claims the gateway reads from their tokens."""

    tenant_id: str
    subject: str
    roles: list[str]


class DemoUser(BaseModel):
    """A demo identity offered on the development sign-in page."""

    id: DemoUserId
    identity: ConsoleIdentity


DEMO_USERS: dict[str, DemoUser] = {
    user.id: user
    for user in (
        DemoUser(id="acme-user", identity=ConsoleIdentity(tenant_id="acme", subject="alice", roles=["user"])),
        DemoUser(
            id="acme-admin", identity=ConsoleIdentity(tenant_id="acme", subject="ada", roles=["tenant_admin"])
        ),
        DemoUser(
            id="globex-user", identity=ConsoleIdentity(tenant_id="globex", subject="bob", roles=["user"])
        ),
        DemoUser(
            id="platform-admin",
            identity=ConsoleIdentity(tenant_id="platform", subject="root", roles=["platform_admin"]),
        ),
    )
}
"""The users `agentmesh up` prints tokens for, and a platform admin."""


class ConsoleSession(BaseModel):
    """A signed-in browser. With an identity provider, its tokens (sealed at rest with the rest)."""

    kind: Literal["dev", "oidc"]
    identity: ConsoleIdentity
    expires_at: float
    tokens: TokenSet | None = None


class PendingLogin(BaseModel):
    """An OpenID Connect sign-in between the redirect to the provider and its callback."""

    state: str
    code_verifier: str
    nonce: str
    redirect_uri: str
    return_to: str = "/"


class IssuedToken(BaseModel):
    access_token: str
    expires_at: float


class ConsoleSignedOut(Exception):
    """No console session, or it expired or can no longer produce a token."""


class ConsoleAuth:
    """Console sessions, and the tokens they hand to their page."""

    def __init__(
        self, settings: Settings, cache: Cache, box: SecretBox, oidc: OidcClient | None = None
    ) -> None:
        self._settings = settings
        self._cache = cache
        self._box = box
        self.oidc = oidc

    # -- what is offered ---------------------------------------------------------------------

    @property
    def uses_dev_keys(self) -> bool:
        """Whether the gateway verifies tokens with the development key pair."""
        return self._settings.jwt_jwks_url is None and self._settings.jwt_public_key_file is None

    def dev_signin_allowed(self, request: Request) -> bool:
        """A demo user may be picked: dev keys in use, and the setting admits this client."""
        mode = self._settings.console_dev_signin
        if mode == "off" or not self.uses_dev_keys:
            return False
        return mode == "on" or _is_loopback(request.client.host if request.client else None)

    # -- sessions ----------------------------------------------------------------------------

    async def start(self, session: ConsoleSession) -> str:
        """Store a new session; its id goes in the cookie."""
        session_id = secrets.token_urlsafe(32)
        await self._save(session_id, session)
        return session_id

    def dev_session(self, user: DemoUser) -> ConsoleSession:
        return ConsoleSession(
            kind="dev",
            identity=user.identity,
            expires_at=time.time() + self._settings.console_session_seconds,
        )

    async def session(self, session_id: str | None) -> ConsoleSession | None:
        """The live session of that id, or None."""
        if not session_id or len(session_id) > 128:
            return None
        sealed = await self._cache.get(_key(session_id))
        if sealed is None:
            return None
        try:
            session = ConsoleSession.model_validate_json(self._box.open(sealed))
        except (ValueError, ValidationError):
            return None
        return session if session.expires_at > time.time() else None

    async def end(self, session_id: str | None) -> None:
        if session_id and len(session_id) <= 128:
            await self._cache.forget(_key(session_id))

    async def token(self, session_id: str | None) -> tuple[IssuedToken, ConsoleSession]:
        """A current access token for the session's page (refreshing a provider's token if due)."""
        session = await self.session(session_id)
        if session is None:
            raise ConsoleSignedOut("not signed in to the console")
        assert session_id is not None
        if session.kind == "dev":
            ttl = min(self._settings.console_token_seconds, int(session.expires_at - time.time()))
            if ttl <= 0:
                raise ConsoleSignedOut("the console session has expired")
            identity = session.identity
            token = issue_dev_token(
                self._settings,
                tenant_id=identity.tenant_id,
                user=identity.subject,
                roles=identity.roles,
                ttl_seconds=ttl,
            )
            return IssuedToken(access_token=token, expires_at=time.time() + ttl), session
        tokens = session.tokens
        if tokens is None:
            raise ConsoleSignedOut("the console session holds no token")
        if tokens.expires_at - REFRESH_MARGIN_SECONDS <= time.time():
            if self.oidc is None or tokens.refresh_token is None:
                raise ConsoleSignedOut("the sign-in has expired: sign in again")
            try:
                tokens = await self.oidc.refresh(tokens.refresh_token)
            except OidcError as exc:
                raise ConsoleSignedOut(f"the identity provider did not renew the sign-in: {exc}") from exc
            session = session.model_copy(update={"tokens": tokens})
            await self._save(session_id, session)
        return IssuedToken(access_token=tokens.access_token, expires_at=tokens.expires_at), session

    # -- OpenID Connect sign-ins in flight ---------------------------------------------------

    async def remember_login(self, login: PendingLogin) -> str:
        login_id = secrets.token_urlsafe(24)
        await self._cache.set(_login_key(login_id), self._box.seal(login.model_dump_json()), LOGIN_SECONDS)
        return login_id

    async def take_login(self, login_id: str | None) -> PendingLogin | None:
        """The sign-in started in this browser, once (a callback cannot be replayed)."""
        if not login_id or len(login_id) > 128:
            return None
        sealed = await self._cache.get(_login_key(login_id))
        await self._cache.forget(_login_key(login_id))
        if sealed is None:
            return None
        try:
            return PendingLogin.model_validate_json(self._box.open(sealed))
        except (ValueError, ValidationError):
            return None

    async def _save(self, session_id: str, session: ConsoleSession) -> None:
        ttl = session.expires_at - time.time()
        await self._cache.set(_key(session_id), self._box.seal(session.model_dump_json()), max(ttl, 1.0))


def _key(session_id: str) -> str:
    return f"console:session:{session_id}"


def _login_key(login_id: str) -> str:
    return f"console:login:{login_id}"


def _is_loopback(host: str | None) -> bool:
    if host is None:
        return False
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


class SessionView(BaseModel):
    """What the console page knows about its sign-in (never a token)."""

    signed_in: bool
    identity: ConsoleIdentity | None = None
    kind: Literal["dev", "oidc"] | None = None
    expires_at: float | None = None
    tenant_exists: bool = Field(
        default=False, description="the identity's tenant exists (a platform admin's may not: no chat then)"
    )
    dev_signin: bool = Field(description="a demo user may be picked on the sign-in page")
    oidc: bool = Field(description="an OpenID Connect provider is configured")
    demo_users: list[DemoUser] = Field(default_factory=list)
