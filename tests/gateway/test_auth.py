"""End-user tokens: what the gateway accepts, and each attack it must refuse.

Tokens come from a stand-in identity provider publishing a JWKS on a loopback port (RS256 and
ES256 keys), or from a PEM key; every case goes through the real gateway over HTTP unless it needs
a controllable clock (the bounded JWKS refetch).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from starlette.testclient import TestClient

from agentmesh.settings import Settings, load_settings
from gateway.app import create_app
from gateway.auth import UserTokenVerifier
from gateway.errors import ApiError
from gateway.jwks import JwksKeySet
from tests.gateway.identity import (
    AUDIENCE,
    ISSUER,
    IdentityProvider,
    IdpKey,
    forge_hmac_with_public_key,
    sign,
    unsigned,
)
from tests.gateway.loopback import serve_in_thread
from tests.support.clock import ManualClock

RSA_KEY = IdpKey.rsa()
EC_KEY = IdpKey.ec()


@pytest.fixture(scope="module")
def idp() -> Iterator[tuple[IdentityProvider, str]]:
    provider = IdentityProvider([RSA_KEY, EC_KEY])
    with serve_in_thread(provider.app()) as url:
        yield provider, f"{url}/jwks.json"


def idp_settings(data_dir: Path, jwks_url: str, **extra: object) -> Settings:
    return load_settings(
        AGENTMESH_DATA_DIR=data_dir,
        AGENTMESH_JWT_JWKS_URL=jwks_url,
        AGENTMESH_JWT_ISSUER=ISSUER,
        AGENTMESH_JWT_AUDIENCE=AUDIENCE,
        **{"AGENTMESH_JWT_LEEWAY": 30, **extra},
    )


@pytest.fixture(scope="module")
def client(
    idp: tuple[IdentityProvider, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    settings = idp_settings(tmp_path_factory.mktemp("auth"), idp[1])
    with TestClient(create_app(settings, servers={})) as test_client:
        yield test_client


def list_sessions(client: TestClient, token: str, **headers: str) -> tuple[int, dict[str, object]]:
    response = client.get("/api/acme/sessions", headers={"Authorization": f"Bearer {token}", **headers})
    return response.status_code, response.json()


def refused(client: TestClient, token: str) -> str:
    status, body = list_sessions(client, token)
    assert status == 401, body
    error = body["error"]
    assert isinstance(error, dict) and error["code"] == "unauthorized"
    return str(error["message"])


def test_rs256_and_es256_tokens_from_the_jwks_are_accepted(client: TestClient) -> None:
    assert list_sessions(client, sign(RSA_KEY))[0] == 200
    assert list_sessions(client, sign(EC_KEY))[0] == 200


def test_alg_none_is_refused(client: TestClient) -> None:
    assert "not accepted" in refused(client, unsigned())


def test_hmac_signed_with_the_public_key_is_refused(client: TestClient) -> None:
    assert "not accepted" in refused(client, forge_hmac_with_public_key(RSA_KEY))
    assert "not accepted" in refused(client, forge_hmac_with_public_key(EC_KEY))


def test_a_token_claiming_another_algorithm_than_its_key_is_refused(client: TestClient) -> None:
    token = sign(IdpKey(EC_KEY.private_key, "ES256", kid=RSA_KEY.kid))  # EC signature, RSA key's kid
    assert "does not match" in refused(client, token)


def test_a_token_signed_by_a_key_outside_the_jwks_is_refused(client: TestClient) -> None:
    stranger = IdpKey.rsa()
    assert refused(client, sign(stranger, kid=RSA_KEY.kid)) == "invalid token signature or claims"


def test_expired_token_is_refused_beyond_the_leeway(client: TestClient) -> None:
    now = int(time.time())
    assert refused(client, sign(RSA_KEY, exp=now - 120)) == "token expired"
    assert list_sessions(client, sign(RSA_KEY, exp=now - 5))[0] == 200, "5 s late is within the 30 s leeway"


def test_not_yet_valid_token_is_refused_beyond_the_leeway(client: TestClient) -> None:
    now = int(time.time())
    assert refused(client, sign(RSA_KEY, nbf=now + 300)) == "token not yet valid"
    assert list_sessions(client, sign(RSA_KEY, nbf=now + 5))[0] == 200


def test_wrong_audience_is_refused(client: TestClient) -> None:
    assert refused(client, sign(RSA_KEY, aud="another-service")) == "token audience not accepted"


def test_an_audience_that_names_a_resource_binds_the_token_to_it(client: TestClient) -> None:
    """RFC 8707: a token whose audience is a resource's URL is for that resource alone (`/mcp`
    accepts it when the URL is its own); the platform's audience among others still opens the APIs."""
    bound = sign(RSA_KEY, aud="https://gateway.example/mcp")
    assert refused(client, bound) == "token issued for another resource"
    assert list_sessions(client, sign(RSA_KEY, aud=[AUDIENCE, "https://gateway.example/mcp"]))[0] == 200
    two_resources = sign(RSA_KEY, aud=["https://a.example/mcp", "https://b.example/mcp"])
    assert refused(client, two_resources) == "token audience not accepted"

    async def bound_resource() -> str | None:
        verifier = UserTokenVerifier(client.app.state.gateway.settings)
        try:
            return (await verifier.verify(bound)).resource
        finally:
            await verifier.aclose()

    assert anyio.run(bound_resource) == "https://gateway.example/mcp"


