"""A cap on the turns a tenant runs at once, shared by every replica when Redis is configured.

A slot is taken before a turn starts and given back when it ends, however it ends. In Redis the
slots of a tenant are a sorted set of turn ids scored by start time; a slot older than the lease
belonged to a replica that died mid-turn and is reclaimed, so a crash never shrinks the cap.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from typing import Protocol

from redis.asyncio import Redis


class TurnSlots(Protocol):
    async def acquire(self, tenant_id: str, limit: int) -> str | None:
        """A slot id when the tenant runs fewer than `limit` turns, else None."""
        ...

    async def release(self, tenant_id: str, slot: str) -> None: ...

    async def in_use(self, tenant_id: str) -> int: ...


class InProcessTurnSlots:
    """Slots counted in this process (one replica)."""

    def __init__(self, *, lease_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._held: dict[str, dict[str, float]] = {}
        self._lease = lease_seconds
        self._clock = clock
        self._lock = threading.Lock()

    async def acquire(self, tenant_id: str, limit: int) -> str | None:
        with self._lock:
            now = self._clock()
            held = {s: t for s, t in self._held.get(tenant_id, {}).items() if now - t < self._lease}
            if len(held) >= limit:
                self._held[tenant_id] = held
                return None
            slot = uuid.uuid4().hex
            held[slot] = now
            self._held[tenant_id] = held
            return slot

    async def release(self, tenant_id: str, slot: str) -> None:
        with self._lock:
            held = self._held.get(tenant_id)
            if held is not None:
                held.pop(slot, None)
                if not held:
                    del self._held[tenant_id]

    async def in_use(self, tenant_id: str) -> int:
        with self._lock:
            return len(self._held.get(tenant_id, {}))

    def forget_tenant(self, tenant_id: str) -> int:
        """Drop the tenant's slots (tenant deletion); how many were held."""
        with self._lock:
            return len(self._held.pop(tenant_id, {}))


# KEYS[1]: the tenant's slot set. ARGV: slot id, limit, lease seconds.
_ACQUIRE_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local lease = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - lease)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  return 0
end
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('PEXPIRE', KEYS[1], math.ceil(lease * 1000))
return 1
"""


class RedisTurnSlots:
    """Slots in one Redis sorted set per tenant, taken atomically by a Lua script."""

    def __init__(self, redis: Redis, *, prefix: str, lease_seconds: float) -> None:
        self._redis = redis
        self._prefix = prefix
        self._lease = lease_seconds
        self._acquire = redis.register_script(_ACQUIRE_SCRIPT)

    def _key(self, tenant_id: str) -> str:
        return f"{self._prefix}:turns:{{{tenant_id}}}"

    async def acquire(self, tenant_id: str, limit: int) -> str | None:
        slot = uuid.uuid4().hex
        taken = await self._acquire(keys=[self._key(tenant_id)], args=[slot, limit, self._lease])
        return slot if int(taken) == 1 else None

    async def release(self, tenant_id: str, slot: str) -> None:
        await self._redis.zrem(self._key(tenant_id), slot)

    async def in_use(self, tenant_id: str) -> int:
        return int(await self._redis.zcard(self._key(tenant_id)))
