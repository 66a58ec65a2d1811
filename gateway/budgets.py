"""Each tenant's daily model budget, read from the usage ledger before every paid model step.

`limits.daily_cost_usd` in the tenant's policy (else the base's, else the platform default) caps
what its turns may spend on models in one UTC day. The spend is the ledger's (the very rows the
usage API and the `agentmesh_cost_microdollars_total` metric count), so the refusal agrees with
what an admin sees. A turn under budget when it starts may cross it: its next model step is
refused, with when the budget resets.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from gateway.usage import MICRO, UsageLedger
from host.budgets import BudgetExceeded
from policies.loader import PolicySet


class DailyBudgets:
    """The host's `Budget`, over the usage ledger and the tenants' policies."""

    def __init__(
        self,
        ledger: UsageLedger,
        policies: PolicySet,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._ledger = ledger
        self._policies = policies
        self._clock = clock

    async def check(self, tenant_id: str) -> None:
        limit = self._policies.limits(tenant_id).daily_cost_usd
        if limit is None:
            return
        now = self._clock()
        spent_micro = await self._ledger.cost_micro_usd(tenant_id, now.date())
        if spent_micro >= round(limit * MICRO):
            midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
            raise BudgetExceeded(limit_usd=limit, spent_usd=spent_micro / MICRO, resets_at=midnight)
