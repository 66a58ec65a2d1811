"""The MCP Inspector CLI (npm `@modelcontextprotocol/inspector`, pinned with Node 22 in
`inspector/package-lock.json`, installed with `npm ci` when `node_modules` is missing) against a
running gateway: signing in with OAuth by itself (its own client: discovery, registration, PKCE,
its loopback callback; the person at the consent page played headlessly) and listing `/mcp`'s
tools; listing them with a token from the gateway's OAuth flow passed as a header; and trying the
client configurations the README gives for Claude Desktop, VS Code and Cursor in its `--config`
mode.

Each README snippet is read from the README itself (the JSON block after a
`<!-- client-config: NAME -->` marker). The test changes only what a test must: the gateway's URL
(a free port instead of 8000), the server's data directory, and for remote entries the bearer
header a desktop app would have obtained by the same OAuth flow (shown to work by itself above).
VS Code's file keeps its servers under `servers`, Cursor's remote entry names only a `url`: both
are handed to the Inspector in its own shape (`mcpServers`, `type`).
"""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from agentmesh.settings import load_settings
from tests.gateway.oauth_flow import Browser, obtain_tokens
from tests.support.gateway import running_gateway
from tests.support.processes import child_env, free_port, running_server

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
INSPECTOR_DIR = Path(__file__).parent / "inspector"
NODE = INSPECTOR_DIR / "node_modules" / ".bin" / "node"
CLI = (
    INSPECTOR_DIR
    / "node_modules"
    / "@modelcontextprotocol"
    / "inspector"
    / "clients"
    / "launcher"
    / "build"
    / "index.js"
)
README_GATEWAY = "http://localhost:8000"
CONFIG_MARKER = re.compile(r"<!-- client-config: (?P<name>[a-z-]+) -->\s*```json\n(?P<json>.*?)\n```", re.S)
CLIENTS = ("claude-desktop", "vscode", "cursor")
MINT = (sys.executable, "-m", "agentmesh.cli", "token")
GRANTED = ("--tool", "get_customer_debt", "--tool", "track_shipment")


@pytest.fixture(scope="module")
def inspector() -> Path:
    """The installed Inspector (`npm ci` once); skipped without npm, except under CI where it must run."""
    if not CLI.exists():
        npm = shutil.which("npm")
        if npm is None:
            if os.environ.get("CI") == "true":
                pytest.fail("npm is needed to install the MCP Inspector")
            pytest.skip("npm is needed to install the MCP Inspector")
        installed = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"],
            cwd=INSPECTOR_DIR,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert installed.returncode == 0, f"npm ci failed: {installed.stderr[-1000:]}"
    return CLI


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    data_dir = tmp_path_factory.mktemp("oauth-inspector")
    settings = load_settings(AGENTMESH_DATA_DIR=data_dir)
    with running_server("erp", data_dir) as erp_url, running_gateway(settings, {"erp": erp_url}) as url:
        yield url, data_dir


def run_inspector(cli: Path, *args: str, cwd: Path) -> dict[str, Any]:
    finished = subprocess.run(
        [str(NODE), str(cli), "--cli", *args, "--method", "tools/list"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "HOME": str(cwd)},  # the Inspector's own files stay in the test's directory
    )
    assert finished.returncode == 0, f"{finished.stdout[-2000:]}\n{finished.stderr[-2000:]}"
    result: dict[str, Any] = json.loads(finished.stdout[finished.stdout.index("{") :])
    return result


def tool_names(result: dict[str, Any]) -> set[str]:
    return {tool["name"] for tool in result["tools"]}


def test_the_inspector_lists_tools_with_a_token_from_the_oauth_flow(
    inspector: Path, gateway: tuple[str, Path], tmp_path: Path
) -> None:
    url, _ = gateway
    token = anyio.run(obtain_tokens, url)["access_token"]
    result = run_inspector(
        inspector,
        f"{url}/mcp",
        "--transport",
        "http",
        "--header",
        f"Authorization: Bearer {token}",
        cwd=tmp_path,
    )
    assert {"erp__get_customer_debt", "erp__track_shipment"} <= tool_names(result)


