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
from dataclasses import dataclass
from pathlib import Path

import httpx
import httpx2
import jwt
import pytest
from authlib.oauth2.rfc8414 import AuthorizationServerMetadata
from mcp import Client
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import (
    OAuthClientMetadata,
)
from sqlalchemy import text

from agentmesh.db import create_engine
from agentmesh.dev_tokens import issue_dev_token
from agentmesh.settings import Settings, load_settings
from gateway.auth import UserTokenVerifier
from mcp_servers.common.errors import ERROR_META_KEY
from mcp_servers.common.results import TENANT_META_KEY
from tests.gateway.oauth_flow import (
    REDIRECT_URI,
    Browser,
    HeadlessUser,
    MemoryStorage,
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
    # Issued to this gateway alone: never passed on to an upstream (auth mode `forward`).
    assert verified.caller().user_token is None


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


async def test_a_grant_is_for_the_users_tenant_alone(gateway: Gateway) -> None:
    # A tool of acme's own (an ERP tool its admin adds): only acme's grants may see or call it.
    admin = issue_dev_token(gateway.settings, tenant_id="platform", user="root", roles=["platform_admin"])
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as http:
        created = await http.post(
            "/api/admin/tenants/acme/erp/tools",
            headers={"Authorization": f"Bearer {admin}"},
            json={
                "name": "get_customer_card",
                "description": "The customer's master data by MST.",
                "method": "GET",
                "url": "/customers/{mst}",
                "input_schema": {
                    "type": "object",
                    "required": ["mst"],
                    "properties": {"mst": {"type": "string"}},
                },
                "auth": {"mode": "service", "credential": "demo-erp", "header": "X-API-Key"},
            },
        )
        assert created.status_code == 201, created.text

    globex_user, storage = HeadlessUser(gateway.url, demo_user="globex-user"), MemoryStorage()
    assert await tools_listed(gateway, oauth_provider(gateway, globex_user, storage)) == GLOBEX_TOOLS
    assert storage.tokens is not None and claims(storage.tokens.access_token)["tenant_id"] == "globex"

    acme = (await obtain_tokens(gateway.url, user="acme-user"))["access_token"]
    globex = storage.tokens.access_token
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as http:
        acme_tools = await _list_tools(http, acme)
        assert "erp__get_customer_card" in {tool["name"] for tool in acme_tools}
        assert {(tool.get("_meta") or {}).get(TENANT_META_KEY) for tool in acme_tools} <= {None, "acme"}
        call = {"name": "erp__get_customer_card", "arguments": {"mst": "3703003802"}}
        theirs = await http.post(
            "/mcp",
            headers=_mcp_headers(globex),
            json={"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": call},
        )
        assert theirs.json()["result"]["isError"] is True
        assert theirs.json()["result"]["_meta"][ERROR_META_KEY]["code"] == "tool_not_found"
        # The token's tenant is the only one it acts in.
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


# -- discovery -----------------------------------------------------------------------------------


async def test_the_metadata_names_the_gateway_and_its_endpoints(gateway: Gateway) -> None:
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as http:
        resource = (await http.get("/.well-known/oauth-protected-resource/mcp")).json()
        metadata = (await http.get("/.well-known/oauth-authorization-server")).json()
        alias = (await http.get("/.well-known/openid-configuration")).json()
    assert resource["resource"] == gateway.mcp_url
    assert resource["authorization_servers"] == [gateway.url] and resource["scopes_supported"] == ["mcp"]
    AuthorizationServerMetadata(metadata).validate()  # RFC 8414, as authlib reads it
    assert metadata == alias
    assert metadata["issuer"] == gateway.url
    assert metadata["registration_endpoint"] == f"{gateway.url}/oauth/register"
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    assert metadata["client_id_metadata_document_supported"] is True
    assert set(metadata["grant_types_supported"]) == {"authorization_code", "refresh_token"}


# -- refusals ------------------------------------------------------------------------------------


async def test_a_wrong_pkce_verifier_is_refused_and_the_code_is_spent(gateway: Gateway) -> None:
    grant = await granted_code(gateway.url)
    wrong, _ = pkce_pair()
    refused = await exchange(gateway.url, grant, code_verifier=wrong)
    assert refused.status_code == 400
    assert refused.json() == {"error": "invalid_grant", "error_description": "Code challenge failed."}
    assert (await exchange(gateway.url, grant)).json()["error"] == "invalid_grant"


async def test_a_reused_code_is_refused_and_revokes_what_it_granted(gateway: Gateway) -> None:
    grant = await granted_code(gateway.url)
    first = await exchange(gateway.url, grant)
    assert first.status_code == 200, first.text
    again = await exchange(gateway.url, grant)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as http:
        refresh = await http.post(
            "/oauth/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": first.json()["refresh_token"],
                "client_id": grant.client_id,
            },
        )
    assert refresh.status_code == 400 and refresh.json()["error"] == "invalid_grant"


