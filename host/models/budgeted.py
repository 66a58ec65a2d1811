"""A model wrapper that checks the tenant's budget before each step it would pay for."""

from __future__ import annotations

from collections.abc import AsyncIterator

from host.budgets import Budget, BudgetExceeded
from host.models.base import Model, ModelError, ModelRequest, ModelResponse, TextDelta


class BudgetedModel:
    """`model`, refusing a step with a `budget_exceeded` model error once the tenant's budget is spent."""

    def __init__(self, model: Model, budget: Budget, tenant_id: str) -> None:
        self._model = model
        self._budget = budget
        self._tenant_id = tenant_id
        self.name = model.name

    async def stream(self, request: ModelRequest) -> AsyncIterator[TextDelta | ModelResponse]:
        try:
            await self._budget.check(self._tenant_id)
        except BudgetExceeded as exc:
            raise ModelError("budget_exceeded", exc.message, details=exc.details) from exc
        async for item in self._model.stream(request):
            yield item
