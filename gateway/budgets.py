"""Each tenant's daily model budget, read from the usage ledger before every paid model step.

`limits.daily_cost_usd` in the tenant's policy (else the base's, else the platform default) caps
what its turns may spend on models in one UTC day. The spend is the ledger's (the very rows the
usage API and the `agentmesh_cost_microdollars_total` metric count), so the refusal agrees with
what an admin sees. A turn under budget when it starts may cross it: its next model step is
refused, with when the budget resets.

Crossing 80 % and 100 % of the budget is published as a `budget.threshold` event, once per
tenant, day and threshold: its id is derived from them, so the same crossing seen by several
replicas is one event to the tenant's webhooks.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

from agentmesh.cloudevents import EventPublisher
from gateway.usage import MICRO, UsageLedger
from host.budgets import BudgetExceeded
from policies.loader import PolicySet

THRESHOLDS_PERCENT = (80, 100)


class DailyBudgets:
    """The host's `Budget`, over the usage ledger and the tenants' policies."""

    def __init__(
        self,
        ledger: UsageLedger,
        policies: PolicySet,
        *,
        events: EventPublisher | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._ledger = ledger
        self._policies = policies
        self._events = events
        self._clock = clock
        self._announced: set[tuple[str, date, int]] = set()

    async def check(self, tenant_id: str) -> None:
        limit = self._policies.limits(tenant_id).daily_cost_usd
        if limit is None:
            return
        now = self._clock()
        spent_micro = await self._ledger.cost_micro_usd(tenant_id, now.date())
        await self._announce(tenant_id, now.date(), spent_micro, limit)
        if spent_micro >= round(limit * MICRO):
            midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
            raise BudgetExceeded(limit_usd=limit, spent_usd=spent_micro / MICRO, resets_at=midnight)

    async def _announce(self, tenant_id: str, day: date, spent_micro: int, limit_usd: float) -> None:
        """Publish each threshold the day's spend has reached, the first time this process sees it."""
        if self._events is None:
            return
        self._announced = {key for key in self._announced if key[1] == day}  # yesterday's are done
        for percent in THRESHOLDS_PERCENT:
            key = (tenant_id, day, percent)
            if key in self._announced or spent_micro < round(limit_usd * MICRO * percent / 100):
                continue
            self._announced.add(key)
            await self._events.publish(
                tenant_id,
                "budget.threshold",
                {
                    "percent": percent,
                    "day": day.isoformat(),
                    "limit_usd": limit_usd,
                    "spent_usd": spent_micro / MICRO,
                },
                subject=f"daily_cost_usd:{day.isoformat()}",
                event_id=f"budget.threshold:{tenant_id}:{day.isoformat()}:{percent}",
            )
