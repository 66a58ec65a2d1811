"""Routers built once per set of agents, and routing batched across concurrent turns.

Routers are built in a worker thread (embedding the examples takes a moment) and dropped when the
agent registry's version changes. Routing a message costs one encoder call, the one expensive
step of a turn outside the model. It runs in a worker thread, never on the event loop, and
concurrent turns share it: while one batch is being encoded the next messages queue, and they are
then routed together in one encoder call (`Router.route_many`), so under load the encoder's cost
per message falls instead of turns waiting on each other.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import anyio

from host.agents import AgentConfig, AgentRegistry
from host.routing import AgentProfile, RouteDecision, Router

RouterFactory = Callable[[Sequence[AgentProfile]], Router]
RouterKey = tuple[tuple[str, str], ...]


def profile_of(agent: AgentConfig) -> AgentProfile:
    return AgentProfile(
        name=agent.name, description=agent.description, examples=agent.examples, keywords=agent.keywords
    )


@dataclass
class _Batch:
    """Messages waiting for one router, and whether a batch of that router is being encoded."""

    waiting: list[tuple[str, asyncio.Future[RouteDecision]]] = field(default_factory=list)
    busy: bool = False


class RouterPool:
    """The local routers over each tenant's visible agents, shared by every turn of the host."""

    def __init__(self, router_factory: RouterFactory = Router, *, max_batch: int = 64) -> None:
        self._factory = router_factory
        self._max_batch = max_batch
        self._version = ""
        self._routers: dict[RouterKey, Router] = {}
        self._batches: dict[int, _Batch] = {}
        self._lock = anyio.Lock()

    # -- routing -----------------------------------------------------------------------------

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
        if router is None:
            return None
        batch = self._batches.setdefault(id(router), _Batch())
        decided: asyncio.Future[RouteDecision] = asyncio.get_running_loop().create_future()
        batch.waiting.append((message, decided))
        if not batch.busy:
            await self._drain(router, batch)
        return await decided

    async def _drain(self, router: Router, batch: _Batch) -> None:
        """Route what is waiting, batch after batch, until nothing is (one caller drains at a time).

        Shielded: the drainer's own turn being cancelled must not strand the turns waiting on it;
        its cancellation takes effect once the queue is empty.
        """
        batch.busy = True
        try:
            with anyio.CancelScope(shield=True):
                while batch.waiting:
                    taken, batch.waiting = batch.waiting[: self._max_batch], batch.waiting[self._max_batch :]
                    try:
                        decisions = await anyio.to_thread.run_sync(router.route_many, [m for m, _ in taken])
                    except Exception as exc:  # every turn of the batch learns of the failure
                        for _, decided in taken:
                            if not decided.done():  # done: that turn was cancelled meanwhile
                                decided.set_exception(exc)
                        continue
                    for (_, decided), decision in zip(taken, decisions, strict=True):
                        if not decided.done():
                            decided.set_result(decision)
        finally:
            batch.busy = False
            self._batches.pop(id(router), None)
