"""A tenant's rows in the platform database: where each store keeps them, to export or delete them.

Every store that keeps rows of a tenant declares them as `TenantRows` (the table, the column that
names the tenant, the columns that hold secrets) and deletes them in `delete_tenant(db, tenant)`,
inside the caller's transaction, bumping whatever change counter tells other replicas and
servers to reload. Tenant deletion runs every store's `delete_tenant` in one transaction and the
export reads the declared tables, secrets left out; a test holds the declarations to the schema,
so a new table that names a tenant cannot be forgotten by either.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import Table, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from agentmesh.db import Base


@dataclass(frozen=True)
class TenantRows:
    """The rows of one table that belong to a tenant."""

    table: str
    column: str = "tenant_id"
    secrets: tuple[str, ...] = ()
    """Columns never exported (sealed keys, their hints)."""

    def _table(self) -> Table:
        return Base.metadata.tables[self.table]

    async def delete(self, db: AsyncSession, tenant_id: str) -> int:
        """Delete the tenant's rows of this table in `db`'s transaction; how many there were."""
        table = self._table()
        result = await db.execute(delete(table).where(table.c[self.column] == tenant_id))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def read(self, db: AsyncSession, tenant_id: str) -> list[dict[str, Any]]:
        """The tenant's rows of this table, every column but the secret ones."""
        table = self._table()
        columns = [column for column in table.columns if column.name not in self.secrets]
        ordered = (
            select(*columns).where(table.c[self.column] == tenant_id).order_by(*table.primary_key.columns)
        )
        return [dict(row) for row in (await db.execute(ordered)).mappings()]


class TenantScopedStore(Protocol):
    """A store holding rows of tenants."""

    @property
    def TENANT_ROWS(self) -> tuple[TenantRows, ...]:
        """The tables (and columns) holding the tenants' rows, in the order they are deleted."""
        ...

    async def delete_tenant(self, db: AsyncSession, tenant_id: str) -> dict[str, int]:
        """Delete every row of `tenant_id` in `db`'s transaction; rows removed by table."""
        ...


async def delete_declared(db: AsyncSession, rows: tuple[TenantRows, ...], tenant_id: str) -> dict[str, int]:
    """Delete the tenant's rows of each declared table, in order; rows removed by table."""
    return {declared.table: await declared.delete(db, tenant_id) for declared in rows}
