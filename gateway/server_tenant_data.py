"""A tenant's data on the MCP servers, exported and deleted through their lifecycle routes.

The RAG, search and OCR servers own their stores (vector points, page indexes, folders), so a
tenant export or deletion asks each server of the pool (`mcp_servers.common.lifecycle`) with a
mesh token minted here for that server alone, carrying the tenant, the platform admin asking, the
`platform_admin` role and the one scope (`tenant:export` or `tenant:delete`) no tool grant can
carry. A server without those routes (the ERP server, whose state is the platform database, or a
server an admin registered) answers 404: it keeps nothing of the tenant the platform can delete.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Literal
from urllib.parse import urljoin

import anyio
import httpx
import structlog
from pydantic import BaseModel, Field

from agentmesh.errors import AgentmeshError
from agentmesh.keys import mesh_key
from agentmesh.mesh_tokens import TENANT_DELETE_SCOPE, TENANT_EXPORT_SCOPE, mint_server_token
from agentmesh.settings import Settings
from mcp_servers.common.lifecycle import PLATFORM_ADMIN, TENANT_DELETE_PATH, TENANT_EXPORT_PATH

log = structlog.get_logger(__name__)

TIMEOUT_SECONDS = 300.0
"""A deletion waits for an ingestion job of the tenant that is running; an export streams it all."""


class ServerExportFailed(AgentmeshError):
    code = "server_unavailable"
    retryable = True


class ServerDeletion(BaseModel):
    """What deleting a tenant's data did on one server."""

    server: str
    status: Literal["deleted", "nothing_kept", "failed"]
    removed: dict[str, int] = Field(default_factory=dict)
    error: str | None = None


class ServerTenantData:
    """Exports and deletes a tenant's data on the servers at `servers` (name -> MCP URL)."""

    def __init__(self, settings: Settings, servers: dict[str, str]) -> None:
        self._settings = settings
        self._servers = servers

    def _token(self, server: str, tenant_id: str, subject: str, scope: str) -> str:
        return mint_server_token(
            mesh_key(self._settings.keys_dir),
            issuer=self._settings.mesh_issuer,
            server=server,
            tenant_id=tenant_id,
            subject=subject,
            tools=[scope],
            roles=[PLATFORM_ADMIN],
            ttl_seconds=60,
        )

    def _client(self) -> httpx.AsyncClient:
        # Server URLs are the platform's own configuration: no proxy from the environment.
        return httpx.AsyncClient(timeout=TIMEOUT_SECONDS, trust_env=False)

    async def delete(self, tenant_id: str, *, subject: str) -> list[ServerDeletion]:
        """Ask every server to delete what it keeps of the tenant; one outcome per server."""
        async with self._client() as client:
            return [
                await self._delete_on(client, server, tenant_id, subject) for server in sorted(self._servers)
            ]

    async def _delete_on(
        self, client: httpx.AsyncClient, server: str, tenant_id: str, subject: str
    ) -> ServerDeletion:
        url = urljoin(self._servers[server], TENANT_DELETE_PATH)
        token = self._token(server, tenant_id, subject, TENANT_DELETE_SCOPE)
        try:
            response = await client.post(url, headers={"Authorization": f"Bearer {token}"})
        except httpx.HTTPError as exc:
            log.warning("tenant_deletion_server_unreachable", server=server, error=type(exc).__name__)
            return ServerDeletion(server=server, status="failed", error=f"unreachable ({type(exc).__name__})")
        if response.status_code == 404:
            return ServerDeletion(server=server, status="nothing_kept")
        if response.status_code != 200:
            return ServerDeletion(server=server, status="failed", error=f"HTTP {response.status_code}")
        return ServerDeletion(server=server, status="deleted", removed=response.json().get("removed", {}))

    async def export(self, tenant_id: str, *, subject: str, into: Path) -> dict[str, Path]:
        """Write each server's export of the tenant (JSON lines) under `into`; the files by server.

        A server that exports nothing (404) has no file; one that fails stops the export.
        """
        files: dict[str, Path] = {}
        async with self._client() as client:
            for server in sorted(self._servers):
                path = into / f"{server}.jsonl"
                try:
                    exported = await self._export_from(client, server, tenant_id, subject, path)
                except httpx.HTTPError as exc:
                    log.warning("tenant_export_server_failed", server=server, error=type(exc).__name__)
                    raise ServerExportFailed(
                        f"the '{server}' server could not export the tenant's data; try again shortly",
                        details={"server": server},
                    ) from exc
                if exported:
                    files[server] = path
        return files

    async def _export_from(
        self, client: httpx.AsyncClient, server: str, tenant_id: str, subject: str, path: Path
    ) -> bool:
        url = urljoin(self._servers[server], TENANT_EXPORT_PATH)
        token = self._token(server, tenant_id, subject, TENANT_EXPORT_SCOPE)
        async with client.stream("GET", url, headers={"Authorization": f"Bearer {token}"}) as response:
            if response.status_code in (404, 405):
                return False
            response.raise_for_status()
            async with await anyio.open_file(path, "wb") as out:
                async for chunk in response.aiter_bytes():
                    await out.write(chunk)
        return True


def failed(outcomes: Iterable[ServerDeletion]) -> list[str]:
    return [outcome.server for outcome in outcomes if outcome.status == "failed"]
