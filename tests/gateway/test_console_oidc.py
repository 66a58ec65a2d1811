"""Signing in to the console with an OpenID Connect provider: authorization code + PKCE, end to end.

A loopback provider (`tests.gateway.oidc_provider`) plays the identity provider; the gateway
verifies user tokens with the provider's JWKS, as a production deployment does. The browser's
part is played by an HTTP client that follows each redirect by hand and keeps the cookies.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from agentmesh.settings import Settings, load_settings
from gateway.app import create_app
from gateway.console.auth import COOKIE, LOGIN_COOKIE
from tests.gateway.loopback import serve_in_thread
from tests.gateway.oidc_provider import CLIENT_ID, OidcProvider
from tests.support.processes import wait_healthy

pytestmark = pytest.mark.slow

AUDIENCE = "agentmesh"
CONSOLE = {"X-Agentmesh-Console": "1"}


@dataclass
class Setup:
    gateway: str
    provider: OidcProvider
    settings: Settings


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    provider = OidcProvider(audience=AUDIENCE)
    with serve_in_thread(provider.app()) as issuer:
        provider.issuer = issuer
        settings = load_settings(
            AGENTMESH_DATA_DIR=tmp_path_factory.mktemp("oidc"),
            AGENTMESH_JWT_JWKS_URL=f"{issuer}/jwks",
            AGENTMESH_JWT_ISSUER=issuer,
            AGENTMESH_JWT_AUDIENCE=AUDIENCE,
            AGENTMESH_OIDC_ISSUER=issuer,
            AGENTMESH_OIDC_CLIENT_ID=CLIENT_ID,
            AGENTMESH_LOG_LEVEL="WARNING",
        )
        with serve_in_thread(create_app(settings, servers={}), lifespan="on") as url:
            wait_healthy(f"{url}/healthz")
            yield Setup(gateway=url, provider=provider, settings=settings)


def start(client: httpx.Client, setup: Setup, return_to: str = "/chat") -> httpx.Response:
    """The browser clicks "sign in": the gateway sends it to the provider."""
    response = client.get(f"{setup.gateway}/console/auth/oidc/start", params={"return_to": return_to})
    assert response.status_code == 302, response.text
    return response


def test_with_a_provider_configured_demo_users_are_not_offered(setup: Setup) -> None:
    view = httpx.get(f"{setup.gateway}/console/auth/session").json()
    assert view["oidc"] is True and view["dev_signin"] is False and view["demo_users"] == []
    refused = httpx.post(
        f"{setup.gateway}/console/auth/dev", json={"user": "platform-admin"}, headers=CONSOLE
    )
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "dev_signin_unavailable"


def test_a_user_signs_in_with_code_and_pkce_and_the_page_gets_the_providers_token(setup: Setup) -> None:
    with httpx.Client() as browser:
        to_provider = start(browser, setup)
        authorize = urlsplit(to_provider.headers["location"])
        query = parse_qs(authorize.query)
        assert f"{authorize.scheme}://{authorize.netloc}" == setup.provider.issuer
        assert query["code_challenge_method"] == ["S256"] and len(query["code_challenge"][0]) == 43
        assert query["client_id"] == [CLIENT_ID] and query["state"] and query["nonce"]
        assert "openid" in query["scope"][0]
        assert (
            "SameSite=lax" in to_provider.headers["set-cookie"]
            and "HttpOnly" in to_provider.headers["set-cookie"]
        )

        back = browser.get(to_provider.headers["location"])
        assert back.status_code == 302
        landed = browser.get(back.headers["location"])
        assert landed.status_code == 303 and landed.headers["location"] == "/chat", landed.text
        assert browser.cookies.get(COOKIE) and not browser.cookies.get(LOGIN_COOKIE)

        issued = browser.post(f"{setup.gateway}/console/auth/token", headers=CONSOLE)
        assert issued.status_code == 200, issued.text
        assert issued.json()["identity"] == {"tenant_id": "acme", "subject": "carol", "roles": ["user"]}
        token = issued.json()["access_token"]
        sessions = httpx.get(
            f"{setup.gateway}/api/acme/sessions", headers={"Authorization": f"Bearer {token}"}
        )
        assert sessions.status_code == 200 and sessions.json() == {"items": []}
    assert setup.provider.refused == []


def test_a_callback_that_this_browser_did_not_start_is_refused(setup: Setup) -> None:
    with httpx.Client() as attacker:
        to_provider = start(attacker, setup)
        code_url = attacker.get(to_provider.headers["location"]).headers["location"]
    with httpx.Client() as victim:  # a callback URL planted in another browser: no sign-in of its own
        landed = victim.get(code_url)
        assert landed.status_code == 303 and landed.headers["location"] == "/signin?error=login_expired"
        assert not victim.cookies.get(COOKIE)


def test_a_forged_state_is_refused_and_the_sign_in_cannot_be_replayed(setup: Setup) -> None:
    with httpx.Client() as browser:
        to_provider = start(browser, setup)
        code_url = browser.get(to_provider.headers["location"]).headers["location"]
        parts = urlsplit(code_url)
        code = parse_qs(parts.query)["code"][0]
        forged = browser.get(f"{setup.gateway}{parts.path}", params={"code": code, "state": "forged"})
        assert forged.headers["location"] == "/signin?error=login_expired"
        replay = browser.get(code_url)  # the sign-in in flight was used up by the forged attempt
        assert replay.headers["location"] == "/signin?error=login_expired"
        assert not browser.cookies.get(COOKIE)


def test_a_refusal_from_the_provider_is_reported_on_the_sign_in_page(setup: Setup) -> None:
    with httpx.Client() as browser:
        start(browser, setup)
        landed = browser.get(f"{setup.gateway}/console/auth/oidc/callback", params={"error": "access_denied"})
        assert landed.headers["location"] == "/signin?error=provider_refused"


def test_an_expiring_provider_token_is_refreshed_before_it_is_handed_out(setup: Setup) -> None:
    setup.provider.access_seconds = 30  # inside the refresh margin: due at once
    try:
        with httpx.Client() as browser:
            to_provider = start(browser, setup)
            browser.get(browser.get(to_provider.headers["location"]).headers["location"])
            first = browser.post(f"{setup.gateway}/console/auth/token", headers=CONSOLE).json()[
                "access_token"
            ]
            refreshes = setup.provider.refreshes
            second = browser.post(f"{setup.gateway}/console/auth/token", headers=CONSOLE).json()[
                "access_token"
            ]
            assert setup.provider.refreshes == refreshes + 1 and second != first
    finally:
        setup.provider.access_seconds = 600


def test_an_open_redirect_through_return_to_is_refused(setup: Setup) -> None:
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        response = httpx.get(f"{setup.gateway}/console/auth/oidc/start", params={"return_to": target})
        assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_query", target


def test_without_a_provider_the_flow_says_so(tmp_path: Path) -> None:
    settings = load_settings(AGENTMESH_DATA_DIR=tmp_path)
    with serve_in_thread(create_app(settings, servers={}), lifespan="on") as url:
        response = httpx.get(f"{url}/console/auth/oidc/start")
        assert response.status_code == 404 and response.json()["error"]["code"] == "oidc_not_configured"


def test_with_a_provider_configured_mcp_metadata_names_it_and_the_gateway_issues_no_tokens(
    setup: Setup,
) -> None:
    resource = httpx.get(f"{setup.gateway}/.well-known/oauth-protected-resource/mcp").json()
    assert resource["authorization_servers"] == [setup.provider.issuer]
    for path in ("/.well-known/oauth-authorization-server", "/oauth/authorize"):
        refused = httpx.get(f"{setup.gateway}{path}")
        assert refused.status_code == 404 and refused.json()["error"] == "invalid_request"
        assert setup.provider.issuer in refused.json()["error_description"]
    registration = httpx.post(
        f"{setup.gateway}/oauth/register", json={"redirect_uris": ["https://a.example/cb"]}
    )
    token = httpx.post(f"{setup.gateway}/oauth/token", data={"grant_type": "authorization_code", "code": "x"})
    assert registration.status_code == 404 and token.status_code == 404
