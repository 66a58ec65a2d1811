"""Deleting a tenant from every store, on a platform admin's word.

In this order, so that nothing new of the tenant is written while it goes and a retry finishes
what a failure left (every step is idempotent):

1. the tenant's row, and its entry in the tenant cache: from here on every request for it is a 404;
2. the turns it has running are given a moment to end, and the audit events queued in this
   process are written;
3. the MCP servers delete what they keep of it: vector points and ingestion jobs (rag), the page
   index (search), its folder (ocr);
4. its files here: recorded episodes;
5. every SQL row of it, in every table (uploads with their bytes), in one transaction (the
   change counters bumped with them, so every replica and server reloads);
6. its Redis keys (rate limits, turn slots, session windows, caches: all under its `{tenant}` hash
   tag) or this process's in-memory equivalents, and its messages on the bus (jobs, events);
7. what this process caches of it: LLM clients holding its key, mesh tokens, its own tools.

The deletion itself is audited under the platform, not the tenant: the tenant's audit log goes
with it.
"""

from __future__ import annotations

import time

import anyio
import structlog
from pydantic import BaseModel

from agentmesh.errors import AgentmeshError
from gateway.server_tenant_data import ServerDeletion, ServerTenantData, failed
from gateway.state import GatewayState
from gateway.tenant_records import delete_tenant_rows
from host.episodes import EpisodeStore

log = structlog.get_logger(__name__)

DRAIN_SECONDS = 30.0
"""How long the deletion waits for the tenant's running turns to end before it goes on."""


class TenantDeletionReport(BaseModel):
    """What deleting a tenant removed, store by store."""

    tenant_id: str
    tenant_existed: bool
    sql_rows: dict[str, int]
    backend_keys: int
    uploads: int
    episodes: int
    servers: list[ServerDeletion]
    complete: bool


class TenantDeletionIncomplete(AgentmeshError):
    """A server could not delete its part; everything else is gone, and a retry finishes the job."""

    code = "server_unavailable"
    retryable = True


class TenantDeletion:
    """Deletes one tenant everywhere the platform keeps it."""

    def __init__(self, state: GatewayState) -> None:
        self._state = state

    async def delete(self, tenant_id: str, *, deleted_by: str) -> TenantDeletionReport:
        state = self._state
        existed = await self._close_the_door(tenant_id)
        await self._drain(tenant_id)
        await state.host.audit.flush()
        servers = await ServerTenantData(state.settings, self._server_urls()).delete(
            tenant_id, subject=deleted_by
        )
        episodes = await EpisodeStore(state.settings.resolved_data_dir / "episodes").delete_tenant(tenant_id)
        sql_rows = await delete_tenant_rows(state, tenant_id)
        sql_rows["tenants"] = int(existed) + sql_rows.get("tenants", 0)
        backend_keys = await state.backends.forget_tenant(tenant_id)
        await state.bus.purge_tenant(tenant_id)
        await state.tenants.forget(tenant_id)
        await state.host.forget_tenant(tenant_id)
        report = TenantDeletionReport(
            tenant_id=tenant_id,
            tenant_existed=existed,
            sql_rows=sql_rows,
            backend_keys=backend_keys,
            uploads=sql_rows.get("uploads", 0),
            episodes=episodes,
            servers=servers,
            complete=not failed(servers),
        )
        log.info("tenant_deleted", tenant_id=tenant_id, complete=report.complete, rows=sum(sql_rows.values()))
        return report

    async def _close_the_door(self, tenant_id: str) -> bool:
        """Delete the tenant's row (no request for it is admitted after this); whether it existed."""
        state = self._state
        async with state.db() as db, db.begin():
            removed = await state.tenants.delete_tenant(db, tenant_id)
        await state.tenants.forget(tenant_id)
        return bool(removed["tenants"])

    async def _drain(self, tenant_id: str) -> None:
        deadline = time.monotonic() + DRAIN_SECONDS
        while await self._state.backends.slots.in_use(tenant_id) and time.monotonic() < deadline:
            await anyio.sleep(0.2)

    def _server_urls(self) -> dict[str, str]:
        pool = self._state.host.pool
        return {name: pool.connection(name).url for name in pool.servers()}


def incomplete(report: TenantDeletionReport) -> TenantDeletionIncomplete:
    servers = failed(report.servers)
    return TenantDeletionIncomplete(
        f"the tenant is deleted except on {', '.join(servers)}, which could not be reached; "
        "delete it again to finish",
        details=report.model_dump(mode="json"),
    )
