"""`/mcp` with an independent client: the official TypeScript MCP SDK from npm, run by Node.

The client (`js/mcp_client.mjs`, dependencies pinned in `js/package-lock.json`) speaks the
2025-11-25 handshake protocol, where the Python SDK in `test_mcp_endpoint.py` speaks 2026-07-28.
`npm ci` runs once when `node_modules` is missing; the module is skipped, saying why, only when
Node or npm is not installed or the install fails.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agentmesh.dev_tokens import issue_dev_token
from agentmesh.settings import Settings, load_settings
from mcp_servers.common.errors import ERROR_META_KEY
from tests.support.gateway import running_gateway
from tests.support.processes import running_server

pytestmark = pytest.mark.slow

JS_DIR = Path(__file__).parent / "js"
CLIENT = JS_DIR / "mcp_client.mjs"
ACME_MST = "3428557611"


@pytest.fixture(scope="module")
def node() -> str:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("Node.js and npm are needed for the TypeScript MCP client")
    if not (JS_DIR / "node_modules" / "@modelcontextprotocol" / "sdk").exists():
        installed = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"], cwd=JS_DIR, capture_output=True, text=True, timeout=300
        )
        if installed.returncode != 0:
            pytest.skip(f"npm ci could not install @modelcontextprotocol/sdk: {installed.stderr[-500:]}")
    return node


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Settings]]:
    data_dir = tmp_path_factory.mktemp("mcp-endpoint-js")
    settings = load_settings(AGENTMESH_DATA_DIR=data_dir)
    with running_server("erp", data_dir) as erp_url, running_gateway(settings, {"erp": erp_url}) as url:
        yield url, settings


def run_client(node: str, *args: str) -> dict[str, Any]:
    finished = subprocess.run([node, str(CLIENT), *args], capture_output=True, text=True, timeout=60)
    assert finished.returncode == 0, finished.stderr
    return json.loads(finished.stdout)  # type: ignore[no-any-return]


def test_the_typescript_sdk_lists_and_calls_a_tenants_tools(node: str, gateway: tuple[str, Settings]) -> None:
    url, settings = gateway
    token = issue_dev_token(settings, tenant_id="acme", user="alice")
    session = run_client(
        node, "session", f"{url}/mcp", token, "erp__get_customer_debt", json.dumps({"mst": ACME_MST})
    )
    assert session["protocolVersion"] == "2025-11-25"
    assert session["server"]["name"] == "agentmesh-gateway"
    tools = {tool["name"]: tool for tool in session["tools"]}
    assert {"erp__get_customer_debt", "erp__create_order"} <= set(tools)
    assert tools["erp__get_customer_debt"]["annotations"]["readOnlyHint"] is True
    call = session["call"]
    assert call.get("isError") is not True
    assert call["structuredContent"]["outstanding"] == 321_330_000


def test_the_typescript_sdk_sees_only_another_tenants_grants(
    node: str, gateway: tuple[str, Settings]
) -> None:
    url, settings = gateway
    token = issue_dev_token(settings, tenant_id="globex", user="bob")
    session = run_client(node, "session", f"{url}/mcp", token, "erp__create_order", json.dumps({"mst": "x"}))
    assert {tool["name"] for tool in session["tools"]} == {
        "erp__get_customer_debt",
        "erp__get_payment_history",
        "erp__list_overdue_customers",
    }
    assert session["call"]["isError"] is True
    assert session["call"]["_meta"][ERROR_META_KEY]["code"] == "denied"


def test_the_typescript_sdk_discovers_the_protected_resource_from_a_401(
    node: str, gateway: tuple[str, Settings]
) -> None:
    url, _ = gateway
    challenge = run_client(node, "challenge", f"{url}/mcp")
    assert challenge["status"] == 401
    assert challenge["resourceMetadataUrl"] == f"{url}/.well-known/oauth-protected-resource/mcp"
    assert challenge["metadata"]["resource"] == f"{url}/mcp"
    assert challenge["metadata"]["authorization_servers"] == [url]