async def test_an_unknown_client_is_refused_on_the_page_and_at_the_token_endpoint(gateway: Gateway) -> None:
    _, challenge = pkce_pair()
    browser = Browser(gateway.url)
    try:
        page = await browser.open(authorization_url(gateway.url, "no-such-client", challenge))
    finally:
        await browser.aclose()
    # Nothing proves the redirect URI belongs to anyone: the page explains, it does not redirect.
    assert page.status == 400 and "invalid_client" in page.text and "location" not in page.headers
    grant = await granted_code(gateway.url)
    refused = await exchange(gateway.url, grant, client_id="no-such-client")
    assert refused.status_code in (400, 401) and refused.json()["error"] == "invalid_client"


async def test_a_redirect_uri_the_client_did_not_register_is_refused(gateway: Gateway) -> None:
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as http:
        client_id = (await register(http))["client_id"]
    _, challenge = pkce_pair()
    browser = Browser(gateway.url)
    try:
        page = await browser.open(
            authorization_url(gateway.url, client_id, challenge, redirect_uri="https://attacker.example/cb")
        )
    finally:
        await browser.aclose()
    assert page.status == 400 and "location" not in page.headers
    assert "not supported by client" in page.text
    # At the token endpoint the code is bound to the redirect URI it was issued for.
    grant = await granted_code(gateway.url)
    refused = await exchange(gateway.url, grant, redirect_uri="http://127.0.0.1:33418/other")
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"


async def test_registration_refuses_redirect_uris_oauth_2_1_forbids(gateway: Gateway) -> None:
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as http:
        too_many = await http.post(
            "/oauth/register",
            json={
                "redirect_uris": [f"http://127.0.0.1/cb{n}" for n in range(11)],
                "token_endpoint_auth_method": "none",
            },
        )
        assert too_many.status_code == 400 and too_many.json()["error"] == "invalid_redirect_uri"
        # Values of the wrong JSON type are the client's mistake, said precisely (not a 500).
        cases = [
            ({"redirect_uris": "http://127.0.0.1/cb"}, "redirect_uris"),
            ({"redirect_uris": ["http://127.0.0.1/cb"], "grant_types": 5}, "grant_types"),
            ({"redirect_uris": ["http://127.0.0.1/cb"], "jwks": "x"}, "jwks"),
            ({}, "redirect_uris"),
        ]
        for body, named in cases:
            response = await http.post("/oauth/register", json=body)
            assert response.status_code == 400, response.text
            assert response.json()["error"] == "invalid_client_metadata"
            assert named in response.json()["error_description"]
        plain_http = await http.post(
            "/oauth/register",
            json={"redirect_uris": ["http://app.example/cb"], "token_endpoint_auth_method": "none"},
        )
        none = await http.post(
            "/oauth/register", json={"client_name": "x", "token_endpoint_auth_method": "none"}
        )
        not_json = await http.post(
            "/oauth/register", content=b"[", headers={"Content-Type": "application/json"}
        )
        native = await register(http, redirect_uri="cursor://anysphere.cursor-retrieval/oauth/callback")
        confidential = await http.post(
            "/oauth/register",
            json={
                "redirect_uris": ["https://app.example/cb"],
                "token_endpoint_auth_method": "client_secret_post",
            },
        )
    assert plain_http.status_code == 400 and plain_http.json()["error"] == "invalid_redirect_uri"
    assert "loopback" in plain_http.json()["error_description"]
    assert none.status_code == 400 and none.json()["error"] == "invalid_redirect_uri"
    assert not_json.status_code == 400 and not_json.json()["error"] == "invalid_client_metadata"
    assert "client_secret" not in native
    assert confidential.status_code == 201 and confidential.json()["client_secret"]


async def test_the_pkce_challenge_is_required_and_only_s256(gateway: Gateway) -> None:
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as http:
        client_id = (await register(http))["client_id"]
    verifier, _ = pkce_pair()
    browser = Browser(gateway.url)
    try:
        plain = await browser.http.get(
            authorization_url(gateway.url, client_id, verifier, code_challenge_method="plain")
        )
    finally:
        await browser.aclose()
    # The client and its redirect URI are known: the refusal goes back to it, as RFC 6749 says.
    assert plain.status_code == 302
    back = query_of(plain.headers["location"])
    assert back["error"] == "invalid_request" and "S256" in back["error_description"]


async def test_a_token_for_another_resource_is_neither_issued_nor_accepted(gateway: Gateway) -> None:
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as http:
        client_id = (await register(http))["client_id"]
        _, challenge = pkce_pair()
        asked = await http.get(
            authorization_url(gateway.url, client_id, challenge, resource="https://elsewhere.example/mcp")
        )
        assert asked.status_code == 302 and query_of(asked.headers["location"])["error"] == "invalid_target"

        grant = await granted_code(gateway.url)
        refused = await exchange(gateway.url, grant, resource="https://elsewhere.example/mcp")
        assert refused.status_code == 400 and refused.json()["error"] == "invalid_target"

        # A token signed with the right key but bound to another resource is refused at /mcp.
        foreign = issue_dev_token(
            gateway.settings,
            tenant_id="acme",
            user="alice",
            extra_claims={"aud": "https://elsewhere.example/mcp"},
        )
        at_mcp = await http.post(
            "/mcp", headers=_mcp_headers(foreign), json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
        )
        assert at_mcp.status_code == 401
        assert 'error="invalid_token"' in at_mcp.headers["www-authenticate"]
        assert "another resource" in at_mcp.json()["error"]["message"]

        # A token bound to /mcp opens /mcp only, not the platform's other APIs.
        mcp_token = (await obtain_tokens(gateway.url))["access_token"]
        chat_api = await http.get("/api/acme/agents", headers={"Authorization": f"Bearer {mcp_token}"})
        assert chat_api.status_code == 401
        assert (await _list_tools(http, mcp_token)) != []


