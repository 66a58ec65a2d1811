"""Rate limits with GCRA (the generic cell rate algorithm), in process.

GCRA keeps one timestamp per key, the theoretical arrival time (TAT), and admits a request when
it would not push the TAT more than the burst tolerance ahead of now. It is exact, needs no
background refill, and has the same arithmetic in process and in a Redis script.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from pydantic import BaseModel


class Quota(BaseModel):
    """`limit` requests per `period_seconds`, all of which may arrive at once."""

    limit: int
    period_seconds: float = 60.0

    @property
    def emission_interval(self) -> float:
        return self.period_seconds / self.limit

    @property
    def burst_tolerance(self) -> float:
        return self.emission_interval * (self.limit - 1)


class RateDecision(BaseModel):
    allowed: bool
    limit: int
    remaining: int
    retry_after_seconds: float
    reset_seconds: float

    def headers(self, policy_name: str, period_seconds: float) -> dict[str, str]:
        headers = {
            "RateLimit-Policy": f'"{policy_name}";q={self.limit};w={int(period_seconds)}',
            "RateLimit": f'"{policy_name}";r={self.remaining};t={math.ceil(self.reset_seconds)}',
        }
        if not self.allowed:
            headers["Retry-After"] = str(max(1, math.ceil(self.retry_after_seconds)))
        return headers


def gcra(tat: float, now: float, quota: Quota, cost: int = 1) -> tuple[RateDecision, float]:
    """One GCRA step: the decision and the new TAT (unchanged when refused)."""
    interval = quota.emission_interval
    new_tat = max(tat, now) + interval * cost
    allow_at = new_tat - quota.burst_tolerance - interval
    if now < allow_at:
        refused = RateDecision(
            allowed=False,
            limit=quota.limit,
            remaining=0,
            retry_after_seconds=allow_at - now,
            reset_seconds=max(0.0, tat - now),
        )
        return refused, tat
    remaining = int((quota.burst_tolerance + interval - (new_tat - now)) / interval)
    return (
        RateDecision(
            allowed=True,
            limit=quota.limit,
            remaining=max(0, min(remaining, quota.limit)),
            retry_after_seconds=0.0,
            reset_seconds=new_tat - now,
        ),
        new_tat,
    )


class InProcessRateLimiter:
    """GCRA over a dict of TATs; exact within one process."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._tats: dict[str, float] = {}
        self._lock = threading.Lock()
        self._clock = clock

    async def hit(self, key: str, quota: Quota, cost: int = 1) -> RateDecision:
        with self._lock:
            now = self._clock()
            decision, tat = gcra(self._tats.get(key, now), now, quota, cost)
            self._tats[key] = tat
            return decision
