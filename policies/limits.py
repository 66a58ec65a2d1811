"""Per-tenant limits: request and token rates, turn bounds, daily cost and input size caps.

A policy document sets only the limits it cares about (unset fields are None). The limits in force
for a tenant are resolved field by field: the tenant's own value, else the base policy's, else the
platform default. The gateway enforces the rate limits, the host the turn limits and the caps.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from policies.model import TenantPolicy


class Limits(BaseModel):
    """Limits one policy document sets; None means "not set here" (inherit)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    requests_per_minute: int | None = Field(
        default=None, ge=1, le=1_000_000, description="chat requests per minute"
    )
    tokens_per_minute: int | None = Field(
        default=None, ge=1, le=10**12, description="model tokens per minute"
    )
    max_concurrent_turns: int | None = Field(
        default=None, ge=1, le=100_000, description="turns running at once"
    )
    max_steps: int | None = Field(default=None, ge=1, le=64, description="model steps in one turn")
    max_tool_calls_per_turn: int | None = Field(default=None, ge=1, le=256)
    max_parallel_tool_calls: int | None = Field(default=None, ge=1, le=32)
    daily_cost_usd: float | None = Field(default=None, ge=0, le=10**9, description="model spend per UTC day")
    max_message_chars: int | None = Field(
        default=None, ge=1, le=10**7, description="longest user message accepted (no policy cap when unset)"
    )
    max_attachment_bytes: int | None = Field(
        default=None,
        ge=1,
        le=10**10,
        description="largest single attachment accepted (no policy cap when unset)",
    )
    max_tool_arguments_bytes: int | None = Field(
        default=None,
        ge=2,
        le=10**9,
        description="largest JSON arguments of one tool call (no policy cap when unset)",
    )


DEFAULT_LIMITS = Limits(
    requests_per_minute=100,
    tokens_per_minute=200_000,
    max_concurrent_turns=8,
    max_steps=8,
    max_tool_calls_per_turn=16,
    max_parallel_tool_calls=4,
    daily_cost_usd=25.0,
)
"""Platform defaults. Input caps have none: the gateway's body size limit bounds input until a
policy sets a tighter cap."""


def effective_limits(policies: Sequence[TenantPolicy], *, defaults: Limits = DEFAULT_LIMITS) -> Limits:
    """The limits in force: tenant values over base (`tenant: "*"`) values over `defaults`."""
    base = [policy.limits for policy in policies if policy.tenant == "*"]
    own = [policy.limits for policy in policies if policy.tenant != "*"]
    resolved = defaults.model_dump()
    for limits in (*base, *own):
        resolved.update(limits.model_dump(exclude_none=True))
    return Limits(**resolved)
