"""MCP clients for tests: over HTTP with a bearer token, or over stdio."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from agentmesh.keys import mesh_key
from agentmesh.mesh_tokens import mint_server_token
from agentmesh.settings import Settings


def mesh_token(
    settings: Settings,
    server: str,
    *,
    tenant: str = "acme",
    tools: list[str] | frozenset[str] = (),  # type: ignore[assignment]
    subject: str = "alice",
    ttl_seconds: int = 60,
    user_token: str | None = None,
) -> str:
    """A host-minted token for `server`, as the host would present it (with the user's own token
    for a tool that forwards it)."""
    return mint_server_token(
        mesh_key(settings.keys_dir),
        issuer=settings.mesh_issuer,
        server=server,
        tenant_id=tenant,
        subject=subject,
        tools=list(tools),
        ttl_seconds=ttl_seconds,
        user_token=user_token,
    )


@contextlib.asynccontextmanager
async def http_client(url: str, token: str | None) -> AsyncIterator[Client]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=60.0) as http,
        Client(streamable_http_client(url, http_client=http)) as client,
    ):
        yield client
