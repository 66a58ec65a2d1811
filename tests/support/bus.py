"""The message bus for tests: the embedded queue on a fresh database, or the real NATS server.

NATS streams get a prefix of the test's own (`AGENTMESH_BUS_PREFIX`) and are deleted afterwards;
without a NATS server the NATS tests skip with the reason, except under `CI=true`, where a
missing NATS fails them.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from agentmesh.bus import BusMessage, BusUnavailable, MessageBus
from agentmesh.bus_nats import NatsBus
from agentmesh.bus_sql import SqlBus
from agentmesh.db import create_engine, session_factory, upgrade_database
from tests.conftest import require_backend

NATS_URL = os.environ.get("AGENTMESH_TEST_NATS_URL", "nats://127.0.0.1:4222")
ENGINES = ("sql", "nats")


def unique_prefix() -> str:
    return f"amtest_{uuid.uuid4().hex[:12]}"


@dataclass(frozen=True)
class BusPlace:
    """Where a test's bus lives: processes opening it there share its streams."""

    engine: str
    database_url: str
    prefix: str

    @property
    def env(self) -> dict[str, str]:
        """The settings that put a process (a mesh, a server) on this bus."""
        if self.engine == "nats":
            return {"AGENTMESH_NATS_URL": NATS_URL, "AGENTMESH_BUS_PREFIX": self.prefix}
        return {}

    @contextlib.asynccontextmanager
    async def open(self, *, ack_wait_seconds: float = 30) -> AsyncIterator[MessageBus]:
        if self.engine == "nats":
            bus: MessageBus = await NatsBus.connect(
                NATS_URL, prefix=self.prefix, ack_wait_seconds=ack_wait_seconds
            )
            try:
                yield bus
            finally:
                await bus.aclose()
            return
        database = create_engine(self.database_url)
        try:
            yield SqlBus(session_factory(database), ack_wait_seconds=ack_wait_seconds)
        finally:
            await database.dispose()


@contextlib.asynccontextmanager
async def bus_place(engine: str, data_dir: Path) -> AsyncIterator[BusPlace]:
    """A bus of `engine` ("sql" or "nats") of the test's own: the database in `data_dir` (migrated),
    and for NATS streams under a fresh prefix, deleted afterwards."""
    database_url = f"sqlite+aiosqlite:///{data_dir / 'agentmesh.db'}"
    database = create_engine(database_url)
    await upgrade_database(database)
    await database.dispose()
    place = BusPlace(engine, database_url, unique_prefix())
    if engine == "sql":
        yield place
        return
    try:
        admin = await NatsBus.connect(NATS_URL, prefix=place.prefix, ack_wait_seconds=30)
    except BusUnavailable as exc:
        require_backend("NATS JetStream", str(exc))
        raise
    try:
        yield place
    finally:
        await admin.delete_streams()
        await admin.aclose()


@contextlib.asynccontextmanager
async def open_test_bus(
    engine: str, data_dir: Path, *, ack_wait_seconds: float = 30
) -> AsyncIterator[MessageBus]:
    """A bus of `engine` of the test's own, opened."""
    async with bus_place(engine, data_dir) as place, place.open(ack_wait_seconds=ack_wait_seconds) as bus:
        yield bus


async def drain(bus: MessageBus, name: str, tenant_id: str | None, *, wait: float = 0.5) -> list[BusMessage]:
    """Every event the consumer `name` has not yet seen, acknowledged."""
    consumer = await bus.consumer(name, "events", tenant_id=tenant_id)
    seen = []
    while (delivery := await consumer.next(wait)) is not None:
        seen.append(delivery.message)
        await delivery.ack()
    return seen
