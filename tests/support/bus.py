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
from pathlib import Path

from agentmesh.bus import BusUnavailable, MessageBus
from agentmesh.bus_nats import NatsBus
from agentmesh.bus_sql import SqlBus
from agentmesh.db import create_engine, session_factory, upgrade_database
from tests.conftest import require_backend

NATS_URL = os.environ.get("AGENTMESH_TEST_NATS_URL", "nats://127.0.0.1:4222")
ENGINES = ("sql", "nats")


def unique_prefix() -> str:
    return f"amtest_{uuid.uuid4().hex[:12]}"


@contextlib.asynccontextmanager
async def nats_streams(prefix: str) -> AsyncIterator[None]:
    """Skip (or fail under CI) without NATS; delete the prefix's streams afterwards."""
    try:
        admin = await NatsBus.connect(NATS_URL, prefix=prefix, ack_wait_seconds=30)
    except BusUnavailable as exc:
        require_backend("NATS JetStream", str(exc))
        raise
    try:
        yield
    finally:
        await admin.delete_streams()
        await admin.aclose()


@contextlib.asynccontextmanager
async def open_test_bus(
    engine: str, data_dir: Path, *, ack_wait_seconds: float = 30
) -> AsyncIterator[MessageBus]:
    """A bus of `engine` ("sql" or "nats") of the test's own."""
    if engine == "nats":
        prefix = unique_prefix()
        async with nats_streams(prefix):
            bus = await NatsBus.connect(NATS_URL, prefix=prefix, ack_wait_seconds=ack_wait_seconds)
            try:
                yield bus
            finally:
                await bus.aclose()
        return
    database = create_engine(f"sqlite+aiosqlite:///{data_dir / 'bus.db'}")
    await upgrade_database(database)
    try:
        yield SqlBus(session_factory(database), ack_wait_seconds=ack_wait_seconds)
    finally:
        await database.dispose()
