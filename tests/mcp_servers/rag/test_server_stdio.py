"""`agentmesh serve rag --transport stdio` works alone, for the one tenant it was started for."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from mcp import Client
from mcp.client.stdio import StdioServerParameters, stdio_client


async def test_stdio_server_answers_for_its_local_tenant(tmp_path: Path) -> None:
    command = ["-m", "agentmesh.cli", "--data-dir", str(tmp_path), "serve", "rag"]
    params = StdioServerParameters(
        command=sys.executable,
        args=[*command, "--transport", "stdio", "--tenant", "globex"],
        env={**os.environ, "AGENTMESH_LOG_LEVEL": "WARNING"},
    )
    async with Client(stdio_client(params)) as client:
        result = await client.call_tool("search", {"query": "return window", "top_k": 1})
    assert not result.is_error
    hit = result.structured_content["results"][0]
    assert hit["title"] == "Globex Return Policy"
    assert "14 days" in hit["text"]