async def test_the_consent_page_names_the_request_and_is_protected(gateway: Gateway) -> None:
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as http:
        client_id = (await register(http, client_name="Trình soạn thảo <b>"))["client_id"]
    _, challenge = pkce_pair()
    url = authorization_url(gateway.url, client_id, challenge)
    browser = Browser(gateway.url, accept_language="vi-VN,vi;q=0.9")
    try:
        signin = await browser.open(url)
        assert signin.status == 200 and signin.is_signin and 'lang="vi"' in signin.text
        assert "Đăng nhập" in signin.text
        signed_in = await browser.submit(signin, user="acme-admin")
        consent = await browser.open(signed_in.headers["location"])
        assert consent.is_consent
        for shown in (
            "Trình soạn thảo &lt;b&gt;",
            client_id,
            REDIRECT_URI,
            "acme",
            "ada",
            "Cho phép",
            "Từ chối",
        ):
            assert shown in consent.text
        policy = consent.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
        assert "form-action 'self' http://127.0.0.1:33418" in policy
        assert consent.headers["x-frame-options"] == "DENY"

        action, _ = consent.form()
        forged = await browser.http.post(action, data={"csrf_token": "forged", "decision": "approve"})
        assert forged.status_code == 403
        other_site = await browser.http.post(
            action,
            data={"csrf_token": consent.form()[1], "decision": "approve"},
            headers={"Origin": "https://attacker.example"},
        )
        assert other_site.status_code == 403

        denied = await browser.submit(consent, decision="deny")
        assert denied.status_code == 303
        assert query_of(denied.headers["location"])["error"] == "access_denied"
    finally:
        await browser.aclose()


async def test_revoking_a_refresh_token_ends_the_grant(gateway: Gateway) -> None:
    grant = await granted_code(gateway.url)
    tokens = (await exchange(gateway.url, grant)).json()
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as http:
        revoked = await http.post(
            "/oauth/revoke",
            data={
                "token": tokens["refresh_token"],
                "token_type_hint": "refresh_token",
                "client_id": grant.client_id,
            },
        )
        assert revoked.status_code == 200
        refresh = await http.post(
            "/oauth/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": tokens["refresh_token"],
                "client_id": grant.client_id,
            },
        )
    assert refresh.status_code == 400 and refresh.json()["error"] == "invalid_grant"


async def test_the_token_endpoint_answers_malformed_requests_in_oauths_format(gateway: Gateway) -> None:
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as http:
        as_json = await http.post("/oauth/token", json={"grant_type": "authorization_code"})
        unknown_grant = await http.post("/oauth/token", data={"grant_type": "password", "client_id": "x"})
    assert as_json.status_code == 400 and as_json.json()["error"] == "invalid_request"
    assert unknown_grant.status_code == 400 and unknown_grant.json()["error"] == "unsupported_grant_type"
    for response in (as_json, unknown_grant):
        assert response.headers["cache-control"] == "no-store"
        assert "Traceback" not in response.text


async def test_grants_are_kept_in_postgresql_as_the_tenants_rows(postgres_url: str, tmp_path: Path) -> None:
    settings = load_settings(AGENTMESH_DATA_DIR=tmp_path, DATABASE_URL=postgres_url)
    with running_gateway(settings, {}) as url:
        grant = await granted_code(url, user="globex-user")
        tokens = (await exchange(url, grant)).json()
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            refresh = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
            rotated = await http.post("/oauth/token", data={**refresh, "client_id": grant.client_id})
        assert rotated.status_code == 200, rotated.text
        # The code again: refused, and every refresh token its grant led to is revoked.
        assert (await exchange(url, grant)).json()["error"] == "invalid_grant"
    engine = create_engine(postgres_url)
    try:
        async with engine.connect() as db:
            codes = (await db.execute(text("SELECT tenant_id, used_at FROM oauth_authorization_codes"))).all()
            refresh = (
                await db.execute(text("SELECT tenant_id, revoked_at, family_id FROM oauth_refresh_tokens"))
            ).all()
            clients = (await db.execute(text("SELECT client_id, secret_sha256 FROM oauth_clients"))).all()
    finally:
        await engine.dispose()
    assert [(row.tenant_id, row.used_at is not None) for row in codes] == [("globex", True)]
    assert len(refresh) == 2 and all(row.revoked_at is not None for row in refresh)
    assert {row.tenant_id for row in refresh} == {"globex"} and len({row.family_id for row in refresh}) == 1
    assert [(row.client_id, row.secret_sha256) for row in clients] == [(grant.client_id, None)]
