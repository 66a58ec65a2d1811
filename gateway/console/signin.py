"""`/console/auth/...`: signing in to the web console, and the access tokens its page uses.

- `GET /console/auth/session`: whether this browser is signed in, as whom, and how one may sign in;
- `POST /console/auth/dev`: sign in as a demo user (development key pair only);
- `GET /console/auth/oidc/start` and `/console/auth/oidc/callback`: OpenID Connect sign-in;
- `POST /console/auth/token`: a short-lived access token for the page to keep in memory;
- `POST /console/auth/signout`.

The console's cookie is HttpOnly and `SameSite=Strict`; the POSTs also need the
`X-Agentmesh-Console: 1` header and, when the browser sends them, a same-origin `Origin` and
`Sec-Fetch-Site`, so no other site can sign a browser in, out, or read its token.
"""

from __future__ import annotations

import time
from urllib.parse import urlencode, urlsplit

import structlog
from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from gateway.console.auth import (
    COOKIE,
    DEMO_USERS,
    LOGIN_COOKIE,
    LOGIN_SECONDS,
    ConsoleAuth,
    ConsoleIdentity,
    ConsoleSession,
    ConsoleSignedOut,
    DemoUserId,
    PendingLogin,
    SessionView,
)
from gateway.console.oidc import OidcClient, OidcError
from gateway.errors import ApiError
from gateway.openapi import CONSOLE_SCHEME, Operation
from gateway.state import GatewayState

log = structlog.get_logger(__name__)

TAG = "console"
CONSOLE_HEADER = "x-agentmesh-console"
RETURN_TO_PATTERN = r"^/([A-Za-z0-9_?=&%.-][A-Za-z0-9/_?=&%.-]{0,299})?$"
"""A path on this site (never `//host`, which a browser would read as another site)."""
CALLBACK_OPERATION = "consoleOidcCallback"


class DevSignIn(BaseModel):
    """A demo user to sign in as."""

    model_config = ConfigDict(extra="forbid")

    user: DemoUserId


class ConsoleToken(BaseModel):
    """An access token for the console page: keep it in memory, ask again before `expires_at`."""

    access_token: str
    expires_at: float = Field(description="seconds since the epoch")
    identity: ConsoleIdentity


class OidcStartQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    return_to: str = Field(default="/", pattern=RETURN_TO_PATTERN, description="the console page to land on")


class OidcCallbackQuery(BaseModel):
    """What the provider sends back (other parameters, such as `iss` or `session_state`, are ignored)."""

    model_config = ConfigDict(extra="ignore")

    code: str | None = Field(default=None, max_length=2048)
    state: str | None = Field(default=None, max_length=512)
    error: str | None = Field(default=None, max_length=256)


SESSION = Operation(
    "GET",
    "/console/auth/session",
    "consoleSession",
    "Whether this browser is signed in to the console, as whom, and how one may sign in",
    TAG,
    SessionView,
    errors=(),
    authenticated=False,
)
DEV_SIGNIN = Operation(
    "POST",
    "/console/auth/dev",
    "consoleDevSignIn",
    "Sign in to the console as a demo user (only with the development key pair)",
    TAG,
    SessionView,
    body=DevSignIn,
    errors=(400, 403, 413),
    authenticated=False,
)
TOKEN = Operation(
    "POST",
    "/console/auth/token",
    "consoleToken",
    "A short-lived access token for the signed-in console page",
    TAG,
    ConsoleToken,
    errors=(403,),
    security_scheme=CONSOLE_SCHEME,
)
SIGNOUT = Operation(
    "POST",
    "/console/auth/signout",
    "consoleSignOut",
    "Sign this browser out of the console",
    TAG,
    None,
    status=204,
    errors=(403,),
    authenticated=False,
)
OIDC_START = Operation(
    "GET",
    "/console/auth/oidc/start",
    "consoleOidcStart",
    "Sign in with the OpenID Connect provider: redirects there (authorization code + PKCE)",
    TAG,
    None,
    query=OidcStartQuery,
    status=302,
    errors=(400, 404, 503),
    authenticated=False,
)
OIDC_CALLBACK = Operation(
    "GET",
    "/console/auth/oidc/callback",
    CALLBACK_OPERATION,
    "Where the provider returns: signs the browser in and redirects to the console",
    TAG,
    None,
    query=OidcCallbackQuery,
    status=303,
    errors=(400, 404),
    authenticated=False,
    description="Failures redirect to `/signin?error=<code>` for the page to explain.",
)


def _auth(request: Request) -> tuple[GatewayState, ConsoleAuth]:
    state: GatewayState = request.app.state.gateway
    return state, state.console


def _require_console_page(request: Request) -> None:
    """Refuse a request that does not come from the console's own page (CSRF)."""
    if request.headers.get(CONSOLE_HEADER) != "1":
        raise ApiError("console_header_required", "console requests carry the X-Agentmesh-Console: 1 header")
    origin = request.headers.get("origin")
    if origin is not None and urlsplit(origin).netloc != request.headers.get("host"):
        raise ApiError("cross_origin_request", "the request comes from another site")
    if request.headers.get("sec-fetch-site") not in (None, "same-origin", "none"):
        raise ApiError("cross_origin_request", "the request comes from another site")


def _set_cookie(
    response: Response, request: Request, name: str, value: str, max_age: int, same_site: str
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        secure=request.url.scheme == "https",
        samesite=same_site,  # type: ignore[arg-type]
    )


