"""The authorization server's endpoints, as Starlette routes.

| endpoint | what |
| --- | --- |
| `GET /.well-known/oauth-authorization-server`, `/.well-known/openid-configuration` | RFC 8414 metadata |
| `POST /oauth/register` | dynamic client registration (RFC 7591), JSON |
| `GET /oauth/authorize` | validates the client's request, then the sign-in or the consent page |
| `POST /oauth/signin` | signs the browser in as a demo user (development key pair), then consent |
| `POST /oauth/authorize` | the user's decision: back to the client with a code, or `access_denied` |
| `POST /oauth/token` | authorization code (PKCE) and refresh token grants |
| `POST /oauth/revoke` | revocation (RFC 7009) |

OAuth endpoints answer in OAuth's error format (`{"error", "error_description"}`), never a trace.
A request the authorization page cannot trust (unknown client, a redirect URI the client did not
register) is explained on the page; every other refusal goes back to the client's redirect URI,
as RFC 6749 says. The two forms are protected from cross-site posting: each carries a token sealed
with the platform's secret, bound to this browser (its console session, or before sign-in a
cookie of its own) and to this exact authorization request, and a cross-site `Origin` or
`Sec-Fetch-Site` is refused.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlsplit

import structlog
from authlib.oauth2.rfc6749 import OAuth2Error
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from gateway.bodies import read_body
from gateway.console.auth import COOKIE, DEMO_USERS, ConsoleSession
from gateway.mcp_endpoint import names_itself, resource_url
from gateway.oauth import pages
from gateway.oauth.server import (
    AUTHORIZE_PATH,
    REGISTER_PATH,
    REVOKE_PATH,
    TOKEN_PATH,
    Answer,
    GatewayAuthorizationServer,
    GatewayJsonRequest,
    GatewayOAuth2Request,
    OAuthClient,
    describable,
)
from gateway.oauth.store import Grantee
from gateway.state import GatewayState

log = structlog.get_logger(__name__)

METADATA_PATHS = ("/.well-known/oauth-authorization-server", "/.well-known/openid-configuration")
SIGNIN_PATH = "/oauth/signin"
SIGNIN_COOKIE = "agentmesh_oauth_signin"
FORM_SECONDS = 900
CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
    "Access-Control-Allow-Headers": "Authorization, Content-Type, MCP-Protocol-Version",
    "Access-Control-Max-Age": "600",
}
"""Browser-based MCP clients call the metadata, registration, token and revocation endpoints from
their own origin; none of them reads a cookie, so any origin may."""


_Text = Annotated[str, Field(max_length=2048)]


class ClientMetadataShape(BaseModel):
    """The JSON types of RFC 7591 client metadata, checked before authlib reads the values (it
    assumes them: a number where a list belongs would be a 500, not the client's mistake)."""

    model_config = ConfigDict(extra="allow", strict=True)

    redirect_uris: list[_Text] | None = None
    token_endpoint_auth_method: _Text | None = None
    grant_types: list[_Text] | None = None
    response_types: list[_Text] | None = None
    client_name: _Text | None = None
    client_uri: _Text | None = None
    logo_uri: _Text | None = None
    scope: _Text | None = None
    contacts: list[_Text] | None = None
    tos_uri: _Text | None = None
    policy_uri: _Text | None = None
    jwks_uri: _Text | None = None
    jwks: dict[str, Any] | None = None
    software_id: _Text | None = None
    software_version: _Text | None = None


def _metadata_problem(data: dict[str, Any]) -> str | None:
    try:
        ClientMetadataShape.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        return describable(f"{where}: {first['msg']}")
    return None


class _FormToken(BaseModel):
    purpose: str
    browser: str
    request: str
    expires_at: float


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _state(request: Request) -> GatewayState:
    state: GatewayState = request.app.state.gateway
    return state


def _server(request: Request) -> GatewayAuthorizationServer | None:
    """The authorization server, when this gateway is one (development keys, bare-name issuer)."""
    state = _state(request)
    if not names_itself(state.settings) or not state.console.uses_dev_keys:
        return None
    return state.oauth


def _oauth_error(status: int, error: str, description: str) -> Response:
    body = {"error": error, "error_description": description}
    return Response(
        json.dumps(body),
        status_code=status,
        media_type="application/json",
        headers={"Cache-Control": "no-store", **CORS_HEADERS},
    )


def _not_offered(request: Request) -> Response:
    issuer = _state(request).settings.jwt_issuer
    if names_itself(_state(request).settings):
        description = "this gateway issues no tokens: its tokens are verified with a configured public key"
    else:
        description = f"this gateway issues no tokens: they come from the identity provider {issuer}"
    return _oauth_error(404, "invalid_request", description)


def _json_answer(answer: Answer) -> Response:
    headers = {name: value for name, value in answer.headers if name.lower() != "content-type"}
    body = answer.body if isinstance(answer.body, dict) else {}
    return Response(
        json.dumps(body),
        status_code=answer.status,
        media_type="application/json",
        headers={**headers, "Cache-Control": "no-store", **CORS_HEADERS},
    )


def _headers(request: Request) -> dict[str, str]:
    return {name: value for name, value in request.headers.items()}


def _oauth_request(request: Request, form: list[tuple[str, str]] | None = None) -> GatewayOAuth2Request:
    return GatewayOAuth2Request(
        request.method,
        str(request.url),
        _headers(request),
        query=parse_qsl(request.url.query, keep_blank_values=True),
        form=form or [],
        resource=resource_url(request),
    )


async def _form(request: Request) -> list[tuple[str, str]]:
    """The urlencoded form of a request, or an `OAuth2Error`."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        raise OAuth2Error("the body must be application/x-www-form-urlencoded", error="invalid_request")
    body = await read_body(request, _state(request).settings.max_body_bytes)
    try:
        return parse_qsl(body.decode(), keep_blank_values=True, strict_parsing=bool(body))
    except (UnicodeDecodeError, ValueError) as exc:
        raise OAuth2Error("the form body cannot be parsed", error="invalid_request") from exc


def _refused(error: OAuth2Error) -> Response:
    """A request refused before authlib saw it (its form, or plain http to a public host)."""
    status, body, _ = error()
    return _oauth_error(status, body.get("error") or "invalid_request", body.get("error_description", ""))


# -- metadata -----------------------------------------------------------------------------------


async def metadata(request: Request) -> Response:
    server = _server(request)
    if server is None:
        return _not_offered(request)
    issuer = str(request.base_url).rstrip("/")
    return Response(
        json.dumps(dict(server.metadata(issuer))),
        media_type="application/json",
        headers={"Cache-Control": "public, max-age=3600", **CORS_HEADERS},
    )


# -- the protocol endpoints (JSON) ---------------------------------------------------------------


async def register(request: Request) -> Response:
    server = _server(request)
    if server is None:
        return _not_offered(request)
    body = await read_body(request, _state(request).settings.max_body_bytes)
    try:
        data = json.loads(body)
    except ValueError:
        return _oauth_error(
            400, "invalid_client_metadata", "the body must be a JSON object of client metadata"
        )
    if not isinstance(data, dict):
        return _oauth_error(
            400, "invalid_client_metadata", "the body must be a JSON object of client metadata"
        )
    problem = _metadata_problem(data) if data else "no client metadata: redirect_uris at least"
    if problem is not None:
        return _oauth_error(400, "invalid_client_metadata", problem)
    answer = await server.run(
        server.create_endpoint_response,
        "client_registration",
        GatewayJsonRequest(str(request.url), _headers(request), data),
    )
    if answer.status == 201 and isinstance(answer.body, dict):
        log.info("oauth_client_registered", client_id=answer.body.get("client_id"))
    return _json_answer(answer)


async def token(request: Request) -> Response:
    server = _server(request)
    if server is None:
        return _not_offered(request)
    try:
        oauth_request = _oauth_request(request, await _form(request))
    except OAuth2Error as exc:
        return _refused(exc)
    answer: Answer = await server.run(server.create_token_response, oauth_request)
    return _json_answer(answer)


async def revoke(request: Request) -> Response:
    server = _server(request)
    if server is None:
        return _not_offered(request)
    try:
        oauth_request = _oauth_request(request, await _form(request))
    except OAuth2Error as exc:
        return _refused(exc)
    answer: Answer = await server.run(server.create_endpoint_response, "revocation", oauth_request)
    return _json_answer(answer)


async def preflight(request: Request) -> Response:
    return Response(status_code=204, headers=CORS_HEADERS)


# -- the authorization page ----------------------------------------------------------------------


def _language(request: Request) -> pages.Language:
    return pages.language(request.query_params.get("ui_locales"), request.headers.get("accept-language"))


def _seal(state: GatewayState, purpose: str, browser: str, request: Request) -> str:
    token = _FormToken(
        purpose=purpose,
        browser=_digest(browser),
        request=_digest(request.url.query),
        expires_at=time.time() + FORM_SECONDS,
    )
    return state.secrets.seal(token.model_dump_json())


def _sealed_matches(
    state: GatewayState, sealed: str | None, purpose: str, browser: str | None, request: Request
) -> bool:
    if not sealed or not browser or len(sealed) > 2048:
        return False
    try:
        token = _FormToken.model_validate_json(state.secrets.open(sealed))
    except (ValueError, ValidationError):
        return False
    return (
        token.purpose == purpose
        and secrets.compare_digest(token.browser, _digest(browser))
        and secrets.compare_digest(token.request, _digest(request.url.query))
        and token.expires_at > time.time()
    )


def _same_site(request: Request) -> bool:
    origin = request.headers.get("origin")
    if origin is not None and urlsplit(origin).netloc != request.headers.get("host"):
        return False
    return request.headers.get("sec-fetch-site") in (None, "same-origin", "none")


async def _validated(
    server: GatewayAuthorizationServer, oauth_request: GatewayOAuth2Request, lang: pages.Language
) -> tuple[Any, Response | None]:
    """The grant of a valid authorization request; else the answer: back to the client when its
    redirect URI is trusted, else a page saying what is wrong."""
    try:
        grant = await server.run(server.get_consent_grant, oauth_request, None)
    except OAuth2Error as error:
        answer = server.error_answer(oauth_request, error)
        if answer.location is not None:
            return None, RedirectResponse(answer.location, status_code=302)
        description = error.description or error.error or "invalid request"
        return None, pages.message_page(lang, "title_error", f"{error.error}: {description}", answer.status)
    return grant, None


async def _signed_in(state: GatewayState, request: Request) -> tuple[str, ConsoleSession] | None:
    session_id = request.cookies.get(COOKIE)
    session = await state.console.session(session_id)
    if session is None or session.kind != "dev" or session_id is None:
        return None
    return session_id, session


async def authorize(request: Request) -> Response:
    server = _server(request)
    if server is None:
        return _not_offered(request)
    state = _state(request)
    lang = _language(request)
    try:
        oauth_request = _oauth_request(request)
    except OAuth2Error as exc:
        return pages.message_page(lang, "title_error", exc.description or exc.error, 400)
    grant, refusal = await _validated(server, oauth_request, lang)
    if refusal is not None:
        return refusal
    client: OAuthClient = grant.client
    signed_in = await _signed_in(state, request)
    if signed_in is None:
        return _signin(state, request, lang, client)
    session_id, session = signed_in
    identity = session.identity
    if not await state.tenants.exists(identity.tenant_id):
        return pages.message_page(
            lang, "title_error", pages.STRINGS[lang]["no_tenant"].format(tenant=identity.tenant_id), 403
        )
    return pages.consent_page(
        lang,
        client=client.name,
        client_id=client.client_id,
        redirect_uri=grant.redirect_uri,
        tenant=identity.tenant_id,
        user=identity.subject,
        scopes=oauth_request.scope.split(),
        action=f"{AUTHORIZE_PATH}?{request.url.query}",
        csrf=_seal(state, "consent", session_id, request),
    )


def _signin(state: GatewayState, request: Request, lang: pages.Language, client: OAuthClient) -> Response:
    if not state.console.dev_signin_allowed(request):
        return pages.message_page(lang, "title_unavailable", pages.STRINGS[lang]["unavailable"], 403)
    nonce = secrets.token_urlsafe(24)
    users = [
        pages.DemoChoice(user.id, f"{user.identity.subject} · {user.identity.tenant_id}")
        for user in DEMO_USERS.values()
    ]
    response = pages.signin_page(
        lang,
        client=client.name,
        action=f"{SIGNIN_PATH}?{request.url.query}",
        csrf=_seal(state, "signin", nonce, request),
        users=users,
    )
    response.set_cookie(
        SIGNIN_COOKIE,
        nonce,
        max_age=FORM_SECONDS,
        path="/oauth",
        httponly=True,
        secure=request.url.scheme == "https",
        samesite="strict",
    )
    return response


async def signin(request: Request) -> Response:
    server = _server(request)
    if server is None:
        return _not_offered(request)
    state = _state(request)
    lang = _language(request)
    form = dict(await _page_form(request))
    if not _same_site(request) or not _sealed_matches(
        state, form.get("csrf_token"), "signin", request.cookies.get(SIGNIN_COOKIE), request
    ):
        return pages.message_page(lang, "title_error", pages.STRINGS[lang]["expired"], 403)
    if not state.console.dev_signin_allowed(request):
        return pages.message_page(lang, "title_unavailable", pages.STRINGS[lang]["unavailable"], 403)
    user = DEMO_USERS.get(form.get("user", ""))
    if user is None:
        return pages.message_page(lang, "title_error", "unknown demo user", 400)
    session_id = await state.console.start(state.console.dev_session(user))
    log.info("console_signed_in", kind="dev", user=user.id, via="oauth")
    response = RedirectResponse(f"{AUTHORIZE_PATH}?{request.url.query}", status_code=303)
    response.delete_cookie(SIGNIN_COOKIE, path="/oauth")
    response.set_cookie(
        COOKIE,
        session_id,
        max_age=state.settings.console_session_seconds,
        path="/",
        httponly=True,
        secure=request.url.scheme == "https",
        samesite="strict",
    )
    return response


async def _page_form(request: Request) -> list[tuple[str, str]]:
    try:
        return await _form(request)
    except OAuth2Error:
        return []


async def decide(request: Request) -> Response:
    server = _server(request)
    if server is None:
        return _not_offered(request)
    state = _state(request)
    lang = _language(request)
    form = dict(await _page_form(request))
    signed_in = await _signed_in(state, request)
    if (
        signed_in is None
        or not _same_site(request)
        or not _sealed_matches(state, form.get("csrf_token"), "consent", signed_in[0], request)
    ):
        return pages.message_page(lang, "title_error", pages.STRINGS[lang]["expired"], 403)
    try:
        oauth_request = _oauth_request(request)
    except OAuth2Error as exc:
        return pages.message_page(lang, "title_error", exc.description or exc.error, 400)
    grant, refusal = await _validated(server, oauth_request, lang)
    if refusal is not None:
        return refusal
    identity = signed_in[1].identity
    grantee = None
    if form.get("decision") == "approve":
        grantee = Grantee(identity.tenant_id, identity.subject, tuple(identity.roles), oauth_request.resource)
    answer: Answer = await server.run(server.create_authorization_response, oauth_request, grantee, grant)
    log.info(
        "oauth_authorization_decided",
        client_id=grant.client.client_id,
        tenant_id=identity.tenant_id,
        approved=grantee is not None,
    )
    if answer.location is None:
        return pages.message_page(lang, "title_error", str(answer.body), answer.status)
    return RedirectResponse(answer.location, status_code=303)


def _routes() -> list[Route]:
    routes = [Route(path, metadata, methods=["GET"]) for path in METADATA_PATHS]
    routes += [
        Route(AUTHORIZE_PATH, authorize, methods=["GET"]),
        Route(AUTHORIZE_PATH, decide, methods=["POST"]),
        Route(SIGNIN_PATH, signin, methods=["POST"]),
        Route(TOKEN_PATH, token, methods=["POST"]),
        Route(REGISTER_PATH, register, methods=["POST"]),
        Route(REVOKE_PATH, revoke, methods=["POST"]),
    ]
    for path in (*METADATA_PATHS, TOKEN_PATH, REGISTER_PATH, REVOKE_PATH):
        routes.append(Route(path, preflight, methods=["OPTIONS"]))
    return routes


routes = _routes()
"""OAuth speaks forms, redirects and HTML pages, not this platform's JSON API: routes of their own,
outside the OpenAPI document (like `/mcp`)."""
