"""The ERP server's platform tables: tool configurations, their change counter, service credentials."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import DateTime, Integer, String, Text
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


CATALOG_VERSION_ID = 1
"""The id of the one `erp_tool_catalog_version` row (the migrations create it)."""
