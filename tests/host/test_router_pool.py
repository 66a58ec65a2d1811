"""The router pool builds a router once per set of agents and routes concurrent turns in shared
batches, off the event loop, with the same decisions as routing each message alone."""

from __future__ import annotations

from collections.abc import Sequence

import anyio
import numpy as np

from agentmesh.embeddings import embed
from host.agents import AgentConfig, AgentRegistry
from host.router_pool import RouterPool
from host.routing import AgentProfile, RouteDecision, Router

AGENTS = AgentRegistry.from_yaml()
MESSAGES = [
    "What is the debt for customer MST 3428557611?",
    "Where is shipment SH-1042?",
    "What is our return policy?",
    "Read the text in this image",
    "Search the web for VAT rules",
    "Công nợ của khách hàng 3190048330",
    "hello there",
] * 3


class CountingEncoder:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        return embed(texts)


async def test_concurrent_turns_share_encoder_calls_and_get_the_same_decisions() -> None:
    encoder = CountingEncoder()
    built: list[Router] = []

    def factory(profiles: Sequence[AgentProfile]) -> Router:
        built.append(Router(profiles, encoder=encoder))
        return built[-1]

    routers = RouterPool(factory)
    await routers.router_for(AGENTS, "acme")
    encoder.calls = 0
    decisions: dict[int, RouteDecision | None] = {}

    async def route(index: int) -> None:
        decisions[index] = await routers.route(AGENTS, "acme", MESSAGES[index])

    async with anyio.create_task_group() as task_group:
        for index in range(len(MESSAGES)):
            task_group.start_soon(route, index)
    assert encoder.calls < len(MESSAGES) / 2
    alone = [built[0].route(message) for message in MESSAGES]
    for index, expected in enumerate(alone):
        got = decisions[index]
        assert got is not None and (got.agent, got.reason) == (expected.agent, expected.reason), MESSAGES[
            index
        ]


async def test_a_router_is_built_once_per_agent_set_and_again_only_on_change() -> None:
    builds: list[list[str]] = []

    def factory(profiles: Sequence[AgentProfile]) -> Router:
        builds.append([profile.name for profile in profiles])
        return Router(profiles)

    routers = RouterPool(factory)
    own = AgentConfig(name="acme-only", description="acme's own agent.", tenant_id="acme")
    registry = AgentRegistry([*AGENTS.all(), own])
    for tenant in ("acme", "acme", "globex", "globex"):
        await routers.route(registry, tenant, "Where is shipment SH-1042?")
    assert len(builds) == 2 and "acme-only" in builds[0] and "acme-only" not in builds[1]
    await routers.route(AgentRegistry([*AGENTS.all(), own]), "acme", "hi")  # same version: no rebuild
    assert len(builds) == 2
    changed = own.model_copy(update={"description": "acme's own agent, changed."})
    await routers.route(AgentRegistry([*AGENTS.all(), changed]), "acme", "hi")
    assert len(builds) == 3
