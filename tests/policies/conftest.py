"""A fresh SQLite database with the policy tables, for the store and refresh tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from agentmesh.db import Base, create_engine, session_factory
from agentmesh.settings import Settings
from policies.tables import AuditEventRow, PolicyOverrideRow, PolicyOverrideVersionRow


@pytest.fixture
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(settings.resolved_database_url)
    tables = [
        Base.metadata.tables[row.__tablename__]
        for row in (AuditEventRow, PolicyOverrideRow, PolicyOverrideVersionRow)
    ]
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all, tables=tables)
    yield engine
    await engine.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return session_factory(engine)
