"""Every store of the platform database that keeps rows of tenants, in one list.

Tenant export reads the rows each store declares (`agentmesh.tenant_rows`), tenant deletion has
each store delete its own in one transaction, in this order: rows that reference others first,
the tenant's own row last. `tests/gateway/test_tenant_lifecycle.py` checks the list against the
schema: a table naming a tenant that no store here declares fails it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from agentmesh.tenant_rows import TenantRows, TenantScopedStore
from gateway.state import GatewayState

PLATFORM_TABLES = frozenset(
    {
        "mcp_server_registrations",
        "host_config_versions",
        "erp_tool_catalog_version",
        "policy_override_versions",
        "oauth_clients",
    }
)
"""Tables with no tenant's rows in them: the platform's own registrations and change counters, and
the OAuth clients of `/mcp` (registered before anyone signs in)."""
OWNED_THROUGH_PARENT = {"upload_chunks": "uploads"}
"""Tables whose rows belong to a tenant through a parent row that names it, and go with that row
(`ON DELETE CASCADE`); the parent's store exports what they hold."""


def tenant_stores(state: GatewayState) -> list[TenantScopedStore]:
    """The stores holding tenants' rows, in deletion order."""
    admin = state.admin
    return [
        state.oauth.store,
        state.sessions,
        admin.usage,
        admin.approvals,
        state.audit,
        admin.policies,
        admin.agents,
        admin.llm,
        admin.pins,
        admin.erp_tools,
        admin.erp_credentials,
        admin.search_providers,
        state.webhooks,
        state.suggestions,
        state.job_records,
        state.bus_rows,
        state.uploads,
        state.tenants,
    ]


def declared_rows(state: GatewayState) -> list[TenantRows]:
    return [rows for store in tenant_stores(state) for rows in store.TENANT_ROWS]


async def delete_tenant_rows(state: GatewayState, tenant_id: str) -> dict[str, int]:
    """Delete every row of the tenant, in every store, in one transaction; rows removed by table."""
    removed: dict[str, int] = {}
    async with state.db() as db, db.begin():
        for store in tenant_stores(state):
            removed.update(await store.delete_tenant(db, tenant_id))
    return removed


async def read_tenant_rows(
    db: AsyncSession, state: GatewayState, tenant_id: str
) -> dict[str, list[dict[str, Any]]]:
    """Every row of the tenant by table, secret columns left out."""
    return {rows.table: await rows.read(db, tenant_id) for rows in declared_rows(state)}
