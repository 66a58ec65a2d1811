"""A backend that goes away under a running gateway: clients get a 503 they can retry, and the
gateway recovers by itself when the backend is back."""

from __future__ import annotations

import pytest
from redis import Redis
from redis.exceptions import RedisError
from starlette.testclient import TestClient

from agentmesh.dev_tokens import issue_dev_token
from agentmesh.settings import Settings, load_settings
from gateway.app import create_app
from tests.conftest import require_backend
from tests.support.tcp_proxy import tcp_proxy

pytestmark = pytest.mark.backends


def test_a_redis_outage_is_a_retryable_503_and_the_gateway_recovers(settings: Settings) -> None:
    try:
        Redis(host="127.0.0.1", port=6379, socket_connect_timeout=2).ping()
    except RedisError as exc:
        require_backend("Redis", str(exc))
    with tcp_proxy("127.0.0.1", 6379) as proxy:
        through_proxy = load_settings(
            AGENTMESH_DATA_DIR=settings.data_dir,
            REDIS_URL=f"redis://127.0.0.1:{proxy.port}/0",
            AGENTMESH_REDIS_PREFIX=f"outage-{proxy.port}",
        )
        headers = {
            "Authorization": f"Bearer {issue_dev_token(through_proxy, tenant_id='acme', user='alice')}"
        }
        with TestClient(create_app(through_proxy, servers={}), raise_server_exceptions=False) as client:
            assert client.get("/api/acme/sessions", headers=headers).status_code == 200
            assert client.get("/readyz").json() == {
                "status": "ready",
                "checks": {"database": "ok", "redis": "ok"},
            }

            proxy.cut()
            unready = client.get("/readyz")
            assert unready.status_code == 503 and unready.json()["checks"]["redis"].startswith("unreachable")
            assert client.get("/healthz").status_code == 200, "alive, only not ready"
            refused = client.get("/api/acme/sessions", headers=headers)
            assert refused.status_code == 503
            assert refused.headers["retry-after"] == "5"
            assert refused.json()["error"]["code"] == "backend_unavailable"
            assert "Traceback" not in refused.text

            proxy.restore()
            assert client.get("/api/acme/sessions", headers=headers).status_code == 200
            assert client.get("/readyz").status_code == 200
