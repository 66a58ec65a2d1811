"""The official MCP conformance suite (npm `@modelcontextprotocol/conformance`) against each
standalone server over Streamable HTTP and against the gateway's per-tenant `/mcp`.

The suite and Node 22 (npm's `node` package) are pinned in `package.json` / `package-lock.json`
and installed with `npm ci` when `node_modules` is missing. The suite's client sends no
credentials, so `bearer.mjs` is preloaded to add the target's bearer token (a mesh token for a
server, a user token for the gateway) to its requests.

Each scenario is either expected to pass (`APPLICABLE`) or named in `NOT_APPLICABLE` with the
reason; a scenario the suite adds in a later version fails the test until it is classified.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentmesh.dev_tokens import issue_dev_token
from agentmesh.keys import mesh_key
from agentmesh.mesh_tokens import DEVELOPMENT_TOKEN_LIFETIME_SECONDS, mint_server_token
from agentmesh.settings import Settings, load_settings
from tests.support.gateway import running_gateway
from tests.support.processes import running_server

pytestmark = pytest.mark.slow

SUITE_DIR = Path(__file__).parent
NODE = SUITE_DIR / "node_modules" / ".bin" / "node"
CLI = SUITE_DIR / "node_modules" / "@modelcontextprotocol" / "conformance" / "dist" / "index.js"
SUITE_TIMEOUT_SECONDS = 240
SERVERS = ("erp", "rag", "ocr", "search")

APPLICABLE = frozenset(
    {
        "server-initialize",
        "ping",
        "logging-set-level",
        "completion-complete",
        "tools-list",
        "resources-list",
        "prompts-list",
        "dns-rebinding-protection",
    }
)
"""What every target must pass: the handshake, ping, logging, completions, the three listings, and
refusing a foreign Host/Origin header."""

STANDALONE_ONLY = frozenset({"server-sse-multiple-streams"})
"""A standalone server keeps a session per handshake client, so concurrent SSE streams apply."""

WITHOUT_COMPLETIONS = {
    server: {"completion-complete": "the server has no prompt and no resource template to complete"}
    for server in ("ocr", "search")
}

_FIXTURE = "needs the reference test server's fixture {what}, which a domain server does not serve"
NOT_APPLICABLE: dict[str, str] = {
    "tools-call-simple-text": _FIXTURE.format(what="tool test_simple_text"),
    "tools-call-image": _FIXTURE.format(what="tool test_image_content"),
    "tools-call-audio": _FIXTURE.format(what="tool test_audio_content"),
    "tools-call-embedded-resource": _FIXTURE.format(what="tool test_embedded_resource"),
    "tools-call-mixed-content": _FIXTURE.format(what="tool test_multiple_content_types"),
    "tools-call-with-logging": _FIXTURE.format(what="tool test_tool_with_logging"),
    "tools-call-error": _FIXTURE.format(what="tool test_error_handling"),
    "tools-call-with-progress": _FIXTURE.format(what="tool test_tool_with_progress")
    + " (progress of the real long tools is tested in tests/mcp_servers and tests/gateway)",
    "tools-call-sampling": "no tool of the platform asks the client's model for a completion (sampling)",
    "tools-call-elicitation": "no tool of the platform asks the user for input (elicitation)",
    "elicitation-sep1034-defaults": "no tool of the platform asks the user for input (elicitation)",
    "elicitation-sep1330-enums": "no tool of the platform asks the user for input (elicitation)",
    "server-sse-polling": _FIXTURE.format(what="tool test_reconnection"),
    "resources-read-text": _FIXTURE.format(what="resource test://static-text"),
    "resources-read-binary": _FIXTURE.format(what="resource test://static-binary"),
    "resources-templates-read": _FIXTURE.format(what="resource template test://template/{id}/data")
    + " (kb://documents/{document_id} is read in tests/gateway and tests/isolation)",
    "resources-subscribe": "no server offers resource subscriptions (documents change through tools)",
    "resources-unsubscribe": "no server offers resource subscriptions (documents change through tools)",
    "prompts-get-simple": _FIXTURE.format(what="prompt test_simple_prompt"),
    "prompts-get-with-args": _FIXTURE.format(what="prompt test_prompt_with_arguments"),
    "prompts-get-embedded-resource": _FIXTURE.format(what="prompt test_prompt_with_embedded_resource"),
    "prompts-get-with-image": _FIXTURE.format(what="prompt test_prompt_with_image"),
}
GATEWAY_NOT_APPLICABLE = {
    "server-sse-multiple-streams": "/mcp is stateless (any replica answers any request): no session, "
    "and no stream outside a request",
}

_RESULT_DIR = re.compile(r"^server-(?P<scenario>.+)-\d{4}-\d{2}-\d{2}T")


@pytest.fixture(scope="module")
def suite() -> Path:
    """The installed suite (`npm ci` once); skipped without npm, except under CI where it must run."""
    if not CLI.exists():
        npm = shutil.which("npm")
        if npm is None:
            if os.environ.get("CI") == "true":
                pytest.fail("npm is needed to install the MCP conformance suite")
            pytest.skip("npm is needed to install the MCP conformance suite")
        installed = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"], cwd=SUITE_DIR, capture_output=True, text=True, timeout=600
        )
        assert installed.returncode == 0, f"npm ci failed: {installed.stderr[-1000:]}"
    return CLI


def run_suite(cli: Path, url: str, token: str, results: Path) -> dict[str, bool]:
    """Run every server scenario against `url`; whether each passed (a success, and no failure or warning)."""
    env = {
        **os.environ,
        "CONFORMANCE_BEARER_TOKEN": token,
        "CONFORMANCE_TARGET_URL": url,
        "NODE_OPTIONS": f"--import {SUITE_DIR / 'bearer.mjs'}",
    }
    subprocess.run(
        [str(NODE), str(cli), "server", "--url", url, "--output-dir", str(results)],
        cwd=SUITE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=SUITE_TIMEOUT_SECONDS,
    )
    passed: dict[str, bool] = {}
    for directory in sorted(results.iterdir()):
        match = _RESULT_DIR.match(directory.name)
        if match is None:
            continue
        statuses = {check["status"] for check in json.loads((directory / "checks.json").read_text())}
        passed[match["scenario"]] = "SUCCESS" in statuses and not statuses & {"FAILURE", "WARNING"}
    return passed


def assert_conforms(
    passed: dict[str, bool], applicable: frozenset[str], not_applicable: dict[str, str]
) -> None:
    unclassified = set(passed) - applicable - set(not_applicable)
    assert not unclassified, f"scenarios to classify as applicable or not (and why): {sorted(unclassified)}"
    assert applicable <= set(passed), f"scenarios the suite did not run: {sorted(applicable - set(passed))}"
    failed = sorted(scenario for scenario in applicable if not passed[scenario])
    assert not failed, f"applicable scenarios that failed: {failed}"


def server_token(settings: Settings, server: str) -> str:
    """A development mesh token for `server`, acme's, granting no tool (the suite calls none that exist)."""
    return mint_server_token(
        mesh_key(settings.keys_dir),
        issuer=settings.mesh_issuer,
        server=server,
        tenant_id="acme",
        subject="conformance",
        tools=[],
        roles=["user"],
        ttl_seconds=3600,
        max_lifetime_seconds=DEVELOPMENT_TOKEN_LIFETIME_SECONDS,
    )


