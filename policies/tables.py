"""Tables owned by the policy package: the audit log and the policy overrides set at run time."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from agentmesh.db import Base


class AuditEventRow(Base):
    """One append-only audit record: never updated, deleted only with its tenant."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_tenant_id_id", "tenant_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    tenant_id: Mapped[str] = mapped_column(String(64))
    principal: Mapped[str] = mapped_column(String(256))
    action: Mapped[str] = mapped_column(String(64))
    resource: Mapped[str] = mapped_column(String(256))
    effect: Mapped[str] = mapped_column(String(32))
    rule: Mapped[str] = mapped_column(String(256))
    arguments_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class PolicyOverrideRow(Base):
    """A tenant's policy as set through the admin API: the sections it sets replace the file's."""

    __tablename__ = "policy_overrides"

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    version: Mapped[int] = mapped_column(Integer, doc="the override version this write produced")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_by: Mapped[str] = mapped_column(String(256))


class PolicyOverrideVersionRow(Base):
    """One row counting writes to `policy_overrides`, so replicas notice a change with one read."""

    __tablename__ = "policy_override_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
