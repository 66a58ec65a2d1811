"""Tenants' ERP service credentials, encrypted at rest and opened only for the request that needs them."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agentmesh.secrets import SecretBox
from agentmesh.tenant_rows import TenantRows, delete_declared
from mcp_servers.erp.tables import ErpServiceCredentialRow, utcnow


class ServiceCredentialStore:
    """Per-tenant named secrets (an API key, a token) for `service` auth; rows hold ciphertext only."""

    TENANT_ROWS = (TenantRows("erp_service_credentials", secrets=("ciphertext",)),)

    def __init__(self, sessions: async_sessionmaker[AsyncSession], box: SecretBox) -> None:
        self._sessions = sessions
        self._box = box

    async def delete_tenant(self, db: AsyncSession, tenant_id: str) -> dict[str, int]:
        """Delete the tenant's rows in `db`'s transaction (tenant deletion)."""
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

    async def reveal(self, tenant_id: str, name: str) -> str | None:
        """The plaintext of the tenant's credential `name`, or None when the tenant has none."""
        async with self._sessions() as session:
            row = await session.get(ErpServiceCredentialRow, (tenant_id, name))
        return None if row is None else self._box.open(row.ciphertext)

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
            return bool(result.rowcount)  # type: ignore[attr-defined]
