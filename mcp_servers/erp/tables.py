"""The ERP server's platform tables: tool configurations, their change counter, service credentials."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy import DateTime, Integer, String, Text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import Mapped, mapped_column

from agentmesh.db import Base


def utcnow() -> datetime:
    return datetime.now(UTC)


class ErpToolConfigRow(Base):
    """One tool configuration added through the admin API; `tenant_id` NULL means every tenant."""

    __tablename__ = "erp_tool_configs"

    # Tool names are unique across the server: a tool list has one entry per name.
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    config: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ErpCatalogVersionRow(Base):
    """A single row whose `version` grows with every tool-config change; servers poll it."""

    __tablename__ = "erp_tool_catalog_version"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=0)


class ErpServiceCredentialRow(Base):
    """A tenant's credential for its ERP, encrypted with the platform's `SecretBox`."""

    __tablename__ = "erp_service_credentials"

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    ciphertext: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


ERP_TABLES = [
    Base.metadata.tables[row.__tablename__]
    for row in (ErpToolConfigRow, ErpCatalogVersionRow, ErpServiceCredentialRow)
]

CATALOG_VERSION_ID = 1


async def create_erp_tables(engine: AsyncEngine) -> None:
    """Create the ERP tables and the version row if missing (until migrations take this over)."""
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all, tables=ERP_TABLES)
    try:
        async with engine.begin() as conn:
            exists = await conn.scalar(
                sa.select(ErpCatalogVersionRow.id).where(ErpCatalogVersionRow.id == CATALOG_VERSION_ID)
            )
            if exists is None:
                await conn.execute(sa.insert(ErpCatalogVersionRow).values(id=CATALOG_VERSION_ID, version=0))
    except IntegrityError:
        # Another process created the row between our check and insert: it exists, which is all we need.
        return