def test_wrong_issuer_is_refused(client: TestClient) -> None:
    assert refused(client, sign(RSA_KEY, iss="https://evil.example")) == "token issuer not accepted"


def test_missing_expiry_is_refused(client: TestClient) -> None:
    assert refused(client, sign(RSA_KEY, exp=None)) == "token lacks the 'exp' claim"


def test_unknown_kid_is_refused(client: TestClient) -> None:
    assert refused(client, sign(IdpKey.rsa())) == "token signed by an unknown key"


def test_tenant_header_must_match_the_token(client: TestClient) -> None:
    token = sign(RSA_KEY)
    assert list_sessions(client, token, **{"X-Tenant-ID": "acme"})[0] == 200
    status, body = list_sessions(client, token, **{"X-Tenant-ID": "globex"})
    assert status == 403
    assert body["error"]["code"] == "tenant_mismatch"  # type: ignore[index]


def test_a_token_for_another_tenant_cannot_use_this_tenants_path(client: TestClient) -> None:
    status, body = list_sessions(client, sign(RSA_KEY, tenant_id="globex"))
    assert status == 403
    assert body["error"]["code"] == "forbidden_tenant"  # type: ignore[index]


async def test_unknown_kids_refetch_the_jwks_at_a_bounded_rate(
    idp: tuple[IdentityProvider, str], settings: Settings
) -> None:
    provider, url = idp
    clock = ManualClock(1000.0)
    key_set = JwksKeySet(url, cache_seconds=600, min_refetch_seconds=30, clock=clock)
    verifier = UserTokenVerifier(
        load_settings(
            AGENTMESH_DATA_DIR=settings.data_dir, AGENTMESH_JWT_ISSUER=ISSUER, AGENTMESH_JWT_AUDIENCE=AUDIENCE
        ),
        key_set=key_set,
    )
    try:
        assert (await verifier.verify(sign(RSA_KEY))).subject == "alice"
        assert key_set.fetches == 1

        clock.now += 31
        stranger = IdpKey.rsa()
        for n in range(50):  # a flood of made-up key ids
            with pytest.raises(ApiError) as refusal:
                await verifier.verify(sign(stranger, kid=f"made-up-{n}"))
            assert refusal.value.status == 401
        assert key_set.fetches == 2, "one refetch for the whole flood"

        rotated = IdpKey.ec()
        provider.keys = [RSA_KEY, EC_KEY, rotated]
        clock.now += 10
        with pytest.raises(ApiError):
            await verifier.verify(sign(rotated))  # still inside the refetch interval
        assert key_set.fetches == 2

        clock.now += 21
        assert (await verifier.verify(sign(rotated))).tenant_id == "acme"
        assert key_set.fetches == 3, "the rotated key is picked up by one refetch"
    finally:
        provider.keys = [RSA_KEY, EC_KEY]
        await verifier.aclose()


