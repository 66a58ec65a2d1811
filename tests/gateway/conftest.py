"""Fixtures of the gateway tests: one small real mesh (ERP server + gateway) shared by the session,
and fresh PostgreSQL databases and Redis key prefixes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from redis.asyncio import Redis

from tests.gateway.backends import postgres_database, redis_namespace
from tests.gateway.mesh import Mesh, running_mesh


@pytest.fixture(scope="session")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mesh]:
    """The ERP server (demo ERP inside) and a gateway in front of it, on loopback ports."""
    with running_mesh(tmp_path_factory.mktemp("mesh")) as running:
        yield running


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    """A fresh PostgreSQL database for one test."""
    async with postgres_database() as url:
        yield url


@pytest.fixture
async def redis_prefix() -> AsyncIterator[tuple[Redis, str]]:
    """A Redis client and a key prefix of this test's own."""
    async with redis_namespace() as namespace:
        yield namespace