def test_the_inspector_lists_only_the_tools_a_standalone_server_s_token_grants(
    inspector: Path, tmp_path: Path
) -> None:
    # As the README runs one server alone: `agentmesh serve erp --transport http` and a token
    # from `agentmesh token --server erp --tool …`.
    data_dir = tmp_path / "data"
    with running_server("erp", data_dir) as url:
        minted = subprocess.run(
            [*MINT, "--server", "erp", "--tenant", "acme", *GRANTED],
            env=child_env(data_dir),
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        token = minted.stdout.strip()
        result = run_inspector(
            inspector, url, "--transport", "http", "--header", f"Authorization: Bearer {token}", cwd=tmp_path
        )
    assert tool_names(result) == {"get_customer_debt", "track_shipment"}


def test_the_inspector_signs_in_by_itself_and_lists_the_tools(
    inspector: Path, gateway: tuple[str, Path], tmp_path: Path
) -> None:
    """The Inspector's own OAuth client does the whole flow: discovery, registration, PKCE, its
    loopback callback, the token exchange. Its "browser" is the headless user of `oauth_flow`."""
    url, _ = gateway
    callback = f"http://127.0.0.1:{free_port()}/oauth/callback"
    process = subprocess.Popen(
        [
            str(NODE),
            str(inspector),
            "--cli",
            f"{url}/mcp",
            "--transport",
            "http",
            "--method",
            "tools/list",
            "--callback-url",
            callback,
        ],
        cwd=tmp_path,
        env={**os.environ, "HOME": str(tmp_path), "MCP_AUTO_OPEN_ENABLED": "true", "BROWSER": "true"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    assert process.stderr is not None
    threading.Thread(target=lambda: [lines.put(line) for line in process.stderr or ()], daemon=True).start()
    try:
        authorization_url = None
        while authorization_url is None:
            line = lines.get(timeout=120)
            found = re.search(r"(https?://\S+/oauth/authorize\?\S+)", line)
            authorization_url = found[1] if found else None

        async def consent() -> str:
            browser = Browser(url)
            try:
                return await browser.authorize(authorization_url, user="acme-user")
            finally:
                await browser.aclose()

        location = anyio.run(consent)
        assert location.startswith(callback), location
        assert httpx.get(location, timeout=30).status_code == 200  # the Inspector's own listener
        stdout, _ = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, stdout[-2000:]
    result = json.loads(stdout[stdout.index("{") :])
    assert {"erp__get_customer_debt", "erp__track_shipment"} <= tool_names(result)


def readme_configs() -> dict[str, dict[str, Any]]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    configs = {match["name"]: json.loads(match["json"]) for match in CONFIG_MARKER.finditer(text)}
    assert set(configs) == set(CLIENTS), f"README client configurations: {sorted(configs)}"
    return configs


def inspector_config(
    client: str, config: dict[str, Any], url: str, data_dir: Path, token: str
) -> dict[str, Any]:
    """The README's configuration for `client`, as the Inspector reads a config file."""
    servers: dict[str, Any] = json.loads(
        json.dumps(config["servers"] if client == "vscode" else config["mcpServers"]).replace(
            README_GATEWAY, url
        )
    )
    for entry in servers.values():
        if "url" in entry:
            entry.setdefault("type", "streamable-http")
            entry["headers"] = {**entry.get("headers", {}), "Authorization": f"Bearer {token}"}
        else:
            # The tests' interpreter and code, and a data directory of the test's own.
            if entry["command"] == "agentmesh":
                entry["command"] = str(Path(sys.executable).with_name("agentmesh"))
            entry["env"] = {
                **entry.get("env", {}),
                "AGENTMESH_DATA_DIR": str(data_dir),
                "PYTHONPATH": str(ROOT),
            }
    return {"mcpServers": servers}


@pytest.mark.parametrize("client", CLIENTS)
def test_the_readmes_client_configurations_connect(
    client: str, inspector: Path, gateway: tuple[str, Path], tmp_path: Path
) -> None:
    url, _ = gateway
    token = anyio.run(obtain_tokens, url)["access_token"]
    config = inspector_config(client, readme_configs()[client], url, tmp_path / "stdio-data", token)
    path = tmp_path / f"{client}.json"
    path.write_text(json.dumps(config))
    for name, entry in config["mcpServers"].items():
        result = run_inspector(inspector, "--config", str(path), "--server", name, cwd=tmp_path)
        names = tool_names(result)
        if "url" in entry:
            assert {"erp__get_customer_debt", "erp__track_shipment"} <= names, name
        else:
            assert {"get_customer_debt", "track_shipment"} <= names, name
