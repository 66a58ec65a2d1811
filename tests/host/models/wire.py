"""Replaying a provider's documented HTTP responses to its real SDK, and running the loop on it.

`Replay` is an `httpx2.MockTransport` handler: it answers each request with the next canned
response and keeps every request for the test to inspect (the one boundary we cannot reach here
is the provider's API; everything from the SDK inwards is real).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx2

from agentmesh.settings import Settings
from host.agents import AgentConfig
from host.events import TurnEvent
from host.loop import AgentLoop, LoopLimits
from host.models.base import Message, Model, ModelRequest
from host.models.options import ProviderOptions
from host.models.pricing import Price, PriceTable
from host.models.retry import RetryPolicy
from policies.model import Decision
from tests.host.conftest import ACME, make_host, policies, tenant_policy

QUESTION = "What does customer 0123456789 owe?"
ANSWER_PARTS = ["Customer 789 ", "owes 6,789,000 VND."]
AGENT = AgentConfig(
    name="accounts",
    description="Customer balances by MST.",
    system_prompt="You answer questions about customer balances. Use the tools.",
    tools=["probe:lookup_customer"],
)


@dataclass
class Canned:
    status: int = 200
    body: str | bytes = ""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Replay:
    """Answers requests in order with canned responses; remembers what was asked."""

    responses: list[Canned]
    requests: list[httpx2.Request] = field(default_factory=list)

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        if not self.responses:
            return httpx2.Response(500, json={"error": {"message": "the test expected no further request"}})
        canned = self.responses.pop(0)
        return httpx2.Response(canned.status, headers=canned.headers, content=canned.body)

    def body(self, index: int) -> dict[str, Any]:
        return json.loads(self.requests[index].content)


def sse(events: Iterable[tuple[str | None, dict[str, Any]]]) -> Canned:
    """A `text/event-stream` body of (event name, data) pairs."""
    lines = []
    for name, data in events:
        if name:
            lines.append(f"event: {name}")
        lines.append(f"data: {json.dumps(data)}")
        lines.append("")
    return Canned(body="\n".join(lines) + "\n", headers={"content-type": "text/event-stream"})


def options(replay: Replay) -> ProviderOptions:
    return ProviderOptions(
        http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(replay)),
        timeout_seconds=5.0,
        retry=RetryPolicy(max_retries=2, base_seconds=0.01),
        prices=PriceTable([Price(match="*", input=3.0, output=15.0)]),
    )


def expected_cost(input_tokens: int, output_tokens: int) -> float:
    return round((input_tokens * 3.0 + output_tokens * 15.0) / 1_000_000, 8)


async def run_with_probe(settings: Settings, probe_url: str, model: Model) -> list[TurnEvent]:
    """One turn of AGENT with `model` against the real probe server; every call allowed."""
    host, parts = make_host(
        settings,
        {"probe": probe_url},
        agents=[AGENT],
        policy_set=policies(tenant_policy("acme", agents=["accounts"], allow=["probe:*"])),
    )
    catalog = parts.catalog
    events: list[TurnEvent] = []
    async with anyio.create_task_group() as task_group:
        await host.pool.start(task_group)
        await host.pool.wait_ready(5)
        await catalog.refresh("probe")
        tools = catalog.select(AGENT.tools, tenant_id="acme")
        loop = AgentLoop(
            agent=AGENT,
            model=model,
            runner=parts.executor,
            tools=tools,
            authorize=lambda tool, arguments: Decision(effect="allow", rule="test", reason="test"),
            limits=LoopLimits(),
        )
        request = ModelRequest(
            system=AGENT.system_prompt,
            messages=[Message(role="user", content=QUESTION)],
            tools=tools,
            memory={"shipment_id": "SH-1042"},
        )
        events = [event async for event in loop.run(ACME, request)]
        host.pool.stop()
    return events
