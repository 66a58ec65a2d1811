"""Two gateway processes on one Redis enforce one tenant's limit together, as exactly as one would.

Both replicas share PostgreSQL and Redis; requests alternate between them as fast as the client
can send. Every admitted request is charged in Redis by one Lua script on Redis's clock, so the
two processes together admit the tenant's allowance (plus what the allowance refills while the
burst lasts), within 1%.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx
import pytest

from agentmesh.db import create_engine, session_factory, upgrade_database
from agentmesh.dev_tokens import issue_dev_token
from agentmesh.settings import load_settings
from gateway.tenants import TenantDirectory
from tests.gateway.backends import REDIS_URL, postgres_database, redis_namespace
from tests.support.processes import free_port, stop, wait_healthy

pytestmark = [pytest.mark.backends, pytest.mark.slow]

LIMIT_PER_MINUTE = 300
REQUESTS = 600
CONCURRENCY = 48


async def prepare_database(url: str) -> None:
    engine = create_engine(url)
    try:
        await upgrade_database(engine)
        await TenantDirectory(session_factory(engine)).ensure({"initech": "Initech"})
    finally:
        await engine.dispose()


def start_gateway(env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "agentmesh.cli", "gateway", "--port", str(port), "--no-demo"], env=env
    )
    return process, f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def replicas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[list[str], Path]]:
    data_dir = tmp_path_factory.mktemp("replicas")

    with anyio.from_thread.start_blocking_portal() as portal:
        database = portal.wrap_async_context_manager(postgres_database())
        namespace = portal.wrap_async_context_manager(redis_namespace())
        with database as database_url, namespace as (_, prefix):
            portal.call(prepare_database, database_url)
            env = {
                **os.environ,
                "AGENTMESH_DATA_DIR": str(data_dir),
                "DATABASE_URL": database_url,
                "REDIS_URL": REDIS_URL,
                "AGENTMESH_REDIS_PREFIX": prefix,
                "AGENTMESH_RATE_LIMIT_RPM": str(LIMIT_PER_MINUTE),
                "AGENTMESH_USER_RATE_LIMIT_RPM": "100000",
                "AGENTMESH_LOG_LEVEL": "WARNING",
            }
            started = [start_gateway(env) for _ in range(2)]
            try:
                for process, url in started:
                    wait_healthy(f"{url}/healthz", process, timeout=120)
                yield [url for _, url in started], data_dir
            finally:
                for process, _ in started:
                    stop(process)


async def burst(urls: list[str], token: str) -> tuple[Counter[tuple[int, int]], float, list[httpx.Response]]:
    """`REQUESTS` requests alternating between the replicas; (replica, status) counts and duration."""
    statuses: Counter[tuple[int, int]] = Counter()
    refusals: list[httpx.Response] = []
    semaphore = asyncio.Semaphore(CONCURRENCY)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)

    async with httpx.AsyncClient(timeout=30, limits=limits) as client:

        async def one(n: int) -> None:
            replica = n % len(urls)
            async with semaphore:
                # An unparseable body: admitted requests answer 400 right after the limiter, cheaply.
                response = await client.post(
                    f"{urls[replica]}/api/initech/chat", content=b"{", headers=headers
                )
            statuses[(replica, response.status_code)] += 1
            if response.status_code == 429:
                refusals.append(response)

        started = time.monotonic()
        await asyncio.gather(*(one(n) for n in range(REQUESTS)))
        return statuses, time.monotonic() - started, refusals


def test_two_replicas_admit_the_tenants_allowance_within_one_percent(
    replicas: tuple[list[str], Path],
) -> None:
    urls, data_dir = replicas
    token = issue_dev_token(load_settings(AGENTMESH_DATA_DIR=data_dir), tenant_id="initech", user="load")
    statuses, elapsed, refusals = anyio.run(burst, urls, token)

    admitted = sum(n for (_, status), n in statuses.items() if status == 400)
    refused = sum(n for (_, status), n in statuses.items() if status == 429)
    assert admitted + refused == REQUESTS, statuses
    assert all(statuses[(replica, 400)] > 0 for replica in range(2)), "both replicas admitted requests"

    refill = elapsed * LIMIT_PER_MINUTE / 60  # what the allowance earns back while the burst lasts
    print(
        f"\nadmitted {admitted} of {REQUESTS} in {elapsed:.2f} s: {LIMIT_PER_MINUTE} + {refill:.1f} refilled"
    )
    assert admitted >= LIMIT_PER_MINUTE * 0.99
    assert admitted <= (LIMIT_PER_MINUTE + refill) * 1.01 + 1
    assert (admitted - LIMIT_PER_MINUTE) / LIMIT_PER_MINUTE <= refill / LIMIT_PER_MINUTE + 0.01

    refusal = refusals[0]
    assert int(refusal.headers["Retry-After"]) >= 1
    assert '"tenant-requests";q=300;w=60' in refusal.headers["RateLimit-Policy"]
    assert refusal.json()["error"]["details"]["quota"] == "tenant-requests"
