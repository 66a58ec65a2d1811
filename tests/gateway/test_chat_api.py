"""The chat API refuses bad callers and bad input with precise JSON errors."""

from __future__ import annotations

import time
from collections.abc import Iterator

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.testclient import TestClient

from agentmesh.dev_tokens import issue_dev_token
from agentmesh.settings import Settings, load_settings
from gateway.app import create_app


@pytest.fixture
def gateway_settings(settings: Settings) -> Settings:
    return load_settings(AGENTMESH_DATA_DIR=settings.data_dir, AGENTMESH_USER_RATE_LIMIT_RPM=3)


@pytest.fixture
def client(gateway_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(gateway_settings, servers={})) as test_client:
        yield test_client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def acme_token(settings: Settings, **kwargs: object) -> str:
    return issue_dev_token(settings, tenant_id="acme", user="alice", **kwargs)  # type: ignore[arg-type]


def assert_error(response, status: int, code: str) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"]["code"] == code
    assert body["error"]["message"]


def test_missing_token_is_401_with_www_authenticate(client: TestClient) -> None:
    response = client.post("/api/acme/chat", json={"message": "hi"})
    assert_error(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_expired_token_is_401(client: TestClient, gateway_settings: Settings) -> None:
    expired = acme_token(gateway_settings, ttl_seconds=-120)
    assert_error(
        client.post("/api/acme/chat", json={"message": "hi"}, headers=bearer(expired)), 401, "unauthorized"
    )


def test_forged_token_is_401(client: TestClient, gateway_settings: Settings) -> None:
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(
        {
            "iss": gateway_settings.jwt_issuer,
            "aud": gateway_settings.jwt_audience,
            "sub": "mallory",
            "tenant_id": "acme",
            "exp": int(time.time()) + 600,
        },
        other_key,
        algorithm="RS256",
    )
    assert_error(
        client.post("/api/acme/chat", json={"message": "hi"}, headers=bearer(forged)), 401, "unauthorized"
    )


def test_alg_none_is_401(client: TestClient, gateway_settings: Settings) -> None:
    unsigned = jwt.encode(
        {
            "iss": gateway_settings.jwt_issuer,
            "aud": gateway_settings.jwt_audience,
            "sub": "m",
            "tenant_id": "acme",
            "exp": int(time.time()) + 600,
        },
        key=None,
        algorithm="none",
    )
    assert_error(
        client.post("/api/acme/chat", json={"message": "hi"}, headers=bearer(unsigned)), 401, "unauthorized"
    )


def test_token_of_another_tenant_is_403(client: TestClient, gateway_settings: Settings) -> None:
    response = client.post(
        "/api/globex/chat", json={"message": "hi"}, headers=bearer(acme_token(gateway_settings))
    )
    assert_error(response, 403, "forbidden_tenant")


def test_unknown_tenant_is_404(client: TestClient, gateway_settings: Settings) -> None:
    token = issue_dev_token(gateway_settings, tenant_id="initech", user="peter")
    assert_error(
        client.post("/api/initech/chat", json={"message": "hi"}, headers=bearer(token)), 404, "unknown_tenant"
    )


def test_malformed_json_is_400(client: TestClient, gateway_settings: Settings) -> None:
    response = client.post(
        "/api/acme/chat",
        content=b'{"message": "hi"',
        headers={**bearer(acme_token(gateway_settings)), "Content-Type": "application/json"},
    )
    assert_error(response, 400, "invalid_json")


def test_wrong_schema_is_400_naming_each_field(client: TestClient, gateway_settings: Settings) -> None:
    response = client.post(
        "/api/acme/chat", json={"message": "", "surprise": 1}, headers=bearer(acme_token(gateway_settings))
    )
    assert_error(response, 400, "invalid_request")
    fields = {problem["field"] for problem in response.json()["error"]["details"]}
    assert fields == {"message", "surprise"}


def test_a_blank_message_is_400_saying_so(client: TestClient, gateway_settings: Settings) -> None:
    response = client.post(
        "/api/acme/chat", json={"message": "  \n "}, headers=bearer(acme_token(gateway_settings))
    )
    assert_error(response, 400, "invalid_request")
    assert response.json()["error"]["details"] == [{"field": "message", "problem": "message is blank"}]


def test_oversized_body_is_413(client: TestClient, gateway_settings: Settings) -> None:
    response = client.post(
        "/api/acme/chat",
        content=b"x" * (gateway_settings.max_body_bytes + 1),
        headers={**bearer(acme_token(gateway_settings)), "Content-Type": "application/json"},
    )
    assert_error(response, 413, "too_large")


def test_rate_limit_is_429_with_retry_after(client: TestClient, gateway_settings: Settings) -> None:
    headers = bearer(acme_token(gateway_settings))
    statuses = [client.post("/api/acme/chat", content=b"{", headers=headers).status_code for _ in range(3)]
    assert statuses == [400, 400, 400]
    limited = client.post("/api/acme/chat", json={"message": "hi"}, headers=headers)
    assert_error(limited, 429, "rate_limited")
    assert int(limited.headers["Retry-After"]) >= 1
    assert "RateLimit-Policy" in limited.headers
    other_tenant = issue_dev_token(gateway_settings, tenant_id="globex", user="bob")
    assert client.post("/api/globex/chat", content=b"{", headers=bearer(other_tenant)).status_code == 400


def test_healthz(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_unknown_route_is_json_404(client: TestClient) -> None:
    assert_error(client.get("/nope"), 404, "not_found")


def test_mesh_jwks_is_published_for_the_servers(client: TestClient, gateway_settings: Settings) -> None:
    from agentmesh.keys import mesh_key

    keys = client.get("/.well-known/mesh-jwks.json").json()["keys"]
    assert [key["kid"] for key in keys] == [mesh_key(gateway_settings.keys_dir).kid]
    assert all("d" not in key for key in keys), "private key material must never be published"
