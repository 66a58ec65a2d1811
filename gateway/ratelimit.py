"""Rate limits with GCRA (the generic cell rate algorithm), in process or atomically in Redis.

GCRA keeps one timestamp per key, the theoretical arrival time (TAT), and admits a request when
it would not push the TAT more than the burst tolerance ahead of now. It is exact, needs no
background refill, and has the same arithmetic in process and in the Redis script below: both
implement `gcra`, and a request checked against several quotas (tenant and user) is admitted by
all of them or charged to none.

Token quotas are checked before a turn with cost 0 (is any allowance left?) and charged after it
with the tokens the turn really used (`charge`), which may overdraw the allowance; the next
request then waits until it is paid back.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence
from typing import Protocol

from pydantic import BaseModel
from redis.asyncio import Redis


class Quota(BaseModel):
    """`limit` units per `period_seconds`, all of which may arrive at once."""

    name: str = "default"
    limit: int
    period_seconds: float = 60.0

    @property
    def emission_interval(self) -> float:
        return self.period_seconds / self.limit

    @property
    def burst_tolerance(self) -> float:
        return self.emission_interval * (self.limit - 1)


class RateDecision(BaseModel):
    """One quota's answer: allowed or not, what is left, and when to come back."""

    quota: str = "default"
    allowed: bool
    limit: int
    period_seconds: float = 60.0
    remaining: int
    retry_after_seconds: float
    reset_seconds: float

    def headers(self, policy_name: str | None = None, period_seconds: float | None = None) -> dict[str, str]:
        """`RateLimit-Policy` and `RateLimit` (IETF draft), and `Retry-After` when refused."""
        name = policy_name or self.quota
        window = int(period_seconds if period_seconds is not None else self.period_seconds)
        headers = {
            "RateLimit-Policy": f'"{name}";q={self.limit};w={window}',
            "RateLimit": f'"{name}";r={self.remaining};t={math.ceil(self.reset_seconds)}',
        }
        if not self.allowed:
            headers["Retry-After"] = str(max(1, math.ceil(self.retry_after_seconds)))
        return headers


class Charge(BaseModel):
    """One key checked against one quota at a cost."""

    key: str
    quota: Quota
    cost: int = 1


def gcra(tat: float, now: float, quota: Quota, cost: int = 1) -> tuple[RateDecision, float]:
    """One GCRA step: the decision and the new TAT (unchanged when refused)."""
    interval = quota.emission_interval
    new_tat = max(tat, now) + interval * cost
    allow_at = new_tat - quota.burst_tolerance - interval
    if now < allow_at:
        refused = RateDecision(
            quota=quota.name,
            allowed=False,
            limit=quota.limit,
            period_seconds=quota.period_seconds,
            remaining=0,
            retry_after_seconds=allow_at - now,
            reset_seconds=max(0.0, tat - now),
        )
        return refused, tat
    remaining = math.floor((quota.burst_tolerance + interval - (new_tat - now)) / interval + 1e-9)
    return (
        RateDecision(
            quota=quota.name,
            allowed=True,
            limit=quota.limit,
            period_seconds=quota.period_seconds,
            remaining=max(0, min(remaining, quota.limit)),
            retry_after_seconds=0.0,
            reset_seconds=new_tat - now,
        ),
        new_tat,
    )


def decide_all(
    tats: Sequence[float], now: float, charges: Sequence[Charge]
) -> tuple[list[RateDecision], bool]:
    """Every quota's decision for one request, and whether all of them admit it."""
    decisions = [gcra(tat, now, c.quota, c.cost)[0] for tat, c in zip(tats, charges, strict=True)]
    return decisions, all(d.allowed for d in decisions)


class RateLimiter(Protocol):
    """GCRA over many keys; implementations differ only in where the TATs live."""

    async def hit_all(self, charges: Sequence[Charge]) -> list[RateDecision]:
        """Admit a request under every charge at once, or under none (nothing is spent then)."""
        ...

    async def charge(self, key: str, quota: Quota, cost: int) -> None:
        """Spend `cost` units on `key` whatever the balance (used for tokens after a turn)."""
        ...

    async def hit(self, key: str, quota: Quota, cost: int = 1) -> RateDecision: ...


