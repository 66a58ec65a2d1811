"""The gateway as the OAuth 2.1 authorization server of `/mcp`, as the MCP authorization spec has it.

A real gateway (and ERP server) on loopback. The MCP Python SDK's own OAuth client
(`OAuthClientProvider`) connects to `/mcp` knowing nothing but its URL: it discovers the protected
resource and authorization server metadata, registers itself, sends the user to the authorization
page with a PKCE challenge, and exchanges the code; the "user" is played headlessly
(`oauth_flow.Browser`: the sign-in and consent forms posted as a browser would). The refusals
(wrong verifier, unknown client, foreign redirect URI, replayed code or refresh token, a token for
another resource) are checked with plain HTTP.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx
import httpx2
import jwt
import pytest
from authlib.oauth2.rfc8414 import AuthorizationServerMetadata
from mcp import Client
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientInformationFull, OAuthClientMetadata, OAuthToken

from agentmesh.dev_tokens import issue_dev_token
from agentmesh.settings import Settings, load_settings
from gateway.auth import UserTokenVerifier
from mcp_servers.common.results import TENANT_META_KEY
from tests.gateway.oauth_flow import (
    REDIRECT_URI,
    Browser,
    authorization_url,
    exchange,
    granted_code,
    obtain_tokens,
    pkce_pair,
    query_of,
    register,
)
from tests.support.gateway import running_gateway
from tests.support.processes import running_server

pytestmark = pytest.mark.slow

GLOBEX_TOOLS = {"erp__get_customer_debt", "erp__get_payment_history", "erp__list_overdue_customers"}


@dataclass
class Gateway:
    url: str
    settings: Settings

    @property
    def mcp_url(self) -> str:
        return f"{self.url}/mcp"


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    data_dir = tmp_path_factory.mktemp("oauth")
    settings = load_settings(AGENTMESH_DATA_DIR=data_dir)
    with running_server("erp", data_dir) as erp_url, running_gateway(settings, {"erp": erp_url}) as url:
        yield Gateway(url, settings)


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


def oauth_provider(gateway: Gateway, user: HeadlessUser, storage: MemoryStorage) -> OAuthClientProvider:
    return OAuthClientProvider(
        server_url=gateway.mcp_url,
        client_metadata=OAuthClientMetadata(
            client_name="agentmesh OAuth test",
            redirect_uris=[REDIRECT_URI],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
            token_endpoint_auth_method="none",
        ),
        storage=storage,
        redirect_handler=user.redirect,
        callback_handler=user.callback,
    )


async def tools_listed(gateway: Gateway, provider: OAuthClientProvider) -> set[str]:
    async with (
        httpx2.AsyncClient(auth=provider, timeout=60.0) as http,
        Client(streamable_http_client(gateway.mcp_url, http_client=http)) as client,
    ):
        return {tool.name for tool in (await client.list_tools()).tools}


def claims(token: str) -> dict[str, object]:
    decoded: dict[str, object] = jwt.decode(token, options={"verify_signature": False})
    return decoded


async def test_the_mcp_sdk_signs_in_with_oauth_and_lists_the_tenants_tools(gateway: Gateway) -> None:
    user, storage = HeadlessUser(gateway.url), MemoryStorage()
    names = await tools_listed(gateway, oauth_provider(gateway, user, storage))

    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as http:
        token = issue_dev_token(gateway.settings, tenant_id="acme", user="alice")
        direct = {tool["name"] for tool in await _list_tools(http, token)}
    assert names == direct and "erp__track_shipment" in names
    # The SDK found everything by itself: registration, PKCE (S256), the resource it asked for.
    assert storage.client_info is not None and storage.client_info.client_id
    sent = query_of(user.authorization_urls[0])
    assert sent["code_challenge_method"] == "S256" and sent["resource"] == gateway.mcp_url
    assert storage.tokens is not None and storage.tokens.refresh_token
    issued = claims(storage.tokens.access_token)
    assert issued["aud"] == gateway.mcp_url
    assert (issued["tenant_id"], issued["sub"], issued["roles"]) == ("acme", "alice", ["user"])
    assert issued["iss"] == gateway.settings.jwt_issuer and issued["scope"] == "mcp"
    # Signed with the deployment's key: the gateway's own verifier accepts it, bound to /mcp.
    verified = await UserTokenVerifier(gateway.settings).verify(storage.tokens.access_token)
    assert (verified.tenant_id, verified.subject, verified.resource) == ("acme", "alice", gateway.mcp_url)


async def test_the_sdk_refreshes_an_expired_token_and_each_refresh_token_works_once(gateway: Gateway) -> None:
    user, storage = HeadlessUser(gateway.url), MemoryStorage()
    provider = oauth_provider(gateway, user, storage)
    await tools_listed(gateway, provider)
    assert storage.tokens is not None
    first = storage.tokens
    provider.context.token_expiry_time = time.time() - 1  # as if the access token had run out

    assert "erp__get_customer_debt" in await tools_listed(gateway, provider)
    assert len(user.authorization_urls) == 1, "a refresh needs no new consent"
    refreshed = storage.tokens
    assert refreshed.access_token != first.access_token
    assert refreshed.refresh_token and refreshed.refresh_token != first.refresh_token

    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as http:
        assert storage.client_info is not None
        replay = await http.post(
            "/oauth/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": first.refresh_token,
                "client_id": storage.client_info.client_id,
            },
        )
        assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
        # A rotated token presented again means it leaked: the whole grant is revoked.
        after = await http.post(
            "/oauth/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": refreshed.refresh_token,
                "client_id": storage.client_info.client_id,
            },
        )
        assert after.status_code == 400 and after.json()["error"] == "invalid_grant"


async def test_a_globex_grant_lists_only_what_globex_may_use(gateway: Gateway) -> None:
    user, storage = HeadlessUser(gateway.url, demo_user="globex-user"), MemoryStorage()
    assert await tools_listed(gateway, oauth_provider(gateway, user, storage)) == GLOBEX_TOOLS

    acme = (await obtain_tokens(gateway.url, user="acme-user"))["access_token"]
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as http:
        acme_tools = {tool["name"] for tool in await _list_tools(http, acme)}
        assert acme_tools > GLOBEX_TOOLS  # acme's own grants, not globex's
        owners = {(tool.get("_meta") or {}).get(TENANT_META_KEY) for tool in await _list_tools(http, acme)}
        assert owners <= {None, "acme"}
        other_tenant = await http.post(
            "/mcp",
            headers={**_mcp_headers(acme), "X-Tenant-ID": "globex"},
            json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        )
        assert other_tenant.status_code == 403


async def _list_tools(http: httpx.AsyncClient, token: str) -> list[dict[str, object]]:
    response = await http.post(
        "/mcp", headers=_mcp_headers(token), json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    )
    assert response.status_code == 200, response.text
    tools: list[dict[str, object]] = response.json()["result"]["tools"]
    return tools


def _mcp_headers(token: str) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {token}",
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": "2025-11-25",
    }
