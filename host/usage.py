"""Token usage of a turn and its cost."""

from __future__ import annotations

from pydantic import BaseModel


class Usage(BaseModel):
    """Tokens and cost summed over a turn's model calls (the local planner uses none)."""

    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    model_calls: int = 0
    tool_calls: int = 0

    def add(self, other: Usage) -> Usage:
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cost_usd=round(self.cost_usd + other.cost_usd, 8),
            model_calls=self.model_calls + other.model_calls,
            tool_calls=self.tool_calls + other.tool_calls,
        )

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens
