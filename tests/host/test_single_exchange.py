"""A `tools/call` without progress goes out as one HTTP exchange (`host.single_exchange`), and
answers as the SDK's client would: the same results, errors, headers and schema checks.

A real MCP server (the SDK's `MCPServer` over Streamable HTTP) runs in this event loop; the
host's `ServerConnection` connects to it as it connects to the platform's servers.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Annotated, Any

import aiohttp
import anyio
import anyio.abc
import httpx2
import pytest
import uvicorn
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.shared.exceptions import MCPError
from mcp_types import CallToolResult, TextContent
from pydantic import BaseModel, Field

from host import single_exchange
from host.server_connection import ServerConnection, ServerUnavailable
from host.single_exchange import ToolShapes
from tests.support.processes import free_port


class Echo(BaseModel):
    text: str
    length: int


def _server() -> MCPServer:
    server = MCPServer("exchange-probe")

    @server.tool()
    async def echo(text: str) -> Echo:
        """Echo the text with its length."""
        return Echo(text=text, length=len(text))

    @server.tool()
    async def regional(
        region: Annotated[str, Field(json_schema_extra={"x-mcp-header": "Region"})], amount: int
    ) -> str:
        """A tool whose `region` argument is mirrored in an `Mcp-Param-Region` header."""
        return f"{region}:{amount}"

    @server.tool()
    async def broken() -> str:
        """Always fails."""
        raise ToolError("the ledger is closed")

    return server


def _uvicorn() -> tuple[uvicorn.Server, str]:
    port = free_port()
    app = _server().streamable_http_app(streamable_http_path="/mcp", host="127.0.0.1")
    uv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    return uv, f"http://127.0.0.1:{port}/mcp"


async def _started(uv: uvicorn.Server, tg: anyio.abc.TaskGroup) -> anyio.Event:
    """Serve `uv` in `tg`; the returned event is set once it has stopped."""
    stopped = anyio.Event()

    async def serve() -> None:
        await uv.serve()
        stopped.set()

    tg.start_soon(serve)
    while not uv.started:
        await anyio.sleep(0.02)
    return stopped


@contextlib.asynccontextmanager
async def serving() -> AsyncIterator[str]:
    uv, url = _uvicorn()
    async with anyio.create_task_group() as tg:
        await _started(uv, tg)
        try:
            yield url
        finally:
            uv.should_exit = True


@contextlib.asynccontextmanager
async def connected(url: str) -> AsyncIterator[ServerConnection]:
    connection = ServerConnection("probe", url, listing_token=lambda: "listing-token")
    async with anyio.create_task_group() as tg:
        tg.start_soon(connection.run)
        assert await connection.wait_ready(10)
        try:
            yield connection
        finally:
            connection.close()


async def both_ways(
    connection: ServerConnection, tool: str, arguments: dict[str, Any], **schemas: Any
) -> tuple[CallToolResult, CallToolResult]:
    """The same call through the single exchange and through the SDK (progress forces the SDK)."""

    async def no_progress(progress: float, total: float | None, message: str | None) -> None:
        return None

    lean = await connection.call_tool(tool, arguments, token="t", timeout=10, **schemas)
    sdk = await connection.call_tool(tool, arguments, token="t", timeout=10, progress=no_progress, **schemas)
    return lean, sdk


def _comparable(result: CallToolResult) -> dict[str, Any]:
    return result.model_dump(by_alias=True, mode="json", exclude_none=True, exclude={"meta"})


async def test_a_call_answers_as_the_sdk_does_for_results_and_tool_errors() -> None:
    async with serving() as url, connected(url) as connection:
        listed = {tool.name: tool for tool in await connection.list_tools()}
        echo = listed["echo"]
        lean, sdk = await both_ways(
            connection,
            "echo",
            {"text": "Công nợ"},
            input_schema=echo.input_schema,
            output_schema=echo.output_schema,
        )
        failed_lean, failed_sdk = await both_ways(connection, "broken", {})
    assert single_exchange.serves("2026-07-28")
    assert lean.structured_content == {"text": "Công nợ", "length": 7}
    assert _comparable(lean) == _comparable(sdk)
    assert failed_lean.is_error and "the ledger is closed" in failed_lean.content[0].text  # type: ignore[union-attr]
    assert _comparable(failed_lean) == _comparable(failed_sdk)


async def test_arguments_mirrored_in_headers_are_sent_and_a_stale_schema_falls_back_to_the_sdk() -> None:
    async with serving() as url, connected(url) as connection:
        regional = {tool.name: tool for tool in await connection.list_tools()}["regional"]
        arguments = {"region": "Hà Nội", "amount": 3}
        with_schema = await connection.call_tool(
            "regional", arguments, token="t", timeout=10, input_schema=regional.input_schema
        )
        # Without the schema no Mcp-Param-Region header goes out: the server turns the request
        # away unread (HEADER_MISMATCH), and the SDK's client sends it again with the header.
        without_schema = await connection.call_tool("regional", arguments, token="t", timeout=10)
    for result in (with_schema, without_schema):
        assert not result.is_error, result.content
        assert result.content[0].text == "Hà Nội:3"  # type: ignore[union-attr]


async def test_a_server_that_went_away_is_unavailable() -> None:
    uv, url = _uvicorn()
    async with anyio.create_task_group() as tg:
        stopped = await _started(uv, tg)
        async with connected(url) as connection:
            assert not (await connection.call_tool("echo", {"text": "x"}, token="t", timeout=10)).is_error
            uv.should_exit = True
            await stopped.wait()
            with pytest.raises(ServerUnavailable):
                await connection.call_tool("echo", {"text": "x"}, token="t", timeout=10)


@pytest.mark.parametrize("client", ["aiohttp", "httpx"])
async def test_a_refusal_without_a_json_rpc_body_is_named_for_its_status(client: str) -> None:
    async with serving() as url, aiohttp.ClientSession() as session, httpx2.AsyncClient() as http:
        post = (
            single_exchange.aiohttp_poster(session)
            if client == "aiohttp"
            else single_exchange.httpx_poster(http)
        )
        answered = await single_exchange.call_tool(
            post, url, "2026-07-28", "echo", {"text": "x"}, headers={}, timeout=5
        )
        with pytest.raises(MCPError, match=r"Not Found|HTTP 404"):
            await single_exchange.call_tool(
                post,
                url.replace("/mcp", "/elsewhere"),
                "2026-07-28",
                "echo",
                {"text": "x"},
                headers={},
                timeout=5,
            )
    assert answered.structured_content == {"text": "x", "length": 1}


def test_a_result_outside_the_output_schema_is_refused_with_the_reason() -> None:
    shapes = ToolShapes()
    schema = {"type": "object", "properties": {"length": {"type": "integer"}}, "required": ["length"]}
    good = CallToolResult(content=[TextContent(type="text", text="ok")], structured_content={"length": 2})
    wrong = CallToolResult(content=[TextContent(type="text", text="ok")], structured_content={"length": "2"})
    missing = CallToolResult(content=[TextContent(type="text", text="ok")])
    shapes.check_output("echo", schema, good)
    with pytest.raises(MCPError, match="outside its output schema: '2' is not of type 'integer'"):
        shapes.check_output("echo", schema, wrong)
    with pytest.raises(MCPError, match="no structured content"):
        shapes.check_output("echo", schema, missing)
    shapes.check_output("echo", None, missing)  # no schema, nothing to check


def test_an_answer_streamed_as_sse_is_read_past_the_notifications_before_it() -> None:
    body = (
        "event: message\r\ndata: "
        '{"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"working"}}'
        "\r\n\r\n: ping\r\n\r\n"
        'event: message\r\ndata: {"jsonrpc":"2.0","id":7,"result":{"content":[]}}\r\n\r\n'
    )
    reply = single_exchange.Reply(200, "text/event-stream", body.encode())
    assert single_exchange._answer(reply, 7) == {"jsonrpc": "2.0", "id": 7, "result": {"content": []}}
    with pytest.raises(MCPError, match="no response"):
        single_exchange._answer(reply, 8)