async def test_cached_keys_outlive_a_provider_outage_but_none_means_503(
    idp: tuple[IdentityProvider, str], settings: Settings
) -> None:
    provider, url = idp
    verifier_settings = load_settings(
        AGENTMESH_DATA_DIR=settings.data_dir, AGENTMESH_JWT_ISSUER=ISSUER, AGENTMESH_JWT_AUDIENCE=AUDIENCE
    )
    clock = ManualClock(1000.0)
    warm = UserTokenVerifier(verifier_settings, key_set=JwksKeySet(url, cache_seconds=60, clock=clock))
    cold = UserTokenVerifier(verifier_settings, key_set=JwksKeySet(url, clock=clock))
    try:
        await warm.verify(sign(RSA_KEY))
        provider.available = False
        clock.now += 120  # the cache is stale and the refresh fails: the cached keys still verify
        assert (await warm.verify(sign(EC_KEY))).subject == "alice"
        with pytest.raises(ApiError) as refusal:
            await cold.verify(sign(RSA_KEY))
        assert refusal.value.status == 503
        assert refusal.value.code == "identity_provider_unavailable"
    finally:
        provider.available = True
        await warm.aclose()
        await cold.aclose()


async def test_a_pem_key_sets_the_one_accepted_algorithm(settings: Settings, tmp_path: Path) -> None:
    pem = tmp_path / "idp.pem"
    pem.write_bytes(EC_KEY.public_pem())
    verifier = UserTokenVerifier(
        load_settings(
            AGENTMESH_DATA_DIR=settings.data_dir,
            AGENTMESH_JWT_PUBLIC_KEY_FILE=pem,
            AGENTMESH_JWT_ISSUER=ISSUER,
            AGENTMESH_JWT_AUDIENCE=AUDIENCE,
        )
    )
    assert (await verifier.verify(sign(EC_KEY, kid=None))).tenant_id == "acme"
    for forged in (sign(RSA_KEY, kid=None), forge_hmac_with_public_key(EC_KEY), unsigned()):
        with pytest.raises(ApiError) as refusal:
            await verifier.verify(forged)
        assert refusal.value.status == 401


async def test_roles_outside_the_known_three_are_dropped(
    idp: tuple[IdentityProvider, str], settings: Settings
) -> None:
    verifier = UserTokenVerifier(idp_settings(settings.data_dir, idp[1]))
    try:
        admin = await verifier.verify(sign(RSA_KEY, roles=["platform_admin", "root"]))
        assert admin.roles == ["platform_admin"]
        assert (await verifier.verify(sign(RSA_KEY, roles="tenant_admin"))).roles == ["tenant_admin"]
        assert (await verifier.verify(sign(RSA_KEY, roles=["root"]))).roles == ["user"]
    finally:
        await verifier.aclose()


async def test_a_verified_token_is_remembered_until_it_expires_and_no_longer(
    idp: tuple[IdentityProvider, str], settings: Settings
) -> None:
    provider, url = idp
    verifier = UserTokenVerifier(idp_settings(settings.data_dir, url, AGENTMESH_JWT_LEEWAY=0))
    try:
        expires = int(time.time()) + 2
        token = sign(RSA_KEY, exp=expires)
        assert (await verifier.verify(token)).tenant_id == "acme"
        provider.available = False  # a remembered token needs neither the keys nor a signature check
        assert (await verifier.verify(token)).tenant_id == "acme"
        # The same claims with another signature are another token: checked, and refused.
        header, payload, _ = token.split(".")
        other_signature = sign(RSA_KEY, exp=expires + 1).split(".")[2]
        with pytest.raises(ApiError) as forged:
            await verifier.verify(f"{header}.{payload}.{other_signature}")
        assert forged.value.status == 401
        provider.available = True
        await anyio.sleep(expires - time.time() + 0.2)
        with pytest.raises(ApiError) as expired:
            await verifier.verify(token)
        assert expired.value.status == 401 and "expired" in expired.value.message
    finally:
        provider.available = True
        await verifier.aclose()
