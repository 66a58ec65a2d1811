"""Tenants' ERP service credentials, encrypted at rest and opened only for the requests that need them.

A process keeps what it opened for `CACHE_SECONDS`: every call of a `service` tool needs its
tenant's credential, and a database read plus a decryption per call cost the ERP server about a
millisecond each time. A change made through this store is seen at once; one made by another
process (the gateway's admin API) reaches this one within `CACHE_SECONDS`.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agentmesh.expiring_cache import InProcessCache
from agentmesh.secrets import SecretBox
from agentmesh.tenant_rows import TenantRows, delete_declared
from mcp_servers.erp.tables import ErpServiceCredentialRow, utcnow

CACHE_SECONDS = 30.0
"""How long a process keeps a credential it opened (see the module's docstring)."""


class ServiceCredentialStore:
    """Per-tenant named secrets (an API key, a token) for `service` auth; rows hold ciphertext only."""

    TENANT_ROWS = (TenantRows("erp_service_credentials", secrets=("ciphertext",)),)

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        box: SecretBox,
        *,
        opened: InProcessCache | None = None,
    ) -> None:
        self._sessions = sessions
        self._box = box
        self._opened = opened or InProcessCache(max_entries=4096)

    async def delete_tenant(self, db: AsyncSession, tenant_id: str) -> dict[str, int]:
        """Delete the tenant's rows in `db`'s transaction (tenant deletion)."""
        self._opened.forget_containing(_tenant_tag(tenant_id))
        return await delete_declared(db, self.TENANT_ROWS, tenant_id)

    async def put(self, tenant_id: str, name: str, secret: str) -> None:
        """Store or replace the tenant's credential `name`."""
        if not secret:
            raise ValueError("a service credential cannot be empty")
        sealed = self._box.seal(secret)
        async with self._sessions.begin() as session:
            row = await session.get(ErpServiceCredentialRow, (tenant_id, name))
            if row is None:
                session.add(ErpServiceCredentialRow(tenant_id=tenant_id, name=name, ciphertext=sealed))
            else:
                row.ciphertext = sealed
                row.updated_at = utcnow()
        await self._opened.forget(_key(tenant_id, name))

    async def reveal(self, tenant_id: str, name: str) -> str | None:
        """The plaintext of the tenant's credential `name`, or None when the tenant has none."""
        key = _key(tenant_id, name)
        opened = await self._opened.get(key)
        if opened is not None:
            return opened
        async with self._sessions() as session:
            row = await session.get(ErpServiceCredentialRow, (tenant_id, name))
        if row is None:
            return None  # not remembered: a credential added elsewhere works on the next call
        secret = self._box.open(row.ciphertext)
        await self._opened.set(key, secret, CACHE_SECONDS)
        return secret

    async def names(self, tenant_id: str) -> list[str]:
        """The names of the tenant's credentials (never their values)."""
        async with self._sessions() as session:
            result = await session.scalars(
                sa.select(ErpServiceCredentialRow.name)
                .where(ErpServiceCredentialRow.tenant_id == tenant_id)
                .order_by(ErpServiceCredentialRow.name)
            )
            return list(result)

    async def delete(self, tenant_id: str, name: str) -> bool:
        """Remove the tenant's credential `name`; returns whether it existed."""
        async with self._sessions.begin() as session:
            result = await session.execute(
                sa.delete(ErpServiceCredentialRow).where(
                    ErpServiceCredentialRow.tenant_id == tenant_id, ErpServiceCredentialRow.name == name
                )
            )
        await self._opened.forget(_key(tenant_id, name))
        return bool(result.rowcount)  # type: ignore[attr-defined]


def _tenant_tag(tenant_id: str) -> str:
    return f"\x00{tenant_id}\x00"


def _key(tenant_id: str, name: str) -> str:
    return f"{_tenant_tag(tenant_id)}{name}"
