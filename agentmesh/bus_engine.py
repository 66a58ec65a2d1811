"""Which engine carries the bus: the URL decides, and nothing above the bus knows which it is."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agentmesh.bus import MessageBus
from agentmesh.settings import Settings


async def open_bus(settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> MessageBus:
    """NATS JetStream when `AGENTMESH_NATS_URL` is set, else the platform database's queue.

    NATS is imported only when configured: the embedded default starts without it."""
    if settings.nats_url:
        from agentmesh.bus_nats import NatsBus

        return await NatsBus.connect(
            settings.nats_url, prefix=settings.bus_prefix, ack_wait_seconds=settings.bus_ack_wait_seconds
        )
    from agentmesh.bus_sql import SqlBus

    return SqlBus(sessions, ack_wait_seconds=settings.bus_ack_wait_seconds)
