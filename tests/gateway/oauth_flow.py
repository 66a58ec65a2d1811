"""A person at the gateway's authorization page, played headlessly: plain HTTP GETs and form POSTs
of the sign-in and consent pages, as a browser would send them (cookies kept, redirects read).

`Browser.authorize` takes the authorization URL a client sends its user to and returns where the
gateway sends the browser back (the client's redirect URI with `code` and `state`, or an error).
`obtain_tokens` is a whole flow for tests that need a token without a client library;
`HeadlessUser` and `MemoryStorage` are what the MCP SDK's OAuth client needs from its app.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import httpx
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientInformationFull, OAuthToken

FORM = re.compile(r'<form method="post" action="(?P<action>[^"]+)">')
CSRF = re.compile(r'name="csrf_token" value="(?P<value>[^"]+)"')
REDIRECT_URI = "http://127.0.0.1:33418/callback"


@dataclass
class Page:
    status: int
    text: str
    headers: httpx.Headers

    def form(self) -> tuple[str, str]:
        """The page's form: its action and CSRF token."""
        action, csrf = FORM.search(self.text), CSRF.search(self.text)
        assert action is not None and csrf is not None, self.text
        return html.unescape(action["action"]), html.unescape(csrf["value"])

    @property
    def is_signin(self) -> bool:
        return 'name="user"' in self.text

    @property
    def is_consent(self) -> bool:
        return 'name="decision"' in self.text


@dataclass
class Browser:
    """One browser: its cookies persist across the pages it visits."""

    base_url: str
    accept_language: str = "en"
    http: httpx.AsyncClient = field(init=False)

    def __post_init__(self) -> None:
        self.http = httpx.AsyncClient(
            base_url=self.base_url,
            follow_redirects=False,
            timeout=60,
            headers={"Accept-Language": self.accept_language},
        )

    async def aclose(self) -> None:
        await self.http.aclose()

    async def open(self, url: str) -> Page:
        response = await self.http.get(url)
        return Page(response.status_code, response.text, response.headers)

    async def submit(self, page: Page, **fields: str) -> httpx.Response:
        action, csrf = page.form()
        return await self.http.post(urljoin(self.base_url, action), data={"csrf_token": csrf, **fields})

    async def authorize(self, url: str, *, user: str = "acme-user", decision: str = "approve") -> str:
        """Sign in (when asked) as the demo `user`, answer the consent page; where the browser lands."""
        page = await self.open(url)
        if page.is_signin:
            signed_in = await self.submit(page, user=user)
            assert signed_in.status_code == 303, signed_in.text
            page = await self.open(signed_in.headers["location"])
        assert page.status == 200 and page.is_consent, page.text
        decided = await self.submit(page, decision=decision)
        assert decided.status_code == 303, decided.text
        return decided.headers["location"]


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def query_of(location: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}


@dataclass
class Grant:
    client_id: str
    verifier: str
    code: str
    redirect_uri: str


async def register(
    http: httpx.AsyncClient, redirect_uri: str = REDIRECT_URI, **metadata: Any
) -> dict[str, Any]:
    response = await http.post(
        "/oauth/register",
        json={
            "client_name": "agentmesh test client",
            "redirect_uris": [redirect_uri],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
            **metadata,
        },
    )
    assert response.status_code == 201, response.text
    client: dict[str, Any] = response.json()
    return client


def authorization_url(
    base_url: str, client_id: str, challenge: str, *, redirect_uri: str = REDIRECT_URI, **extra: str
) -> str:
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "state": secrets.token_urlsafe(12),
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "scope": "mcp",
        "resource": f"{base_url}/mcp",
        **extra,
    }
    return f"{base_url}/oauth/authorize?{urlencode(params)}"


async def granted_code(base_url: str, *, user: str = "acme-user", client_id: str | None = None) -> Grant:
    """Register a public client (unless given), have `user` approve it; the code to exchange."""
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as http:
        if client_id is None:
            client_id = (await register(http))["client_id"]
    verifier, challenge = pkce_pair()
    browser = Browser(base_url)
    try:
        location = await browser.authorize(authorization_url(base_url, client_id, challenge), user=user)
    finally:
        await browser.aclose()
    assert location.startswith(REDIRECT_URI), location
    return Grant(client_id, verifier, query_of(location)["code"], REDIRECT_URI)


async def exchange(base_url: str, grant: Grant, **overrides: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as http:
        return await http.post(
            "/oauth/token",
            data={
                "grant_type": "authorization_code",
                "code": grant.code,
                "redirect_uri": grant.redirect_uri,
                "client_id": grant.client_id,
                "code_verifier": grant.verifier,
                "resource": f"{base_url}/mcp",
                **overrides,
            },
        )


async def obtain_tokens(base_url: str, *, user: str = "acme-user") -> dict[str, Any]:
    """Tokens from the whole flow: registration, sign-in, consent, code exchange with PKCE."""
    response = await exchange(base_url, await granted_code(base_url, user=user))
    assert response.status_code == 200, response.text
    tokens: dict[str, Any] = response.json()
    return tokens


@dataclass
class MemoryStorage:
    """Where the SDK keeps its registration and tokens (a desktop app would use a file)."""

    tokens: OAuthToken | None = None
    client_info: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client_info

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client_info = client_info


@dataclass
class HeadlessUser:
    """The SDK's redirect and callback handlers: the user approves in a (headless) browser."""

    base_url: str
    demo_user: str = "acme-user"
    landed: list[str] = field(default_factory=list)
    authorization_urls: list[str] = field(default_factory=list)

    async def redirect(self, url: str) -> None:
        self.authorization_urls.append(url)
        browser = Browser(self.base_url)
        try:
            self.landed.append(await browser.authorize(url, user=self.demo_user))
        finally:
            await browser.aclose()

    async def callback(self) -> AuthorizationCodeResult:
        query = query_of(self.landed[-1])
        return AuthorizationCodeResult(code=query["code"], state=query.get("state"), iss=query.get("iss"))
