"""The core's tables: the embedded message bus and durable job records.

The bus tables back `agentmesh.bus_sql` (the default when `AGENTMESH_NATS_URL` is unset): one row
per published message, one per (consumer, message) once a consumer has taken it. Job records
(`agentmesh.job_records`) hold a background job's input, progress and outcome, whichever bus
carries the work, so that any replica can answer for a job and a restarted worker can resume it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from agentmesh.db import Base


class BusMessageRow(Base):
    """One message published on a stream of the embedded bus."""

    __tablename__ = "bus_messages"
    __table_args__ = (
        # Publishing the same message id twice on a stream stores it once (JetStream's Nats-Msg-Id).
        UniqueConstraint("stream", "msg_id", name="uq_bus_messages_stream_msg_id"),
        Index("ix_bus_messages_stream_seq", "stream", "seq"),
    )

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    stream: Mapped[str] = mapped_column(String(16))
    tenant_id: Mapped[str] = mapped_column(String(64), index=True)
    type: Mapped[str] = mapped_column(String(128))
    msg_id: Mapped[str] = mapped_column(String(128))
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    published_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class BusDeliveryRow(Base):
    """Where one consumer stands with one message: taken (leased), acknowledged or dead."""

    __tablename__ = "bus_deliveries"

    consumer: Mapped[str] = mapped_column(String(64), primary_key=True)
    seq: Mapped[int] = mapped_column(
        Integer, ForeignKey("bus_messages.seq", ondelete="CASCADE"), primary_key=True
    )
    # The message's tenant, repeated: tenant deletion and export find these rows by it.
    tenant_id: Mapped[str] = mapped_column(String(64), index=True)
    state: Mapped[str] = mapped_column(String(8))
    attempts: Mapped[int] = mapped_column(Integer)
    # Epoch seconds: compared with the clock in SQL the same way on SQLite and PostgreSQL.
    lease_until: Mapped[float | None] = mapped_column(Float, nullable=True)
    available_at: Mapped[float] = mapped_column(Float)


class JobRow(Base):
    """A background job of a tenant: what to do, how far it got and how it ended."""

    __tablename__ = "jobs"

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    job_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16))
    phase: Mapped[str] = mapped_column(String(32))
    done: Mapped[int] = mapped_column(Integer)
    total: Mapped[int] = mapped_column(Integer)
    progress: Mapped[float] = mapped_column(Float)
    attempts: Mapped[int] = mapped_column(Integer)
    # Bumped each time the job is queued again after it ended: the message id of each run.
    generation: Mapped[int] = mapped_column(Integer)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    # The input bytes, kept until the job ends (a document of up to the upload cap).
    payload: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    error_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)
    finished_at: Mapped[float | None] = mapped_column(Float, nullable=True)
