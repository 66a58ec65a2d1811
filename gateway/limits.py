"""Each tenant's request limits: its policy's `limits` over the platform defaults in settings.

Tenant values win over the base policy's, which win over the settings (`AGENTMESH_RATE_LIMIT_RPM`,
`AGENTMESH_RATE_LIMIT_TPM`, `AGENTMESH_MAX_CONCURRENT_TURNS`). Per-user limits come from settings.
Resolved limits are cached per tenant until the policy set's version moves (an admin override).
"""

from __future__ import annotations

from agentmesh.settings import Settings
from gateway.admission import RequestLimits
from policies.limits import DEFAULT_LIMITS, effective_limits
from policies.loader import PolicySet


class TenantLimits:
    """Resolves `RequestLimits` per tenant; a dictionary lookup on every request but the first."""

    def __init__(self, settings: Settings, policies: PolicySet) -> None:
        self._settings = settings
        self._policies = policies
        self._defaults = DEFAULT_LIMITS.model_copy(
            update={
                "requests_per_minute": settings.rate_limit_requests_per_minute,
                "tokens_per_minute": settings.rate_limit_tokens_per_minute,
                "max_concurrent_turns": settings.max_concurrent_turns,
            }
        )
        self._resolved: dict[str, tuple[int, RequestLimits]] = {}

    def for_tenant(self, tenant_id: str) -> RequestLimits:
        version = self._policies.version
        cached = self._resolved.get(tenant_id)
        if cached is not None and cached[0] == version:
            return cached[1]
        limits = effective_limits(self._policies.for_tenant(tenant_id), defaults=self._defaults)
        resolved = RequestLimits.model_validate(
            {
                **limits.model_dump(
                    include={"requests_per_minute", "tokens_per_minute", "max_concurrent_turns"}
                ),
                "user_requests_per_minute": self._settings.user_requests_per_minute,
                "user_tokens_per_minute": self._settings.user_tokens_per_minute,
            }
        )
        self._resolved[tenant_id] = (version, resolved)
        return resolved
