"""One JSON line per record, ours or any library's, with the same keys and the same masking.

Secret-named fields and tokens inside text are masked, and so is personal data, whether the
record comes from structlog or from uvicorn, mcp, httpx, alembic, OpenTelemetry or asyncio; a
real server process writes nothing else, not even at DEBUG.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
import structlog

from agentmesh.dev_tokens import issue_dev_token
from agentmesh.logging import CHATTY_LOGGERS, adopt_library_logger, configure_logging, drop_secrets
from agentmesh.settings import Settings, load_settings
from tests.mcp_servers.search.company_site import company_site
from tests.mcp_servers.search.sites import serve
from tests.support.mcp import http_client, mesh_token
from tests.support.processes import child_env, free_port, stop, wait_healthy

BASE_KEYS = {"event", "level", "logger", "timestamp"}
LIBRARIES = ("uvicorn", "mcp", "httpx2", "alembic")
"""What a server process logs through: its page fetches and provider calls go through httpx2."""

Configure = Callable[..., Callable[[], list[dict[str, Any]]]]


def test_secret_named_fields_are_masked() -> None:
    event = {
        "event": "provider_configured",
        "api_key": "sk-live-123",
        "Authorization": "Bearer abc",
        "mesh_token": "x",
        "client_secret": "y",
        "input_tokens": 1200,
        "tenant_id": "acme",
    }
    masked = drop_secrets(None, "info", event)
    assert masked["api_key"] == masked["Authorization"] == masked["mesh_token"] == "[redacted]"
    assert masked["client_secret"] == "[redacted]"
    assert masked["input_tokens"] == 1200, "a count of tokens is not a secret"
    assert masked["tenant_id"] == "acme"


def test_tokens_inside_text_are_masked(settings: Settings) -> None:
    token = issue_dev_token(settings, tenant_id="acme", user="alice")
    event = {
        "event": "upstream_failed",
        "exception": f"Traceback ...\nValueError: rejected header 'Authorization: Bearer {token}'",
        "url": f"https://erp.example/api?access={token}",
        "note": "bearer sk-abcdefghijklmnop was refused",
    }
    masked = drop_secrets(None, "error", event)
    for value in masked.values():
        assert token not in value
        assert token.split(".")[1] not in value
    assert "sk-abcdefghijklmnop" not in masked["note"]
    assert masked["exception"].startswith("Traceback ...\nValueError: rejected header")


@pytest.fixture
def configure(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Iterator[Configure]:
    """`configure(**env)` sets the process's logging up as a server does; it returns a reader of the
    JSON lines written since. The process's logging is restored afterwards."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level, {name: logging.getLogger(name).level for name in CHATTY_LOGGERS}

    def configure_with(**env: str) -> Callable[[], list[dict[str, Any]]]:
        for name, value in {"AGENTMESH_LOG_JSON": "true", **env}.items():
            monkeypatch.setenv(name, value)
        configure_logging(load_settings(), stream="stderr")
        capsys.readouterr()
        return lambda: [json.loads(line) for line in capsys.readouterr().err.splitlines()]

    yield configure_with
    structlog.reset_defaults()
    logging.captureWarnings(False)
    handlers, level, chatty = saved
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, chatty_level in chatty.items():
        logging.getLogger(name).setLevel(chatty_level)


def test_our_events_and_every_librarys_records_are_the_same_json_lines(configure: Configure) -> None:
    read = configure()
    structlog.get_logger("gateway.turns").info("turn_finished", tenant_id="acme", outcome="answered")
    logging.getLogger("uvicorn.error").info("Started server process [%d]", 4242)
    for library in (
        "alembic.runtime.migration",
        "mcp.server.streamable_http",
        "httpx",
        "opentelemetry.trace",
    ):
        logging.getLogger(library).warning("something from %s", library)
    try:
        raise RuntimeError("the task failed")
    except RuntimeError:
        logging.getLogger("asyncio").exception("Task exception was never retrieved")
    warnings.warn("a library's deprecation", DeprecationWarning, stacklevel=1)

    lines = read()
    assert [line["logger"] for line in lines] == [
        "gateway.turns",
        "uvicorn.error",
        "alembic.runtime.migration",
        "mcp.server.streamable_http",
        "httpx",
        "opentelemetry.trace",
        "asyncio",
        "py.warnings",
    ]
    assert all(set(line) >= BASE_KEYS for line in lines)
    assert lines[0] | {"timestamp": "-"} == {
        "event": "turn_finished",
        "tenant_id": "acme",
        "outcome": "answered",
        "level": "info",
        "logger": "gateway.turns",
        "timestamp": "-",
    }
    assert lines[1]["event"] == "Started server process [4242]"
    assert lines[6]["level"] == "error"
    assert lines[6]["exception"].endswith("RuntimeError: the task failed")
    assert "a library's deprecation" in lines[7]["event"]


