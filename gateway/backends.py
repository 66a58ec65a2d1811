"""Where the gateway keeps shared state: in this process by default, in Redis when `REDIS_URL` is set.

Rate limits, turn slots, session windows, session events and lookup caches move together; the code using them
is the same either way.
"""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis

from agentmesh.settings import Settings
from gateway.cache import Cache, InProcessCache, RedisCache
from gateway.ratelimit import InProcessRateLimiter, RateLimiter, RedisRateLimiter
from gateway.session_events import InProcessSessionEvents, RedisSessionEvents, SessionEvents
from gateway.sessions import InProcessSessionWindows, RedisSessionWindows, SessionWindows
from gateway.turn_slots import InProcessTurnSlots, RedisTurnSlots, TurnSlots


def tenant_tag(tenant_id: str) -> str:
    """The Redis Cluster hash tag in every key of a tenant (`{acme}`): one slot per tenant's keys,
    and one pattern that finds them all."""
    return f"{{{tenant_id}}}"


_GLOB_SPECIAL = str.maketrans({char: f"\\{char}" for char in "*?[]^\\"})


@dataclass
class Backends:
    redis: Redis | None
    limiter: RateLimiter
    slots: TurnSlots
    cache: Cache
    windows: SessionWindows
    session_events: SessionEvents
    prefix: str = "agentmesh"

    async def aclose(self) -> None:
        if self.redis is not None:
            await self.redis.aclose()

    async def forget_tenant(self, tenant_id: str) -> int:
        """Delete every key of the tenant (rate limits, turn slots, session windows, caches); how many.

        On Redis: every key under the prefix holding the tenant's hash tag, found with SCAN (never
        KEYS) and removed with UNLINK. In process: the same state in this replica's memory.
        """
        tag = tenant_tag(tenant_id)
        if self.redis is None:
            assert isinstance(self.limiter, InProcessRateLimiter)
            assert isinstance(self.slots, InProcessTurnSlots)
            assert isinstance(self.cache, InProcessCache)
            assert isinstance(self.windows, InProcessSessionWindows)
            return (
                self.limiter.forget_keys(f"{tag}:")
                + self.slots.forget_tenant(tenant_id)
                + self.cache.forget_containing(tag)
                + self.windows.forget_tenant(tenant_id)
            )
        pattern = f"{self.prefix.translate(_GLOB_SPECIAL)}:*{tag.translate(_GLOB_SPECIAL)}*"
        removed = 0
        batch: list[str] = []
        async for key in self.redis.scan_iter(match=pattern, count=500):
            batch.append(key)
            if len(batch) >= 500:
                removed += await self.redis.unlink(*batch)
                batch = []
        if batch:
            removed += await self.redis.unlink(*batch)
        return removed


async def open_backends(settings: Settings) -> Backends:
    """The in-process backends, or Redis ones (checked with a PING so a bad URL fails at start)."""
    if not settings.redis_url:
        return Backends(
            redis=None,
            limiter=InProcessRateLimiter(),
            slots=InProcessTurnSlots(lease_seconds=settings.turn_lease_seconds),
            cache=InProcessCache(),
            windows=InProcessSessionWindows(
                window=settings.session_window_messages, ttl_seconds=settings.session_ttl_seconds
            ),
            session_events=InProcessSessionEvents(),
        )
    redis = Redis.from_url(settings.redis_url, decode_responses=True, health_check_interval=30)
    try:
        await redis.ping()
    except Exception:
        await redis.aclose()
        raise
    prefix = settings.redis_key_prefix
    return Backends(
        prefix=prefix,
        redis=redis,
        limiter=RedisRateLimiter(redis, prefix=prefix),
        slots=RedisTurnSlots(redis, prefix=prefix, lease_seconds=settings.turn_lease_seconds),
        cache=RedisCache(redis, prefix=prefix),
        windows=RedisSessionWindows(
            redis,
            prefix=prefix,
            window=settings.session_window_messages,
            ttl_seconds=settings.session_ttl_seconds,
        ),
        session_events=RedisSessionEvents(redis, prefix=prefix),
    )
