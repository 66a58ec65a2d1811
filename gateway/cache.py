"""Short-lived lookups shared by the gateway's requests: in process, or in Redis for all replicas.

Values are strings with a time to live. In Redis, a `forget` on one replica is seen by all of
them at once (an admin deleting a tenant), which an in-process cache only reaches on expiry.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol

from redis.asyncio import Redis


class Cache(Protocol):
    async def get(self, key: str) -> str | None: ...

    async def set(self, key: str, value: str, ttl_seconds: float) -> None: ...

    async def forget(self, key: str) -> None: ...


class InProcessCache:
    """A bounded LRU dictionary with expiry times."""

    def __init__(self, *, max_entries: int = 10_000, clock: Callable[[], float] = time.monotonic) -> None:
        self._entries: OrderedDict[str, tuple[float, str]] = OrderedDict()
        self._max_entries = max_entries
        self._clock = clock

    async def get(self, key: str) -> str | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires, value = entry
        if self._clock() >= expires:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return value

    async def set(self, key: str, value: str, ttl_seconds: float) -> None:
        self._entries[key] = (self._clock() + ttl_seconds, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    async def forget(self, key: str) -> None:
        self._entries.pop(key, None)

    def forget_containing(self, tag: str) -> int:
        """Drop every entry whose key holds `tag` (a deleted tenant's `{tenant}`); how many."""
        gone = [key for key in self._entries if tag in key]
        for key in gone:
            del self._entries[key]
        return len(gone)


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
