"""Whether a request may run now: rate limits per tenant and per user, and the turn cap.

Requests and tokens per minute are GCRA quotas (see `gateway.ratelimit`), checked together so a
request is charged to every quota or to none. Tokens are charged after a turn, when they are
known. The number of turns a tenant runs at once is capped by `gateway.turn_slots`. Refusals are
429s with `Retry-After` and the `RateLimit-Policy`/`RateLimit` headers; admitted responses carry
the headers too.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Protocol
from urllib.parse import quote

import anyio
from pydantic import BaseModel

from gateway.errors import ApiError
from gateway.metrics import GatewayMetrics
from gateway.ratelimit import Charge, Quota, RateDecision, RateLimiter
from gateway.turn_slots import TurnSlots

CONCURRENCY_RETRY_AFTER_SECONDS = 1


class Quotaholder(Protocol):
    """Whom requests and turns are counted against: a tenant and one of its users."""

    @property
    def tenant_id(self) -> str: ...

    @property
    def subject(self) -> str: ...


class RequestLimits(BaseModel):
    """The limits that apply to one tenant's requests (and to each of its users)."""

    requests_per_minute: int
    tokens_per_minute: int
    max_concurrent_turns: int
    user_requests_per_minute: int
    user_tokens_per_minute: int


def limit_headers(decisions: Sequence[RateDecision]) -> dict[str, str]:
    """Every quota in `RateLimit-Policy`; the refusing (or else the tightest) one in `RateLimit`."""
    policy = ", ".join(f'"{d.quota}";q={d.limit};w={int(d.period_seconds)}' for d in decisions)
    refused = [d for d in decisions if not d.allowed]
    if refused:
        tightest = max(refused, key=lambda d: d.retry_after_seconds)
    else:
        tightest = min(decisions, key=lambda d: d.remaining / d.limit)
    headers = {
        "RateLimit-Policy": policy,
        "RateLimit": f'"{tightest.quota}";r={tightest.remaining};t={math.ceil(tightest.reset_seconds)}',
    }
    if refused:
        headers["Retry-After"] = str(max(1, math.ceil(tightest.retry_after_seconds)))
    return headers


_REFUSALS = {
    "tenant-requests": "tenant '{tenant}' exceeded {limit} requests per minute",
    "user-requests": "user '{user}' exceeded {limit} requests per minute",
    "tenant-tokens": "tenant '{tenant}' used its {limit} model tokens per minute",
    "user-tokens": "user '{user}' used their {limit} model tokens per minute",
}


class Admission:
    """Admits requests and turns for authenticated users under their tenant's limits."""

    def __init__(
        self,
        limiter: RateLimiter,
        slots: TurnSlots,
        limits_for: Callable[[str], RequestLimits],
        metrics: GatewayMetrics,
    ) -> None:
        self._limiter = limiter
        self._slots = slots
        self._limits_for = limits_for
        self._metrics = metrics

    @staticmethod
    def _keys(user: Quotaholder) -> tuple[str, str]:
        # The `{tenant}` hash tag keeps one request's keys in one Redis Cluster slot.
        tenant = f"{{{user.tenant_id}}}"
        return tenant, f"{tenant}:user:{quote(user.subject, safe='')}"

    def _quotas(self, user: Quotaholder) -> tuple[RequestLimits, list[Charge]]:
        limits = self._limits_for(user.tenant_id)
        tenant, person = self._keys(user)
        return limits, [
            Charge(
                key=f"{tenant}:requests",
                quota=Quota(name="tenant-requests", limit=limits.requests_per_minute),
            ),
            Charge(
                key=f"{person}:requests",
                quota=Quota(name="user-requests", limit=limits.user_requests_per_minute),
            ),
            Charge(
                key=f"{tenant}:tokens",
                quota=Quota(name="tenant-tokens", limit=limits.tokens_per_minute),
                cost=0,
            ),
            Charge(
                key=f"{person}:tokens",
                quota=Quota(name="user-tokens", limit=limits.user_tokens_per_minute),
                cost=0,
            ),
        ]

    async def admit(self, user: Quotaholder) -> dict[str, str]:
        """Charge one request to the tenant and the user; the rate-limit headers, or a 429."""
        _, charges = self._quotas(user)
        decisions = await self._limiter.hit_all(charges)
        headers = limit_headers(decisions)
        refused = next((d for d in decisions if not d.allowed), None)
        if refused is not None:
            self._metrics.rate_limited.labels(user.tenant_id, refused.quota).inc()
            message = _REFUSALS[refused.quota].format(
                tenant=user.tenant_id, user=user.subject, limit=refused.limit
            )
            raise ApiError(
                "rate_limited",
                message,
                details={"quota": refused.quota, "retry_after_seconds": int(headers["Retry-After"])},
                headers=headers,
            )
        return headers

    async def charge_tokens(self, user: Quotaholder, tokens: int) -> None:
        """Spend the tokens a turn used on the tenant's and the user's token quotas."""
        if tokens <= 0:
            return
        limits = self._limits_for(user.tenant_id)
        tenant, person = self._keys(user)
        await self._limiter.charge(
            f"{tenant}:tokens", Quota(name="tenant-tokens", limit=limits.tokens_per_minute), tokens
        )
        await self._limiter.charge(
            f"{person}:tokens", Quota(name="user-tokens", limit=limits.user_tokens_per_minute), tokens
        )

    @contextlib.asynccontextmanager
    async def turn(self, user: Quotaholder) -> AsyncIterator[None]:
        """Hold one of the tenant's concurrent-turn slots for the block; 429 when all are taken."""
        limit = self._limits_for(user.tenant_id).max_concurrent_turns
        slot = await self._slots.acquire(user.tenant_id, limit)
        if slot is None:
            self._metrics.rate_limited.labels(user.tenant_id, "tenant-concurrent-turns").inc()
            raise ApiError(
                "too_many_turns",
                f"tenant '{user.tenant_id}' already runs {limit} turns at once; retry when one ends",
                details={"quota": "tenant-concurrent-turns", "limit": limit},
                headers={"Retry-After": str(CONCURRENCY_RETRY_AFTER_SECONDS)},
            )
        self._metrics.turns_in_flight.inc()
        try:
            yield
        finally:
            self._metrics.turns_in_flight.dec()
            # Shielded: a turn cancelled by a disconnecting client must still give its slot back.
            with anyio.CancelScope(shield=True):
                await self._slots.release(user.tenant_id, slot)
