"""Policy decisions for a caller, each one audited: which agents, models and tools a turn may use.

Every decision goes through the tenant's `PolicySet.decide` (one decision function for the host,
the gateway's `/mcp` and `agentmesh policy check`) and, when it authorises something a turn is
about to do, is recorded in the audit trail with the rule that made it (an allowed tool call in
the one event of the call itself, so a proxied call costs one audit row). Listing what a caller may
see (the catalog) decides without auditing: nothing is done yet.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from host.agents import AgentConfig, AgentRegistry
from host.audit_trail import AuditTrail
from host.caller import Caller
from host.catalog import ToolSpec
from policies.loader import PolicySet
from policies.model import Decision, Principal


def principal_of(caller: Caller) -> Principal:
    return Principal(tenant_id=caller.tenant_id, subject=caller.subject, roles=caller.roles)


class Authorizer:
    """Decides and audits for one host: agents, models, tool calls and tool visibility."""

    def __init__(self, policies: PolicySet, audit: AuditTrail) -> None:
        self.policies = policies
        self.audit = audit

    def agents_for(self, registry: AgentRegistry, tenant_id: str) -> list[AgentConfig]:
        """The agents the tenant can see and its policy enables."""
        principal = Principal(tenant_id=tenant_id, subject="-")
        return [
            agent
            for agent in registry.visible_to(tenant_id)
            if self.policies.decide(principal, "use_agent", agent.name).allowed
        ]

    def use_agent(self, caller: Caller, agent: str) -> Decision:
        decision = self.policies.decide(principal_of(caller), "use_agent", agent)
        self.audit.decision(caller, f"agent:{agent}", decision)
        return decision

    def use_model(self, caller: Caller, model: str) -> Decision:
        decision = self.policies.decide(principal_of(caller), "use_model", model)
        self.audit.decision(caller, f"model:{model}", decision)
        return decision

    def call_tool(self, caller: Caller, tool: ToolSpec, arguments: Mapping[str, Any]) -> Decision:
        """The decision on calling `tool` with `arguments` now (the caller's role included).

        A refusal or a wait for approval is audited here; an allowed call is audited once, by the
        `tool.call` event that records how it ended under the rule that allowed it."""
        decision = self._decide_tool(caller, tool, {"arguments": dict(arguments)})
        if decision.effect != "allow":
            self.audit.decision(caller, tool.qualified_name, decision, arguments=arguments)
        return decision

    def read_resource(self, caller: Caller, governing: ToolSpec, uri: str) -> Decision:
        """The decision on reading `uri`, decided as a call of `governing` (the tool that shows the
        same data) and audited as `resource:<uri>`."""
        decision = self._decide_tool(caller, governing, {"arguments": {}})
        self.audit.decision(caller, f"resource:{uri}", decision)
        return decision

    def may_see(self, caller: Caller, tool: ToolSpec) -> bool:
        """Whether `tool` is listed for the caller: everything its policy and role do not deny."""
        return self.listing(caller, tool).effect != "deny"

    def listing(self, caller: Caller, tool: ToolSpec) -> Decision:
        """The decision a listing shows for `tool` (no arguments yet, so no argument rule)."""
        return self._decide_tool(caller, tool, {})

    def _decide_tool(self, caller: Caller, tool: ToolSpec, context: dict[str, Any]) -> Decision:
        # Whether the tool changes data comes from its MCP annotations; the role rule needs it.
        context["read_only"] = tool.read_only
        return self.policies.decide(principal_of(caller), "call_tool", tool.qualified_name, context)
