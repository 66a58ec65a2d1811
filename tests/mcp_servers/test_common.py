"""Every server accepts only mesh tokens minted for it, and only for the tools they grant."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator

import anyio
import httpx
import jwt
import pytest
import uvicorn

from agentmesh.dev_tokens import issue_dev_token
from agentmesh.keys import mesh_key
from agentmesh.settings import Settings
from mcp_servers.common.bootstrap import ServeOptions, new_server
from tests.support.mcp import http_client, mesh_token
from tests.support.processes import free_port


@contextlib.asynccontextmanager
async def whoami_server(settings: Settings) -> AsyncIterator[str]:
    port = free_port()
    server, tenants = new_server("probe", settings, ServeOptions(port=port), instructions="test server")

    @server.tool()
    def whoami() -> str:
        """Name the calling tenant and user."""
        caller = tenants.current()
        return f"{caller.tenant_id}/{caller.subject}"

    @server.tool()
    def other() -> str:
        """A tool the tokens below do not grant."""
        return "should not run"

    app = server.streamable_http_app(streamable_http_path="/mcp", host="127.0.0.1")
    uv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    async with anyio.create_task_group() as tg:
        tg.start_soon(uv.serve)
        while not uv.started:
            await anyio.sleep(0.05)
        yield f"http://127.0.0.1:{port}/mcp"
        uv.should_exit = True


async def call_status(url: str, token: str) -> int:
    async with httpx.AsyncClient() as client:
        response = await client.post(
            url,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json, text/event-stream"},
            json={"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}},
        )
        return response.status_code


async def test_mesh_token_carries_tenant_and_user(settings: Settings) -> None:
    async with whoami_server(settings) as url:
        token = mesh_token(settings, "probe", tenant="acme", subject="alice", tools=["whoami"])
        async with http_client(url, token) as client:
            result = await client.call_tool("whoami", {})
    assert not result.is_error
    assert result.content[0].text == "acme/alice"


async def test_tool_outside_token_scope_is_refused(settings: Settings) -> None:
    async with whoami_server(settings) as url:
        token = mesh_token(settings, "probe", tools=["whoami"])
        async with http_client(url, token) as client:
            result = await client.call_tool("other", {})
    assert result.is_error
    assert "not granted" in result.content[0].text


@pytest.mark.parametrize(
    "make_token",
    [
        pytest.param(lambda s: issue_dev_token(s, tenant_id="acme", user="alice"), id="end-user-token"),
        pytest.param(lambda s: mesh_token(s, "erp", tools=["whoami"]), id="token-for-another-server"),
        pytest.param(
            lambda s: jwt.encode(
                {
                    "iss": s.mesh_issuer,
                    "aud": "mcp:probe",
                    "sub": "alice",
                    "tenant_id": "acme",
                    "iat": int(time.time()) - 120,
                    "exp": int(time.time()) - 60,
                    "jti": "x",
                },
                mesh_key(s.keys_dir).private_key,
                algorithm="ES256",
                headers={"kid": mesh_key(s.keys_dir).kid},
            ),
            id="expired-mesh-token",
        ),
        pytest.param(lambda s: "not-a-jwt", id="garbage"),
    ],
)
async def test_server_refuses_tokens_not_minted_for_it(settings: Settings, make_token) -> None:  # type: ignore[no-untyped-def]
    async with whoami_server(settings) as url:
        assert await call_status(url, make_token(settings)) == 401


async def test_a_tool_is_described_by_its_docstring_as_prose(settings: Settings) -> None:
    server, _ = new_server("probe", settings, ServeOptions(), instructions="test server")

    @server.tool()
    def reflowed() -> str:
        """Read the text of an image with the server's
        default engine.

        Đọc chữ trong ảnh."""
        return ""

    @server.tool(description="as given")
    def described() -> str:
        """Not this."""
        return ""

    descriptions = {tool.name: tool.description for tool in await server.list_tools()}
    assert (
        descriptions["reflowed"]
        == "Read the text of an image with the server's default engine.\n\nĐọc chữ trong ảnh."
    )
    assert descriptions["described"] == "as given"


async def test_a_misspelt_or_missing_argument_is_named_like_the_erps_checker_names_it(
    settings: Settings,
) -> None:
    server, _ = new_server("probe", settings, ServeOptions(), instructions="test server")

    @server.tool()
    def search(query: str, top_k: int = 5) -> str:
        """Search."""
        return query

    misspelt = await server.call_tool("search", {"query": "x", "topk": 3})
    renamed = await server.call_tool("search", {"q": "x"})
    missing = await server.call_tool("search", {})
    assert misspelt.is_error and missing.is_error  # type: ignore[union-attr]
    assert misspelt.content[0].text == (  # type: ignore[union-attr]
        "Invalid arguments for search (1 problem):\n- topk: is not an accepted argument"
    )
    assert missing.content[0].text == "Invalid arguments for search (1 problem):\n- query: is required"  # type: ignore[union-attr]
    assert renamed.content[0].text == (  # type: ignore[union-attr]
        "Invalid arguments for search (2 problems):\n- q: is not an accepted argument\n- query: is required"
    )
