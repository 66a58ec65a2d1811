"""Short-lived lookups shared by the gateway's requests: in process, or in Redis for all replicas.

Values are strings with a time to live. In Redis, a `forget` on one replica is seen by all of
them at once (an admin deleting a tenant), which an in-process cache only reaches on expiry.
"""

from __future__ import annotations

from typing import Protocol

from redis.asyncio import Redis

from agentmesh.expiring_cache import InProcessCache

__all__ = ["Cache", "InProcessCache", "RedisCache"]


class Cache(Protocol):
    async def get(self, key: str) -> str | None: ...

    async def set(self, key: str, value: str, ttl_seconds: float) -> None: ...

    async def forget(self, key: str) -> None: ...


class RedisCache:
    """Entries under `{prefix}:cache:` with Redis expiry."""

    def __init__(self, redis: Redis, *, prefix: str) -> None:
        self._redis = redis
        self._prefix = f"{prefix}:cache:"

    async def get(self, key: str) -> str | None:
        value = await self._redis.get(self._prefix + key)
        return None if value is None else str(value)

    async def set(self, key: str, value: str, ttl_seconds: float) -> None:
        await self._redis.set(self._prefix + key, value, px=max(1, int(ttl_seconds * 1000)))

    async def forget(self, key: str) -> None:
        await self._redis.delete(self._prefix + key)
