"""The supervisor: which agent should answer a message, or whether to ask the user first.

Routing considers every agent the tenant can see (the platform's and its own), not only those its
policy enables: a question for an agent the tenant lacks is then answered plainly as unavailable
instead of being forced onto the wrong agent. Another tenant's own agents are never considered.
Routers are built once per set of agents (in a worker thread: embedding the examples takes a
moment) and dropped when the agent registry's version changes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import anyio

from host.agents import AgentConfig, AgentRegistry
from host.routing import AgentProfile, RouteDecision, Router

RouterFactory = Callable[[Sequence[AgentProfile]], Router]


def profile_of(agent: AgentConfig) -> AgentProfile:
    return AgentProfile(
        name=agent.name, description=agent.description, examples=agent.examples, keywords=agent.keywords
    )


class Supervisor:
    """Routes with the local router over the agents visible to a tenant."""

    def __init__(self, router_factory: RouterFactory = Router) -> None:
        self._factory = router_factory
        self._version = ""
        self._routers: dict[tuple[tuple[str, str], ...], Router] = {}
        self._lock = anyio.Lock()

    async def router_for(self, registry: AgentRegistry, tenant_id: str) -> Router | None:
        """The router over `tenant_id`'s visible agents (None when there are none)."""
        if registry.version != self._version:
            self._routers = {}
            self._version = registry.version
        agents = registry.visible_to(tenant_id)
        if not agents:
            return None
        key = tuple((agent.tenant_id or "", agent.name) for agent in agents)
        router = self._routers.get(key)
        if router is None:
            async with self._lock:
                router = self._routers.get(key)
                if router is None:
                    profiles = [profile_of(agent) for agent in agents]
                    router = await anyio.to_thread.run_sync(self._factory, profiles)
                    if registry.version == self._version:
                        self._routers[key] = router
        return router

    async def route(self, registry: AgentRegistry, tenant_id: str, message: str) -> RouteDecision | None:
        """The routing decision for `message` among `tenant_id`'s visible agents."""
        router = await self.router_for(registry, tenant_id)
        return router.route(message) if router is not None else None