def test_a_credential_or_personal_data_in_a_librarys_message_is_masked(
    configure: Configure, settings: Settings
) -> None:
    read = configure()
    token = issue_dev_token(settings, tenant_id="acme", user="alice")
    logging.getLogger("httpx").warning(
        'HTTP Request: GET %s "HTTP/1.1 401 Unauthorized"', f"http://wiki.acme/?access_token={token}"
    )
    try:
        raise PermissionError(f"Authorization: Bearer {token} refused for alice@acme.com")
    except PermissionError:
        logging.getLogger("mcp.client").exception("call failed for customer 0901234567")

    text = "\n".join(json.dumps(line) for line in read())
    for secret in (token, token.split(".")[1], "alice@acme.com", "0901234567"):
        assert secret not in text
    lines = [json.loads(line) for line in text.splitlines()]
    assert lines[0]["event"] == (
        'HTTP Request: GET http://wiki.acme/?access_token=[redacted credential] "HTTP/1.1 401 Unauthorized"'
    )
    assert lines[1]["event"] == "call failed for customer [PHONE]"
    assert lines[1]["exception"].endswith(
        "PermissionError: Authorization: [redacted credential] refused for [EMAIL]"
    )


def test_chatty_libraries_keep_to_warnings_unless_debugging(configure: Configure) -> None:
    read = configure(AGENTMESH_LOG_LEVEL="INFO")
    logging.getLogger("httpx").info("HTTP Request: GET http://erp/customers 200")
    logging.getLogger("mcp.server.lowlevel").info("Processing request of type CallToolRequest")
    logging.getLogger("httpx").warning("retrying")
    assert [line["event"] for line in read()] == ["retrying"]

    read = configure(AGENTMESH_LOG_LEVEL="DEBUG")
    logging.getLogger("httpx").info("HTTP Request: GET http://erp/customers 200")
    logging.getLogger("alembic.runtime.migration").info("Running upgrade 0001 -> 0002")
    assert [line["logger"] for line in read()] == ["httpx", "alembic.runtime.migration"]


def test_the_configured_identifiers_are_masked_too(configure: Configure) -> None:
    read = configure(AGENTMESH_REDACT_IDENTIFIERS=json.dumps({"staff_id": r"\bST-\d{4}\b"}))
    structlog.get_logger("test").warning("lookup failed", who="ST-1234 alice@acme.com", mst="3428557611")
    logging.getLogger("uvicorn.error").warning("lookup for ST-1234 failed")
    ours, uvicorn = read()
    assert ours["who"] == "[STAFF_ID] [EMAIL]"
    assert ours["mst"] == "3428557611", "a tax code is business data, not personal data"
    assert uvicorn["event"] == "lookup for [STAFF_ID] failed"


def test_a_library_that_brings_its_own_handler_is_taken_back(configure: Configure) -> None:
    read = configure()
    own = logging.getLogger("RapidOCR")
    own.addHandler(logging.StreamHandler(sys.stderr))  # what RapidOCR does when imported
    own.setLevel(logging.DEBUG)
    adopt_library_logger("RapidOCR")
    own.debug("below the process's level")
    own.warning("model loaded without a GPU")
    # Its plain-text handler is gone (a plain line would not parse), and the process's level holds.
    assert [(line["logger"], line["event"]) for line in read()] == [
        ("RapidOCR", "model loaded without a GPU")
    ]


def test_a_server_process_writes_only_masked_json_lines(settings: Settings, tmp_path: Path) -> None:
    """`agentmesh serve search` at DEBUG: uvicorn, mcp, httpx2 and alembic all log, and a credential
    in a fetched URL (which httpx2 logs) is masked like one in our own events."""
    rules = tmp_path / "rules.yaml"
    rules.write_text("tenants:\n  acme:\n    allowed_hosts: ['127.0.0.1']\n")
    out, err = tmp_path / "stdout", tmp_path / "stderr"
    port = free_port()
    token = issue_dev_token(settings, tenant_id="acme", user="alice")
    env = child_env(
        settings.resolved_data_dir,
        AGENTMESH_LOG_LEVEL="DEBUG",
        AGENTMESH_LOG_JSON="true",
        AGENTMESH_SEARCH_NETWORK_RULES_FILE=str(rules),
    )
    argv = [
        sys.executable,
        "-m",
        "agentmesh.cli",
        "serve",
        "search",
        "--transport",
        "http",
        "--port",
        str(port),
    ]
    with serve(company_site()) as site, out.open("w") as stdout, err.open("w") as stderr:
        process = subprocess.Popen(argv, env=env, stdout=stdout, stderr=stderr)
        try:
            wait_healthy(f"http://127.0.0.1:{port}/healthz", process)
            page = f"{site}/?access_token={token}&contact=alice@acme.com"
            result = anyio.run(fetch_page, settings, f"http://127.0.0.1:{port}/mcp", page)
            assert not result.is_error, result.content[0].text
        finally:
            stop(process)

    assert out.read_text() == ""
    raw = err.read_text()
    for secret in (token, token.split(".")[1], "alice@acme.com"):
        assert secret not in raw
    lines = [json.loads(line) for line in raw.splitlines()]
    assert all(set(line) >= BASE_KEYS for line in lines)
    loggers = {line["logger"] for line in lines}
    for library in LIBRARIES:
        assert any(name.split(".")[0] == library for name in loggers), f"nothing logged by {library}"
    assert any(
        line["logger"] == "httpx2" and "?access_token=[redacted credential]&contact=[EMAIL]" in line["event"]
        for line in lines
    )


async def fetch_page(settings: Settings, url: str, page: str) -> Any:
    async with http_client(url, mesh_token(settings, "search", tools=["fetch_page"])) as client:
        return await client.call_tool("fetch_page", {"url": page})
