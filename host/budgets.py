"""A tenant's model budget, checked before every model step that costs money.

The host asks; the gateway answers from the usage ledger (`gateway/budgets.py`), where every
turn's cost is recorded. The local planner costs nothing and is never refused.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from agentmesh.errors import AgentmeshError


class BudgetExceeded(AgentmeshError):
    """The tenant has spent its model budget for the period; `details` say how much and until when."""

    code = "budget_exceeded"

    def __init__(self, *, limit_usd: float, spent_usd: float, resets_at: datetime) -> None:
        super().__init__(
            f"the organisation's model budget of ${limit_usd:g} a day is spent (${spent_usd:.4f} today); "
            f"it resets at {resets_at:%H:%M} UTC",
            details={"limit_usd": limit_usd, "spent_usd": spent_usd, "resets_at": resets_at.isoformat()},
        )
        self.resets_at = resets_at


class Budget(Protocol):
    async def check(self, tenant_id: str) -> None:
        """Raise `BudgetExceeded` when `tenant_id` may not spend more now."""
        ...


class NoBudget:
    """No budget is kept (a host without the usage ledger): nothing is refused."""

    async def check(self, tenant_id: str) -> None:
        return None
