"""The MCP channels an attempt goes through: the gateway's `/mcp` with a user's token, and an MCP
server directly with a mesh token (what a compromised host could present).

Every answer keeps its whole serialised form, which is what the leak scan reads.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import anyio
from mcp.shared.exceptions import MCPError
from mcp_types import CallToolResult

from mcp_servers.common.errors import error_code
from tests.support.mcp import http_client


@dataclass(frozen=True)
class McpAnswer:
    """A `tools/call` result: its error flag and code, text, structured content, and all of it.

    The code is the error's `_meta` code, which every server and the gateway set.
    """

    is_error: bool
    error_code: str | None
    text: str
    structured: dict[str, Any] | None
    raw: str

    @classmethod
    def of(cls, result: CallToolResult) -> McpAnswer:
        text = "\n".join(getattr(block, "text", "") for block in result.content)
        return cls(
            is_error=bool(result.is_error),
            error_code=error_code(result),
            text=text,
            structured=result.structured_content,
            raw=json.dumps(result.model_dump(mode="json", by_alias=True)),
        )


def call_tool(url: str, token: str, tool: str, arguments: dict[str, Any]) -> McpAnswer:
    """`tools/call` on the MCP endpoint at `url` with a bearer token."""

    async def call() -> McpAnswer:
        async with http_client(url, token) as client:
            return McpAnswer.of(await client.call_tool(tool, arguments))

    return anyio.run(call)


def list_tools(url: str, token: str) -> tuple[list[str], str]:
    """`tools/list` on the MCP endpoint at `url`: the tool names, and the whole answer serialised."""

    async def listing() -> tuple[list[str], str]:
        async with http_client(url, token) as client:
            result = await client.list_tools()
        raw = json.dumps(result.model_dump(mode="json", by_alias=True))
        return [tool.name for tool in result.tools], raw

    return anyio.run(listing)


def read_resource(url: str, token: str, uri: str) -> str:
    """`resources/read` on the MCP endpoint at `url`: the contents, or the error, serialised."""

    async def read() -> str:
        async with http_client(url, token) as client:
            try:
                result = await client.read_resource(uri)
            except MCPError as exc:  # the refusal is the answer here: its text is scanned like any other
                return f"error {exc.error.code}: {exc.error.message} {exc.error.data}"
        return json.dumps(result.model_dump(mode="json", by_alias=True))

    return anyio.run(read)
