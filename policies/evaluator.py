"""The one decision function used by the host, the gateway and the servers alike."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from fnmatch import fnmatchcase
from typing import Any

from policies.model import Action, Decision, Principal, TenantPolicy


def _first_match(patterns: Sequence[str], resource: str) -> str | None:
    return next((pattern for pattern in patterns if fnmatchcase(resource, pattern)), None)


def decide(
    principal: Principal,
    action: Action,
    resource: str,
    context: Mapping[str, Any] | None,
    *,
    policies: Sequence[TenantPolicy],
) -> Decision:
    """Decide whether `principal` may perform `action` on `resource`.

    `policies` are the documents that apply to the principal's tenant (the base policy and the
    tenant's own). Deny wins over everything; approve wins over allow; nothing matched denies.
    """
    applicable = [p for p in policies if p.tenant in ("*", principal.tenant_id)]
    if action == "use_agent":
        return _decide_agent(applicable, resource)
    return _decide_tool(applicable, resource)


def _decide_agent(policies: Sequence[TenantPolicy], agent: str) -> Decision:
    for policy in policies:
        if _first_match(policy.agents, agent):
            return Decision(
                effect="allow", rule=f"{policy.tenant}:agents", reason=f"agent '{agent}' is enabled"
            )
    return Decision(
        effect="deny", rule="default-deny", reason=f"agent '{agent}' is not enabled for this tenant"
    )


def _decide_tool(policies: Sequence[TenantPolicy], tool: str) -> Decision:
    for effect in ("deny", "approve", "allow"):
        for policy in policies:
            pattern = _first_match(getattr(policy.tools, effect), tool)
            if pattern is not None:
                return Decision(
                    effect=effect,  # type: ignore[arg-type]
                    rule=f"{policy.tenant}:tools.{effect}[{pattern}]",
                    reason=f"'{tool}' matches {effect} rule '{pattern}'",
                )
    return Decision(effect="deny", rule="default-deny", reason=f"no rule allows '{tool}'")