async def _view(request: Request, session: ConsoleSession | None) -> SessionView:
    state, auth = _auth(request)
    dev = auth.dev_signin_allowed(request)
    return SessionView(
        signed_in=session is not None,
        identity=session.identity if session else None,
        kind=session.kind if session else None,
        expires_at=session.expires_at if session else None,
        tenant_exists=await state.tenants.exists(session.identity.tenant_id) if session else False,
        dev_signin=dev,
        oidc=auth.oidc is not None,
        demo_users=list(DEMO_USERS.values()) if dev else [],
    )


async def session_view(request: Request) -> Response:
    _, auth = _auth(request)
    session = await auth.session(request.cookies.get(COOKIE))
    response = SESSION.reply(await _view(request, session))
    response.headers["Cache-Control"] = "no-store"
    return response


async def dev_signin(request: Request) -> Response:
    state, auth = _auth(request)
    _require_console_page(request)
    if not auth.dev_signin_allowed(request):
        raise ApiError(
            "dev_signin_unavailable",
            "demo users are offered only with the development key pair"
            + ("" if auth.uses_dev_keys else "; this gateway verifies tokens from an identity provider"),
        )
    body = await DEV_SIGNIN.read_body(request, state.settings.max_body_bytes)
    session = auth.dev_session(DEMO_USERS[body.user])
    session_id = await auth.start(session)
    await auth.end(request.cookies.get(COOKIE))
    log.info("console_signed_in", kind="dev", user=body.user)
    response = DEV_SIGNIN.reply(await _view(request, session))
    _set_cookie(response, request, COOKIE, session_id, state.settings.console_session_seconds, "strict")
    return response


async def token(request: Request) -> Response:
    _, auth = _auth(request)
    _require_console_page(request)
    try:
        issued, session = await auth.token(request.cookies.get(COOKIE))
    except ConsoleSignedOut as exc:
        raise ApiError("console_signed_out", str(exc)) from exc
    response = TOKEN.reply(
        ConsoleToken(
            access_token=issued.access_token, expires_at=issued.expires_at, identity=session.identity
        )
    )
    response.headers["Cache-Control"] = "no-store"
    return response


async def signout(request: Request) -> Response:
    _, auth = _auth(request)
    _require_console_page(request)
    await auth.end(request.cookies.get(COOKIE))
    response = SIGNOUT.reply()
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
    return response


def _oidc(auth: ConsoleAuth) -> OidcClient:
    if auth.oidc is None:
        raise ApiError("oidc_not_configured", "no OpenID Connect provider is configured")
    return auth.oidc


def _redirect_uri(request: Request, auth: ConsoleAuth) -> str:
    configured = _oidc(auth).redirect_url
    return str(configured) if configured else str(request.url_for(CALLBACK_OPERATION))


async def oidc_start(request: Request) -> Response:
    _, auth = _auth(request)
    oidc = _oidc(auth)
    query = OIDC_START.read_query(request)
    redirect_uri = _redirect_uri(request, auth)
    try:
        authorization = await oidc.authorization(redirect_uri)
    except OidcError as exc:
        log.warning("console_oidc_unavailable", error=str(exc))
        raise ApiError("identity_provider_unavailable", str(exc)) from exc
    login_id = await auth.remember_login(
        PendingLogin(
            state=authorization.state,
            code_verifier=authorization.code_verifier,
            nonce=authorization.nonce,
            redirect_uri=redirect_uri,
            return_to=query.return_to,
        )
    )
    response = RedirectResponse(authorization.url, status_code=302, headers={"Cache-Control": "no-store"})
    # Lax, not Strict: the provider's redirect back is a navigation from its site to this one.
    _set_cookie(response, request, LOGIN_COOKIE, login_id, LOGIN_SECONDS, "lax")
    return response


def _to_signin(code: str) -> Response:
    response = RedirectResponse("/signin?" + urlencode({"error": code}), status_code=303)
    response.delete_cookie(LOGIN_COOKIE, path="/")
    return response


async def oidc_callback(request: Request) -> Response:
    state, auth = _auth(request)
    oidc = _oidc(auth)
    query = OIDC_CALLBACK.read_query(request)
    login = await auth.take_login(request.cookies.get(LOGIN_COOKIE))
    if query.error:
        log.info("console_oidc_refused", error=query.error)
        return _to_signin("provider_refused")
    if login is None or not query.code or query.state != login.state:
        return _to_signin("login_expired")
    try:
        tokens = await oidc.exchange(
            query.code, redirect_uri=login.redirect_uri, code_verifier=login.code_verifier, nonce=login.nonce
        )
    except OidcError as exc:
        log.warning("console_oidc_failed", error=str(exc))
        return _to_signin("login_failed")
    try:
        user = await state.token_verifier.verify(tokens.access_token)
    except ApiError as exc:
        log.warning("console_oidc_token_refused", error=exc.message)
        return _to_signin("token_not_accepted")
    session = ConsoleSession(
        kind="oidc",
        identity=ConsoleIdentity(tenant_id=user.tenant_id, subject=user.subject, roles=user.roles),
        expires_at=time.time() + state.settings.console_session_seconds,
        tokens=tokens,
    )
    session_id = await auth.start(session)
    log.info("console_signed_in", kind="oidc")
    response = RedirectResponse(login.return_to, status_code=303)
    response.delete_cookie(LOGIN_COOKIE, path="/")
    _set_cookie(response, request, COOKIE, session_id, state.settings.console_session_seconds, "strict")
    return response


operations = [
    SESSION.bind(session_view),
    DEV_SIGNIN.bind(dev_signin),
    TOKEN.bind(token),
    SIGNOUT.bind(signout),
    OIDC_START.bind(oidc_start),
    OIDC_CALLBACK.bind(oidc_callback),
]
