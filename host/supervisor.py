"""The supervisor: which agent should answer a message, or whether to ask the user first."""

from __future__ import annotations

from host.agents import AgentConfig, AgentRegistry
from host.routing import AgentProfile, RouteDecision, Router


def profile_of(agent: AgentConfig) -> AgentProfile:
    return AgentProfile(
        name=agent.name, description=agent.description, examples=agent.examples, keywords=agent.keywords
    )


class Supervisor:
    """Routes with the local router over every configured agent.

    Routing considers all agents, not only the tenant's: a question for an agent the tenant does
    not have is then answered plainly as unavailable instead of being forced onto the wrong agent.
    The router is rebuilt only when the agent registry's version changes.
    """

    def __init__(self, registry: AgentRegistry) -> None:
        self._version = ""
        self._router: Router | None = None
        self.update(registry)

    def update(self, registry: AgentRegistry) -> None:
        if registry.version != self._version:
            self._router = Router([profile_of(agent) for agent in registry.all()])
            self._version = registry.version

    def route(self, message: str) -> RouteDecision:
        assert self._router is not None
        return self._router.route(message)