@pytest.fixture(scope="module")
def mesh_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Settings, dict[str, str]]]:
    """The four servers over HTTP, sharing one data directory (so one mesh key)."""
    data_dir = tmp_path_factory.mktemp("conformance")
    settings = load_settings(AGENTMESH_DATA_DIR=data_dir)
    with (
        running_server("erp", data_dir) as erp,
        running_server("rag", data_dir) as rag,
        running_server("ocr", data_dir) as ocr,
        running_server("search", data_dir) as search,
    ):
        yield settings, {"erp": erp, "rag": rag, "ocr": ocr, "search": search}


@pytest.mark.parametrize("server", SERVERS)
def test_a_standalone_server_passes_every_scenario_that_applies(
    suite: Path, mesh_servers: tuple[Settings, dict[str, str]], server: str, tmp_path: Path
) -> None:
    settings, urls = mesh_servers
    passed = run_suite(suite, urls[server], server_token(settings, server), tmp_path)
    not_applicable = {**NOT_APPLICABLE, **WITHOUT_COMPLETIONS.get(server, {})}
    assert_conforms(passed, (APPLICABLE | STANDALONE_ONLY) - set(not_applicable), not_applicable)


def test_the_gateway_mcp_endpoint_passes_every_scenario_that_applies(
    suite: Path, mesh_servers: tuple[Settings, dict[str, str]], tmp_path: Path
) -> None:
    settings, urls = mesh_servers
    with running_gateway(settings, urls) as url:
        token = issue_dev_token(settings, tenant_id="acme", user="conformance")
        passed = run_suite(suite, f"{url}/mcp", token, tmp_path)
    assert_conforms(passed, APPLICABLE, {**NOT_APPLICABLE, **GATEWAY_NOT_APPLICABLE})
