"""Tables owned by the agent host: agents, tenant LLM settings, tool pins, pending approvals.

`host_config_versions` holds one counter per kind of configuration; every write bumps its counter
in the same transaction, so each host replica learns of a change with one small read per turn.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from agentmesh.db import Base

PLATFORM_OWNER = ""
"""`owner` of rows that belong to the platform rather than to one tenant."""


class ConfigVersionRow(Base):
    """A counter per configuration kind (`agents`, `llm`, `pins`), bumped by every write."""

    __tablename__ = "host_config_versions"

    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=0)


class AgentRow(Base):
    """One agent's configuration; `owner` is a tenant id, or empty for a platform agent."""

    __tablename__ = "host_agents"

    owner: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class LlmConfigRow(Base):
    """A tenant's model provider settings; the API key only as a Fernet ciphertext."""

    __tablename__ = "host_llm_configs"

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    provider: Mapped[str] = mapped_column(String(32))
    model: Mapped[str] = mapped_column(String(200))
    api_key_sealed: Mapped[str] = mapped_column(Text)
    key_hint: Mapped[str] = mapped_column(String(16))
    base_url: Mapped[str | None] = mapped_column(String(500), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ToolPinRow(Base):
    """The accepted definition hash of one server's tool, and a changed one awaiting acceptance."""

    __tablename__ = "host_tool_pins"

    server: Mapped[str] = mapped_column(String(64), primary_key=True)
    tool: Mapped[str] = mapped_column(String(128), primary_key=True)
    owner: Mapped[str] = mapped_column(String(64), default=PLATFORM_OWNER)
    accepted_hash: Mapped[str] = mapped_column(String(64))
    accepted_definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    pending_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    pending_definition: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    first_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    changed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    accepted_by: Mapped[str | None] = mapped_column(String(256), nullable=True)
    accepted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class PendingApprovalRow(Base):
    """A turn paused on tool calls that need a person's approval, with all it needs to resume."""

    __tablename__ = "host_pending_approvals"
    __table_args__ = (Index("ix_host_pending_approvals_tenant_status", "tenant_id", "status"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(256))
    session_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    agent: Mapped[str] = mapped_column(String(40))
    tools: Mapped[list[str]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    resolved_by: Mapped[str | None] = mapped_column(String(256), nullable=True)
    state: Mapped[dict[str, Any]] = mapped_column(JSON)
