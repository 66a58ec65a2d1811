"""The gateway's shared state on the real backends: PostgreSQL for the durable tables, Redis for
rate limits, turn slots, session windows and caches (with the in-process versions beside them).

Each store is also tried across tenants (and users): nothing one writes is visible to another.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncEngine

from agentmesh.db import (
    create_engine,
    current_revision,
    head_revision,
    schema_differences,
    session_factory,
    upgrade_database,
)
from agentmesh.migrations import declared_metadata
from agentmesh.settings import Settings
from gateway.cache import RedisCache
from gateway.errors import ApiError
from gateway.ratelimit import Charge, InProcessRateLimiter, Quota, RateLimiter, RedisRateLimiter
from gateway.sessions import (
    InProcessSessionWindows,
    RedisSessionWindows,
    SessionKey,
    SessionStore,
    StoredMessage,
)
from gateway.tables import ChatMessageRow, TenantRow
from gateway.tenants import TenantDirectory
from gateway.turn_slots import InProcessTurnSlots, RedisTurnSlots, TurnSlots
from tests.gateway.backends import redis_namespace

pytestmark = pytest.mark.backends


@pytest.fixture
async def pg_engine(postgres_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(postgres_url)
    await upgrade_database(engine)
    yield engine
    await engine.dispose()


async def test_migrations_build_the_whole_schema_on_postgresql(postgres_url: str) -> None:
    engines = [create_engine(postgres_url) for _ in range(3)]
    try:
        # Replicas starting together: one migrates under the advisory lock, the others find it done.
        await asyncio.gather(*(upgrade_database(engine) for engine in engines))
        assert await current_revision(engines[0]) == head_revision()
        assert await schema_differences(engines[0], declared_metadata()) == []
    finally:
        for engine in engines:
            await engine.dispose()


async def test_migrations_cover_every_declared_table(settings: Settings) -> None:
    engine = create_engine(settings.resolved_database_url)
    try:
        await upgrade_database(engine)
        differences = await schema_differences(engine, declared_metadata())
        assert differences == [], "a table changed without a migration"
    finally:
        await engine.dispose()


def reply(text: str) -> StoredMessage:
    return StoredMessage(role="assistant", content=text, agent="debt")


async def test_sessions_on_postgresql_belong_to_one_user_of_one_tenant(pg_engine: AsyncEngine) -> None:
    db = session_factory(pg_engine)
    await TenantDirectory(db).ensure({"acme": "Acme", "globex": "Globex"})
    store = SessionStore(db, window=4)
    alice = SessionKey(tenant_id="acme", user_id="alice", session_id="s-1")
    await store.append_turn(
        alice, "How much does 3428557611 owe?", reply("321,330,000 VND"), {"mst": "3428557611"}
    )
    await store.append_turn(alice, "And the overdue part?", reply("99,700,000 VND"), {})

    window = await store.open("acme", "alice", "s-1")
    assert [m.content for m in window.messages][-1] == "99,700,000 VND"
    assert window.memory == {"mst": "3428557611"}
    assert len(await store.transcript(alice)) == 4

    for intruder in (
        SessionKey(tenant_id="acme", user_id="bob", session_id="s-1"),
        SessionKey(tenant_id="globex", user_id="alice", session_id="s-1"),
    ):
        with pytest.raises(ApiError) as refused:
            await store.transcript(intruder)
        assert refused.value.status == 404
        with pytest.raises(ApiError):
            await store.open(intruder.tenant_id, intruder.user_id, "s-1")
        with pytest.raises(ApiError):
            await store.append_turn(intruder, "mine now?", reply("no"), {})
        assert await store.append_answer(intruder, reply("approved: mine now"), {}) is False
        with pytest.raises(ApiError):
            await store.delete(intruder)
    assert len(await store.transcript(alice)) == 4, "the refused writes left nothing behind"

    # A turn resumed after an approval adds its answer alone.
    assert await store.append_answer(alice, reply("Order SO-1 placed"), {"order": "SO-1"}) is True
    assert [m.content for m in await store.transcript(alice)][-2:] == ["99,700,000 VND", "Order SO-1 placed"]
    assert (await store.open("acme", "alice", "s-1")).memory == {"mst": "3428557611", "order": "SO-1"}

    await store.delete(alice)
    with pytest.raises(ApiError):
        await store.transcript(alice)


async def test_concurrent_turns_on_sqlite_are_all_recorded(settings: Settings) -> None:
    engine = create_engine(settings.resolved_database_url)
    await upgrade_database(engine)
    db = session_factory(engine)
    await TenantDirectory(db).ensure({"acme": "Acme"})
    store = SessionStore(db)
    keys = [SessionKey(tenant_id="acme", user_id=f"user-{n}", session_id=f"c-{n}") for n in range(40)]
    try:
        # Many writers at once, each turn one transaction: they queue for SQLite's write lock.
        for round_ in range(3):
            await asyncio.gather(*(store.append_turn(k, f"q{round_}", reply("a"), {}) for k in keys))
        assert [len(await store.transcript(k)) for k in keys] == [6] * len(keys)
    finally:
        await engine.dispose()


async def test_session_windows_in_redis_are_trimmed_expiring_and_per_user(
    redis_prefix: tuple[Redis, str], settings: Settings
) -> None:
    redis, prefix = redis_prefix
    engine = create_engine(settings.resolved_database_url)
    await upgrade_database(engine)
    db = session_factory(engine)
    await TenantDirectory(db).ensure({"acme": "Acme"})
    windows = RedisSessionWindows(redis, prefix=prefix, window=4, ttl_seconds=300)
    store = SessionStore(db, window=4, windows=windows)
    alice = SessionKey(tenant_id="acme", user_id="alice", session_id="w-1")
    try:
        for n in range(3):
            await store.append_turn(alice, f"question {n}", reply(f"answer {n}"), {"turn": n})

        cached = await windows.load(alice)
        assert cached is not None
        assert [m.content for m in cached.messages] == ["question 1", "answer 1", "question 2", "answer 2"]
        assert cached.memory == {"turn": 2}
        ttls = [await redis.ttl(key) async for key in redis.scan_iter(match=f"{prefix}:session:*")]
        assert len(ttls) == 2 and all(0 < ttl <= 300 for ttl in ttls)

        # The window is read from Redis: it answers even with the SQL rows gone.
        async with db() as session, session.begin():
            await session.execute(delete(ChatMessageRow).where(ChatMessageRow.session_id == "w-1"))
        assert len((await store.open("acme", "alice", "w-1")).messages) == 4

        assert await windows.load(SessionKey(tenant_id="acme", user_id="bob", session_id="w-1")) is None
        assert await windows.load(SessionKey(tenant_id="globex", user_id="alice", session_id="w-1")) is None
        with pytest.raises(ApiError):
            await store.open("acme", "bob", "w-1")  # falls through to SQL, which says: not bob's
    finally:
        await engine.dispose()


async def test_in_process_windows_are_trimmed_expiring_and_per_user(settings: Settings) -> None:
    clock = [0.0]
    windows = InProcessSessionWindows(window=4, ttl_seconds=60, max_sessions=2, clock=lambda: clock[0])
    alice = SessionKey(tenant_id="acme", user_id="alice", session_id="p-1")
    for n in range(3):
        await windows.store(
            alice, [StoredMessage(role="user", content=f"q{n}"), reply(f"a{n}")], {"n": n}, replace=False
        )
    window = await windows.load(alice)
    assert window is not None
    assert [m.content for m in window.messages] == ["q1", "a1", "q2", "a2"]
    assert window.memory == {"n": 2}
    assert await windows.load(SessionKey(tenant_id="acme", user_id="bob", session_id="p-1")) is None
    assert await windows.load(SessionKey(tenant_id="globex", user_id="alice", session_id="p-1")) is None

    for n in range(2):  # two more sessions: the least recently used one is evicted
        await windows.store(
            SessionKey(tenant_id="acme", user_id="alice", session_id=f"o-{n}"), [], {}, replace=True
        )
    assert await windows.load(alice) is None

    await windows.store(alice, [reply("again")], {}, replace=True)
    clock[0] += 61
    assert await windows.load(alice) is None, "expired after the session TTL"


async def test_a_lost_window_is_rebuilt_from_the_transcript(
    redis_prefix: tuple[Redis, str], settings: Settings
) -> None:
    redis, prefix = redis_prefix
    engine = create_engine(settings.resolved_database_url)
    await upgrade_database(engine)
    db = session_factory(engine)
    await TenantDirectory(db).ensure({"acme": "Acme"})
    windows = RedisSessionWindows(redis, prefix=prefix, window=10, ttl_seconds=300)
    store = SessionStore(db, window=10, windows=windows)
    key = SessionKey(tenant_id="acme", user_id="alice", session_id="w-2")
    try:
        await store.append_turn(key, "hello", reply("hi"), {"mst": "3190048330"})
        await windows.forget(key)  # expired, or Redis restarted
        window = await store.open("acme", "alice", "w-2")
        assert [m.content for m in window.messages] == ["hello", "hi"]
        assert window.memory == {"mst": "3190048330"}
        assert await windows.load(key) is not None, "and put back in Redis"
    finally:
        await engine.dispose()


@pytest.fixture(params=["in-process", "redis"])
async def limiter(request: pytest.FixtureRequest) -> AsyncIterator[RateLimiter]:
    if request.param == "in-process":
        yield InProcessRateLimiter()
        return
    async with redis_namespace() as (redis, prefix):
        yield RedisRateLimiter(redis, prefix=prefix)


async def test_gcra_admits_exactly_the_burst_then_refuses(limiter: RateLimiter) -> None:
    quota = Quota(name="tenant-requests", limit=20, period_seconds=60)
    decisions = [await limiter.hit("{acme}:requests", quota) for _ in range(25)]
    assert [d.allowed for d in decisions] == [True] * 20 + [False] * 5
    assert [d.remaining for d in decisions[:3]] == [19, 18, 17]
    refused = decisions[-1]
    assert 0 < refused.retry_after_seconds <= 3.0 + 0.01  # one emission interval
    assert refused.headers()["Retry-After"] == "3"


async def test_one_tenant_exhausting_its_quota_leaves_another_untouched(limiter: RateLimiter) -> None:
    quota = Quota(limit=3)
    for _ in range(5):
        await limiter.hit("{acme}:requests", quota)
    assert (await limiter.hit("{globex}:requests", quota)).allowed
    assert (await limiter.hit("{acme}:user:alice:requests", quota)).allowed


async def test_several_quotas_admit_a_request_together_or_not_at_all(limiter: RateLimiter) -> None:
    tenant = Charge(key="{acme}:requests", quota=Quota(name="tenant", limit=10))
    user = Charge(key="{acme}:user:alice:requests", quota=Quota(name="user", limit=2))
    for _ in range(2):
        assert all(d.allowed for d in await limiter.hit_all([tenant, user]))
    refused = await limiter.hit_all([tenant, user])
    assert [d.allowed for d in refused] == [True, False]
    # The refused request cost the tenant nothing: 8 of its 10 remain for other users.
    other = Charge(key="{acme}:user:bob:requests", quota=Quota(name="user", limit=100))
    admitted = [all(d.allowed for d in await limiter.hit_all([tenant, other])) for _ in range(9)]
    assert admitted == [True] * 8 + [False]


async def test_tokens_charged_after_a_turn_hold_back_the_next_request(limiter: RateLimiter) -> None:
    tokens = Quota(name="tenant-tokens", limit=1000, period_seconds=60)
    check = [Charge(key="{acme}:tokens", quota=tokens, cost=0)]
    assert (await limiter.hit_all(check))[0].allowed
    await limiter.charge("{acme}:tokens", tokens, 2500)  # one expensive turn overdraws the minute
    refused = (await limiter.hit_all(check))[0]
    assert not refused.allowed
    assert 85 < refused.retry_after_seconds <= 90.1  # 1500 tokens of debt at 1000 per minute
    assert (await limiter.hit_all([Charge(key="{globex}:tokens", quota=tokens, cost=0)]))[0].allowed


@pytest.fixture(params=["in-process", "redis"])
async def slots(request: pytest.FixtureRequest) -> AsyncIterator[TurnSlots]:
    if request.param == "in-process":
        yield InProcessTurnSlots(lease_seconds=1.0)
        return
    async with redis_namespace() as (redis, prefix):
        yield RedisTurnSlots(redis, prefix=prefix, lease_seconds=1.0)


async def test_turn_slots_cap_each_tenant_and_come_back(slots: TurnSlots) -> None:
    first, second, third = [await slots.acquire("acme", 2) for _ in range(3)]
    assert first and second and third is None
    assert await slots.acquire("globex", 2) is not None, "another tenant has its own slots"
    assert await slots.in_use("acme") == 2
    await slots.release("acme", first)
    assert await slots.acquire("acme", 2) is not None


async def test_a_slot_lost_with_its_replica_is_reclaimed_after_the_lease(slots: TurnSlots) -> None:
    assert await slots.acquire("acme", 1) is not None  # never released: its replica died
    assert await slots.acquire("acme", 1) is None
    await asyncio.sleep(1.1)
    assert await slots.acquire("acme", 1) is not None


async def test_a_tenant_forgotten_on_one_replica_is_forgotten_on_all(
    redis_prefix: tuple[Redis, str], settings: Settings
) -> None:
    redis, prefix = redis_prefix
    engine = create_engine(settings.resolved_database_url)
    await upgrade_database(engine)
    db = session_factory(engine)
    try:
        replica_a = TenantDirectory(db, cache=RedisCache(redis, prefix=prefix), ttl_seconds=300)
        replica_b = TenantDirectory(db, cache=RedisCache(redis, prefix=prefix), ttl_seconds=300)
        await replica_a.ensure({"initech": "Initech"})
        assert await replica_a.exists("initech") and await replica_b.exists("initech")
        assert not await replica_b.exists("globex"), "unknown tenants are never cached as existing"

        async with db() as session, session.begin():
            await session.delete(await session.get(TenantRow, "initech"))
        assert await replica_b.exists("initech"), "still cached"
        await replica_a.forget("initech")
        started = time.monotonic()
        assert not await replica_b.exists("initech")
        assert time.monotonic() - started < 1
    finally:
        await engine.dispose()
