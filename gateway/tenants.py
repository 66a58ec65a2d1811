"""The tenant directory: which tenants exist, read on every request and therefore cached."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agentmesh.tenant_rows import TenantRows, delete_declared
from gateway.cache import Cache, InProcessCache
from gateway.errors import ApiError
from gateway.tables import TenantRow

DEMO_TENANTS = {"acme": "ACME Trading Co.", "globex": "Globex Corporation"}


class TenantDirectory:
    """Tenant lookups through a cache (in process, or Redis when configured).

    A new tenant is visible at once (misses go to the database); a deleted one is gone for
    every replica as soon as `forget` runs, or within `ttl_seconds` otherwise.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        ttl_seconds: float = 10.0,
        cache: Cache | None = None,
    ) -> None:
        self._sessions = sessions
        self._ttl = ttl_seconds
        self._cache = cache or InProcessCache()

    TENANT_ROWS = (TenantRows("tenants", "id"),)

    @staticmethod
    def _key(tenant_id: str) -> str:
        # The `{tenant}` hash tag: every key of a tenant is found (and deleted) by its tag.
        return f"tenant:{{{tenant_id}}}"

    async def exists(self, tenant_id: str) -> bool:
        if await self._cache.get(self._key(tenant_id)) is not None:
            return True
        async with self._sessions() as db:
            found = await db.get(TenantRow, tenant_id) is not None
        if found:
            await self._cache.set(self._key(tenant_id), "1", self._ttl)
        return found

    async def require(self, tenant_id: str) -> None:
        if not await self.exists(tenant_id):
            raise ApiError("unknown_tenant", f"tenant '{tenant_id}' does not exist")

    async def forget(self, tenant_id: str) -> None:
        """Drop the cached answer for a tenant (after it is deleted or disabled)."""
        await self._cache.forget(self._key(tenant_id))

    async def delete_tenant(self, db: AsyncSession, tenant_id: str) -> dict[str, int]:
        """Delete the tenant's row in `db`'s transaction (`forget` it once committed)."""
        return await delete_declared(db, self.TENANT_ROWS, tenant_id)

    async def ensure(self, tenants: dict[str, str]) -> None:
        """Create the given tenants if missing (idempotent, and safe when replicas start together)."""
        try:
            async with self._sessions() as db, db.begin():
                existing = set((await db.execute(select(TenantRow.id))).scalars())
                for tenant_id, name in tenants.items():
                    if tenant_id not in existing:
                        db.add(TenantRow(id=tenant_id, name=name))
        except IntegrityError:
            # Another replica inserted some of them first; what matters is that all now exist.
            async with self._sessions() as db:
                found = set((await db.execute(select(TenantRow.id))).scalars())
            if missing := set(tenants) - found:
                raise RuntimeError(f"tenants could not be created: {sorted(missing)}") from None

    async def all(self) -> list[TenantRow]:
        async with self._sessions() as db:
            return list((await db.execute(select(TenantRow).order_by(TenantRow.id))).scalars())