class InProcessRateLimiter:
    """GCRA over a dict of TATs; exact within one process."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, *, sweep_every: int = 10_000) -> None:
        self._tats: dict[str, float] = {}
        self._lock = threading.Lock()
        self._clock = clock
        self._sweep_every = sweep_every
        self._writes = 0

    def forget_keys(self, prefix: str) -> int:
        """Drop every key starting with `prefix` (a deleted tenant's `{tenant}:`); how many."""
        with self._lock:
            gone = [key for key in self._tats if key.startswith(prefix)]
            for key in gone:
                del self._tats[key]
        return len(gone)

    def _store(self, key: str, tat: float, now: float) -> None:
        self._tats[key] = tat
        self._writes += 1
        if self._writes % self._sweep_every == 0:
            # A TAT in the past means a full allowance: the key can be forgotten.
            self._tats = {k: v for k, v in self._tats.items() if v > now}

    async def hit_all(self, charges: Sequence[Charge]) -> list[RateDecision]:
        with self._lock:
            now = self._clock()
            tats = [self._tats.get(c.key, now) for c in charges]
            decisions, admitted = decide_all(tats, now, charges)
            if admitted:
                for tat, c in zip(tats, charges, strict=True):
                    self._store(c.key, max(tat, now) + c.quota.emission_interval * c.cost, now)
            return decisions

    async def charge(self, key: str, quota: Quota, cost: int) -> None:
        with self._lock:
            now = self._clock()
            self._store(key, max(self._tats.get(key, now), now) + quota.emission_interval * cost, now)

    async def hit(self, key: str, quota: Quota, cost: int = 1) -> RateDecision:
        return (await self.hit_all([Charge(key=key, quota=quota, cost=cost)]))[0]


# KEYS: one TAT key per quota. ARGV: mode ("hit" or "charge"), then per key: interval, burst, cost.
# Returns the server time and each key's TAT before this call; in "hit" mode the new TATs are
# written only when every quota admits. Redis TIME is the one clock all replicas share.
_GCRA_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local mode = ARGV[1]
local tats = {}
local new_tats = {}
local admitted = true
for i = 1, #KEYS do
  local interval = tonumber(ARGV[i * 3 - 1])
  local burst = tonumber(ARGV[i * 3])
  local cost = tonumber(ARGV[i * 3 + 1])
  local tat = tonumber(redis.call('GET', KEYS[i])) or now
  local new_tat = math.max(tat, now) + interval * cost
  if mode == 'hit' and now < new_tat - burst - interval then
    admitted = false
  end
  tats[i] = string.format('%.6f', tat)
  new_tats[i] = new_tat
end
if admitted then
  for i = 1, #KEYS do
    local ttl = math.ceil((new_tats[i] - now) * 1000) + 1000
    redis.call('SET', KEYS[i], string.format('%.6f', new_tats[i]), 'PX', ttl)
  end
end
return {string.format('%.6f', now), admitted and 1 or 0, tats}
"""


class RedisRateLimiter:
    """GCRA in one Lua script per request: atomic across every gateway replica on this Redis."""

    def __init__(self, redis: Redis, *, prefix: str) -> None:
        self._redis = redis
        self._prefix = prefix
        self._script = redis.register_script(_GCRA_SCRIPT)

    def _keys(self, charges: Sequence[Charge]) -> list[str]:
        return [f"{self._prefix}:rl:{c.key}" for c in charges]

    @staticmethod
    def _args(mode: str, charges: Sequence[Charge]) -> list[str]:
        args = [mode]
        for c in charges:
            args += [repr(c.quota.emission_interval), repr(c.quota.burst_tolerance), str(c.cost)]
        return args

    async def hit_all(self, charges: Sequence[Charge]) -> list[RateDecision]:
        now_text, admitted, tats_text = await self._script(
            keys=self._keys(charges), args=self._args("hit", charges)
        )
        decisions, computed = decide_all([float(t) for t in tats_text], float(now_text), charges)
        if bool(admitted) != computed:
            # The script decided on unrounded times; at the exact boundary its answer stands.
            decisions = [
                d.model_copy(
                    update={"allowed": bool(admitted), "retry_after_seconds": 0.0 if admitted else 0.001}
                )
                for d in decisions
            ]
        return decisions

    async def charge(self, key: str, quota: Quota, cost: int) -> None:
        charges = [Charge(key=key, quota=quota, cost=cost)]
        await self._script(keys=self._keys(charges), args=self._args("charge", charges))

    async def hit(self, key: str, quota: Quota, cost: int = 1) -> RateDecision:
        return (await self.hit_all([Charge(key=key, quota=quota, cost=cost)]))[0]
