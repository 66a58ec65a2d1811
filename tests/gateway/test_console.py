"""The web console as served by the gateway: its pages and files, and signing in with a demo user.

Every console response carries the same strict security headers; files revalidate by ETag. The
development sign-in sets an HttpOnly, SameSite=Strict cookie; the page trades it for short-lived
access tokens, only from the console's own page (custom header, same origin), and never once
signed out.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import jwt
import pytest
from starlette.requests import Request

from agentmesh.settings import load_settings
from gateway.cache import InProcessCache
from gateway.console.assets import ASSETS, CONTENT_SECURITY_POLICY
from gateway.console.auth import COOKIE, ConsoleAuth
from tests.gateway.mesh import Mesh

pytestmark = pytest.mark.slow

CONSOLE = {"X-Agentmesh-Console": "1"}


def sign_in(mesh: Mesh, user: str = "acme-user", **headers: str) -> httpx.Response:
    return httpx.post(f"{mesh.url}/console/auth/dev", json={"user": user}, headers={**CONSOLE, **headers})


@pytest.mark.parametrize("path", ["/", "/chat", "/chat/abc123", "/admin", "/admin/usage", "/docs", "/signin"])
def test_every_page_is_the_console_document_with_a_strict_policy(mesh: Mesh, path: str) -> None:
    response = httpx.get(f"{mesh.url}{path}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert '<div id="app"' in response.text


def test_the_policy_admits_no_inline_code_and_no_other_origin() -> None:
    directives = dict(part.split(" ", 1) for part in CONTENT_SECURITY_POLICY.split("; "))
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["connect-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["base-uri"] == "'none'"
    assert "unsafe" not in CONTENT_SECURITY_POLICY


def test_no_console_file_carries_inline_code_or_html_injection_sinks() -> None:
    for path in ASSETS.paths(".js", under="js"):
        text = ASSETS.get(f"js/{path}").content.decode()  # type: ignore[union-attr]
        source = "\n".join(
            line for line in text.splitlines() if not line.lstrip().startswith(("//", "*", "/*"))
        )
        for sink in (
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
            "new Function",
        ):
            assert sink not in source, f"{path} uses {sink}"
        assert "localStorage" not in source and "sessionStorage" not in source, path
    index = ASSETS.get("index.html").content.decode()  # type: ignore[union-attr]
    assert "<script>" not in index and "style=" not in index


def test_files_are_served_with_their_type_and_revalidate_by_etag(mesh: Mesh) -> None:
    script = httpx.get(f"{mesh.url}/console/static/js/app.js")
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert script.headers["cache-control"] == "no-cache"
    etag = script.headers["etag"]
    assert (
        httpx.get(f"{mesh.url}/console/static/js/app.js", headers={"If-None-Match": etag}).status_code == 304
    )
    assert httpx.get(f"{mesh.url}/console/static/css/app.css").headers["content-type"].startswith("text/css")
    assert httpx.get(f"{mesh.url}/console/static/img/icon.svg").headers["content-type"] == "image/svg+xml"


def test_only_files_that_exist_are_served(mesh: Mesh) -> None:
    for path in (
        "/console/static/js/nope.js",
        "/console/static/js/../../assets.py",
        "/console/static/css/x.js",
    ):
        response = httpx.get(f"{mesh.url}{path}")
        assert response.status_code in (400, 404), path
        assert response.json()["error"]["code"] in ("invalid_path", "asset_not_found", "not_found")


def test_a_browser_signed_out_is_told_how_to_sign_in(mesh: Mesh) -> None:
    view = httpx.get(f"{mesh.url}/console/auth/session").json()
    assert view["signed_in"] is False and view["identity"] is None
    assert view["dev_signin"] is True and view["oidc"] is False
    assert {user["id"] for user in view["demo_users"]} == {
        "acme-user",
        "acme-admin",
        "globex-user",
        "platform-admin",
    }


def test_a_demo_sign_in_sets_an_http_only_strict_cookie_and_hands_out_short_tokens(mesh: Mesh) -> None:
    response = sign_in(mesh, "acme-admin")
    assert response.status_code == 200, response.text
    assert response.json()["identity"] == {"tenant_id": "acme", "subject": "ada", "roles": ["tenant_admin"]}
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=") and "HttpOnly" in cookie and "SameSite=strict" in cookie
    session = response.cookies[COOKIE]

    issued = httpx.post(f"{mesh.url}/console/auth/token", headers=CONSOLE, cookies={COOKIE: session})
    assert issued.status_code == 200 and issued.headers["cache-control"] == "no-store"
    token = issued.json()["access_token"]
    claims = jwt.decode(token, options={"verify_signature": False})
    assert (claims["tenant_id"], claims["sub"], claims["roles"]) == ("acme", "ada", ["tenant_admin"])
    assert claims["exp"] - time.time() <= mesh.settings.console_token_seconds + 1
    usage = httpx.get(
        f"{mesh.url}/api/admin/tenants/acme/usage", headers={"Authorization": f"Bearer {token}"}
    )
    assert usage.status_code == 200

    view = httpx.get(f"{mesh.url}/console/auth/session", cookies={COOKIE: session}).json()
    assert view["signed_in"] and view["tenant_exists"] and view["kind"] == "dev"


def test_the_console_session_is_sealed_in_the_cache(mesh: Mesh) -> None:
    session = sign_in(mesh, "globex-user").cookies[COOKIE]
    cache = mesh.state.console._cache
    assert isinstance(cache, InProcessCache)
    stored = next(value for key, (_, value) in cache._entries.items() if key.endswith(session))
    assert "bob" not in stored and "globex" not in stored


def test_a_platform_admin_has_no_tenant_to_chat_in(mesh: Mesh) -> None:
    session = sign_in(mesh, "platform-admin").cookies[COOKIE]
    view = httpx.get(f"{mesh.url}/console/auth/session", cookies={COOKIE: session}).json()
    assert view["identity"]["roles"] == ["platform_admin"] and view["tenant_exists"] is False


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, "console_header_required"),
        ({**CONSOLE, "Origin": "https://evil.example"}, "cross_origin_request"),
        ({**CONSOLE, "Sec-Fetch-Site": "cross-site"}, "cross_origin_request"),
    ],
)
def test_another_site_can_neither_sign_a_browser_in_nor_read_its_token(
    mesh: Mesh, headers: dict[str, str], code: str
) -> None:
    session = sign_in(mesh).cookies[COOKIE]
    forged = httpx.post(f"{mesh.url}/console/auth/dev", json={"user": "platform-admin"}, headers=headers)
    assert forged.status_code == 403 and forged.json()["error"]["code"] == code
    assert COOKIE not in forged.cookies
    stolen = httpx.post(f"{mesh.url}/console/auth/token", headers=headers, cookies={COOKIE: session})
    assert stolen.status_code == 403 and stolen.json()["error"]["code"] == code


def test_no_token_without_a_console_session(mesh: Mesh) -> None:
    for cookies in ({}, {COOKIE: "not-a-session"}, {COOKIE: "x" * 500}):
        response = httpx.post(f"{mesh.url}/console/auth/token", headers=CONSOLE, cookies=cookies)
        assert response.status_code == 401 and response.json()["error"]["code"] == "console_signed_out"


def test_signing_out_ends_the_session_for_good(mesh: Mesh) -> None:
    session = sign_in(mesh).cookies[COOKIE]
    out = httpx.post(f"{mesh.url}/console/auth/signout", headers=CONSOLE, cookies={COOKIE: session})
    assert out.status_code == 204 and f'{COOKIE}=""' in out.headers["set-cookie"]
    after = httpx.post(f"{mesh.url}/console/auth/token", headers=CONSOLE, cookies={COOKIE: session})
    assert after.status_code == 401


def test_an_unknown_demo_user_is_a_precise_error(mesh: Mesh) -> None:
    response = httpx.post(f"{mesh.url}/console/auth/dev", json={"user": "root"}, headers=CONSOLE)
    assert response.status_code == 400
    assert response.json()["error"]["details"][0]["field"] == "user"


def _request(host: str) -> Request:
    scope: dict[str, Any] = {
        "type": "http",
        "method": "GET",
        "path": "/",
        "headers": [],
        "client": (host, 5000),
    }
    return Request(scope)


@pytest.mark.parametrize(
    ("mode", "env", "host", "allowed"),
    [
        ("auto", {}, "127.0.0.1", True),
        ("auto", {}, "::1", True),
        ("auto", {}, "10.1.2.3", False),
        ("on", {}, "10.1.2.3", True),
        ("off", {}, "127.0.0.1", False),
        ("on", {"AGENTMESH_JWT_JWKS_URL": "https://idp.example/jwks"}, "127.0.0.1", False),
    ],
)
def test_demo_users_are_offered_only_with_the_development_keys_and_as_configured(
    tmp_path: Any, mode: str, env: dict[str, str], host: str, allowed: bool
) -> None:
    settings = load_settings(AGENTMESH_DATA_DIR=tmp_path, AGENTMESH_CONSOLE_DEV_SIGNIN=mode, **env)
    auth = ConsoleAuth(settings, InProcessCache(), box=None)  # type: ignore[arg-type]
    assert auth.dev_signin_allowed(_request(host)) is allowed
