"""Every domain server reports a failed call the one way: an `isError` result with a readable text
and the code in `_meta[ERROR_META_KEY]`; a crash is a bare `internal_error` that leaks nothing.

Each server is the real one (`build_server`, its lifespan run), reached in process; each is asked
for something its domain refuses, and is given one probe tool that crashes.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, MCPError
from mcp.server.mcpserver import MCPServer
from mcp_types import CallToolResult, TextContent

from agentmesh.errors import AgentmeshError, ErrorCode
from agentmesh.settings import Settings
from mcp_servers.common.bootstrap import ServeOptions
from mcp_servers.common.errors import (
    ERROR_META_KEY,
    RETRYABLE_HINT,
    error_code,
    error_meta,
    error_result,
    reported_error,
)
from mcp_servers.common.server import INTERNAL_ERROR_MESSAGE
from mcp_servers.erp.server import build_server as erp_server
from mcp_servers.ocr.server import build_server as ocr_server
from mcp_servers.rag.server import build_server as rag_server
from mcp_servers.search.server import build_server as search_server

ROOT = Path(__file__).resolve().parents[2]
SECRET = "db password is hunter2"

Builder = Callable[[Settings, ServeOptions], MCPServer]

REFUSALS: list[Any] = [
    pytest.param(erp_server, "get_customer_debt", {"mst": "12"}, "invalid_arguments", "mst", id="erp"),
    pytest.param(
        rag_server, "delete_document", {"document_id": "nope"}, "document_not_found", "no document", id="rag"
    ),
    pytest.param(
        ocr_server,
        "ocr_document",
        {"document": base64.b64encode(b"not an image at all").decode()},
        "unsupported_format",
        "",
        id="ocr",
    ),
    pytest.param(
        search_server,
        "fetch_page",
        {"url": "http://127.0.0.1/admin"},
        "blocked_destination",
        "which this platform does not call for tenants",
        id="search",
    ),
]
SERVERS = [pytest.param(p.values[0], id=p.id) for p in REFUSALS]


@pytest.fixture
def server_settings(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("AGENTMESH_RAG_DEMO_KB", "false")
    return settings.model_copy(update={"rag_demo_kb": False})


def text_of(result: CallToolResult) -> str:
    return "\n".join(block.text for block in result.content if isinstance(block, TextContent))


async def call(server: MCPServer, tool: str, arguments: dict[str, Any]) -> CallToolResult:
    async with Client(server) as client:
        return await client.call_tool(tool, arguments)


@pytest.mark.parametrize(("build", "tool", "arguments", "code", "says"), REFUSALS)
async def test_a_domain_refusal_carries_its_code_in_meta_and_reads_plainly(
    server_settings: Settings,
    build: Builder,
    tool: str,
    arguments: dict[str, Any],
    code: ErrorCode,
    says: str,
) -> None:
    result = await call(build(server_settings, ServeOptions(transport="stdio")), tool, arguments)
    assert result.is_error
    assert error_code(result) == code
    assert result.meta is not None and result.meta[ERROR_META_KEY]["retryable"] is False
    text = text_of(result)
    assert says in text
    assert f"[{code}]" not in text and "Traceback" not in text


@pytest.mark.parametrize("build", SERVERS)
async def test_a_crash_is_an_internal_error_that_leaks_nothing(
    server_settings: Settings, build: Builder, capsys: pytest.CaptureFixture[str]
) -> None:
    server = build(server_settings, ServeOptions(transport="stdio"))

    def crash() -> str:
        """A tool with a bug."""
        raise RuntimeError(SECRET)

    server.add_tool(crash, name="crash")
    result = await call(server, "crash", {})
    assert result.is_error
    assert error_code(result) == "internal_error"
    assert text_of(result) == INTERNAL_ERROR_MESSAGE
    assert SECRET not in result.model_dump_json()
    logged = capsys.readouterr().out
    assert "tool_crashed" in logged and SECRET in logged  # the whole error stays in the server's log


@pytest.mark.parametrize("build", SERVERS)
async def test_the_full_error_shape_and_the_sdks_own_refusals(
    server_settings: Settings, build: Builder
) -> None:
    server = build(server_settings, ServeOptions(transport="stdio"))

    def flaky(count: int) -> str:
        """A tool whose backend is down for now."""
        raise AgentmeshError(
            "the backend is down", code="upstream_unavailable", details={"tries": count}, retryable=True
        )

    server.add_tool(flaky, name="flaky")
    async with Client(server) as client:
        down = await client.call_tool("flaky", {"count": 2})
        wrong = await client.call_tool("flaky", {"count": "two"})
        missing = await client.call_tool("no_such_tool", {})
    assert down.meta is not None
    assert down.meta[ERROR_META_KEY] == {
        "code": "upstream_unavailable",
        "retryable": True,
        "details": {"tries": 2},
    }
    assert text_of(down) == "the backend is down" + RETRYABLE_HINT
    assert error_code(wrong) == "invalid_arguments" and "count" in text_of(wrong)
    assert wrong.meta is not None and wrong.meta[ERROR_META_KEY]["details"]["problems"][0]["field"] == "count"
    assert error_code(missing) == "tool_not_found"


async def test_a_missing_document_resource_is_the_sdks_not_found(server_settings: Settings) -> None:
    async with Client(rag_server(server_settings, ServeOptions(transport="stdio"))) as client:
        with pytest.raises(MCPError) as refused:
            await client.read_resource("kb://documents/nope")
    assert refused.value.error.code == -32602  # INVALID_PARAMS: what the SDK answers for a missing resource
    assert "no document 'nope'" in refused.value.error.message


def test_a_code_outside_the_closed_set_is_not_taken_up() -> None:
    foreign = CallToolResult(content=[], is_error=True, _meta={ERROR_META_KEY: {"code": "teapot"}})
    assert error_code(foreign) is None
    assert error_code(error_result(AgentmeshError("gone", code="not_found"))) == "not_found"
    assert error_meta(AgentmeshError("gone", code="not_found")) == {
        ERROR_META_KEY: {"code": "not_found", "retryable": False}
    }


def test_a_result_reports_the_error_it_carries() -> None:
    sent = AgentmeshError(
        "the ERP failed", code="upstream_unavailable", details={"status": 503}, retryable=True
    )
    received = reported_error(error_result(sent))
    assert received is not None
    assert (received.code, received.details, received.retryable) == (
        "upstream_unavailable",
        {"status": 503},
        True,
    )
    assert received.message == "the ERP failed" + RETRYABLE_HINT
    anyones = reported_error(CallToolResult(content=[TextContent(type="text", text="boom")], is_error=True))
    assert anyones is not None and (anyones.code, anyones.message) == ("tool_error", "boom")
    assert reported_error(CallToolResult(content=[], is_error=False)) is None


def test_the_meta_key_is_written_once_in_the_whole_tree() -> None:
    literal = '"' + ERROR_META_KEY + '"'
    holders = [
        str(path.relative_to(ROOT))
        for folder in ("agentmesh", "gateway", "host", "policies", "mcp_servers", "tests", "bench")
        for path in (ROOT / folder).rglob("*.py")
        if literal in path.read_text(encoding="utf-8")
    ]
    assert holders == ["mcp_servers/common/errors.py"]
