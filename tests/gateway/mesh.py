"""A small real mesh for gateway tests: an ERP MCP server process and the gateway on loopback.

The ERP server runs `agentmesh serve erp` (with its embedded demo ERP API unless an upstream is
given); the gateway is `create_app` served by uvicorn in a thread of the test process, so a test
can read its state (metrics, stores) directly while talking to it over real HTTP.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
from starlette.applications import Starlette

from agentmesh.dev_tokens import issue_dev_token
from agentmesh.settings import Settings, load_settings
from gateway.app import create_app
from gateway.state import GatewayState
from tests.gateway.loopback import serve_in_thread
from tests.support.processes import running_server, wait_healthy

DEBT_QUESTION = "What is the debt for customer MST 3428557611?"


@dataclass
class Mesh:
    url: str
    settings: Settings
    app: Starlette

    @property
    def state(self) -> GatewayState:
        state: GatewayState = self.app.state.gateway
        return state

    def token(self, tenant: str = "acme", user: str = "alice", roles: list[str] | None = None) -> str:
        return issue_dev_token(self.settings, tenant_id=tenant, user=user, roles=roles)

    def headers(self, tenant: str = "acme", user: str = "alice") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(tenant, user)}"}

    def chat(
        self, message: str, *, tenant: str = "acme", user: str = "alice", **body: object
    ) -> httpx.Response:
        return httpx.post(
            f"{self.url}/api/{tenant}/chat",
            json={"message": message, **body},
            headers=self.headers(tenant, user),
            timeout=60,
        )

    def answer(self, message: str, agent: str | None = None, user: str = "alice") -> dict[str, object]:
        """An acme user's turn (to `agent` when given), which must succeed: its JSON body."""
        response = self.chat(message, user=user, **({"agent": agent} if agent else {}))
        assert response.status_code == 200, response.text
        answer: dict[str, object] = response.json()
        return answer


def tools_called(answer: dict[str, object]) -> list[str]:
    """The tools a turn's answer called, in order."""
    steps = answer.get("steps")
    assert isinstance(steps, list)
    return [step["tool"] for step in steps if step.get("type") == "tool_result"]


@contextlib.contextmanager
def running_mesh(data_dir: Path, *, erp_api_url: str | None = None, **settings_env: object) -> Iterator[Mesh]:
    """The ERP server and a gateway in front of it, sharing `data_dir` (keys and database)."""
    erp_env = {"AGENTMESH_ERP_API_URL": erp_api_url} if erp_api_url else {}
    with running_server("erp", data_dir, **erp_env) as erp_url:
        settings = load_settings(AGENTMESH_DATA_DIR=data_dir, AGENTMESH_LOG_LEVEL="WARNING", **settings_env)
        app = create_app(settings, servers={"erp": erp_url})
        with serve_in_thread(app, lifespan="on") as url:
            wait_healthy(f"{url}/healthz")
            yield Mesh(url=url, settings=settings, app=app)
