"""The tenant directory: which tenants exist, read on every request and therefore cached."""

from __future__ import annotations

import time

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.errors import ApiError
from gateway.tables import TenantRow

DEMO_TENANTS = {"acme": "ACME Trading Co.", "globex": "Globex Corporation"}


class TenantDirectory:
    """Tenant lookups with a short in-process cache (a new tenant is visible within `ttl`)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, ttl_seconds: float = 10.0) -> None:
        self._sessions = sessions
        self._ttl = ttl_seconds
        self._known: dict[str, float] = {}

    async def exists(self, tenant_id: str) -> bool:
        seen = self._known.get(tenant_id)
        if seen is not None and time.monotonic() - seen < self._ttl:
            return True
        async with self._sessions() as db:
            found = await db.get(TenantRow, tenant_id) is not None
        if found:
            self._known[tenant_id] = time.monotonic()
        return found

    async def require(self, tenant_id: str) -> None:
        if not await self.exists(tenant_id):
            raise ApiError(404, "unknown_tenant", f"tenant '{tenant_id}' does not exist")

    async def ensure(self, tenants: dict[str, str]) -> None:
        """Create the given tenants if missing (idempotent)."""
        async with self._sessions() as db, db.begin():
            existing = set((await db.execute(select(TenantRow.id))).scalars())
            for tenant_id, name in tenants.items():
                if tenant_id not in existing:
                    db.add(TenantRow(id=tenant_id, name=name))

    async def all(self) -> list[TenantRow]:
        async with self._sessions() as db:
            return list((await db.execute(select(TenantRow).order_by(TenantRow.id))).scalars())
