"""The ReAct loop is bounded and safe: parallel calls capped, steps and budgets enforced, calls timed
out and size-capped, repeated calls stopped, denied calls never made, approvals paused and resumed.

The model here is scripted (a remote LLM is the one thing out of reach); the tools are the real
probe MCP server over HTTP.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import anyio
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agentmesh.bus_sql import SqlBus
from agentmesh.cloudevents import EventPublisher
from agentmesh.settings import Settings
from host.agents import AgentConfig
from host.catalog import ToolSpec
from host.circuit import CircuitBreakers
from host.events import TurnEvent
from host.loop import AgentLoop, LoopLimits, PausedTurn
from host.models.base import Message, ModelRequest, ModelResponse, TextDelta, ToolCall
from host.steps import Approval
from policies.model import Decision
from tests.host.conftest import ACME, HostParts, make_host, of_type, policies
from tests.host.probe_server import ProbeThread
from tests.support.bus import drain

AGENT = AgentConfig(name="probe", description="Probe tools.", tools=["probe:*"], max_steps=32)
ALLOW = Decision(effect="allow", rule="test:allow", reason="allowed in this test")
_ids = itertools.count(1)


def call(tool: str, **arguments: Any) -> ToolCall:
    return ToolCall(id=f"call-{next(_ids)}", name=f"probe__{tool}", arguments=arguments)


class ScriptedModel:
    """A model whose steps are given: each step is a response, or a function of the request."""

    name = "scripted"

    def __init__(self, steps: list[ModelResponse | Callable[[ModelRequest], ModelResponse]]) -> None:
        self._steps = iter(steps)
        self.requests: list[ModelRequest] = []

    async def stream(self, request: ModelRequest) -> AsyncIterator[TextDelta | ModelResponse]:
        self.requests.append(request)
        step = next(self._steps)
        response = step(request) if callable(step) else step
        if response.text:
            yield TextDelta(text=response.text)
        yield response


def answer(text: str = "done") -> ModelResponse:
    return ModelResponse(text=text)


def calls(*tool_calls: ToolCall) -> ModelResponse:
    return ModelResponse(tool_calls=list(tool_calls))


@pytest.fixture
def parts(shared_settings: Settings, probe: ProbeThread) -> Iterator[HostParts]:
    _, host_parts = make_host(shared_settings, {"probe": probe.url}, agents=[AGENT], policy_set=policies())
    yield host_parts


@contextlib.asynccontextmanager
async def connected(parts: HostParts) -> AsyncIterator[list[ToolSpec]]:
    """The pool connected to the probe; yields the probe's tools."""
    async with anyio.create_task_group() as task_group:
        await parts.pool.start(task_group)
        await parts.pool.wait_ready(5)
        await parts.catalog.refresh("probe")
        try:
            yield parts.catalog.select(AGENT.tools, tenant_id="acme")
        finally:
            parts.pool.stop()


def loop_over(
    parts: HostParts,
    tools: list[ToolSpec],
    model: ScriptedModel,
    *,
    limits: LoopLimits | None = None,
    authorize: Callable[[ToolSpec, dict[str, Any]], Decision] = lambda tool, arguments: ALLOW,
) -> AgentLoop:
    return AgentLoop(
        agent=AGENT,
        model=model,
        runner=parts.executor,
        tools=tools,
        authorize=authorize,
        limits=limits or LoopLimits(),
    )


async def run(
    parts: HostParts,
    model: ScriptedModel,
    *,
    limits: LoopLimits | None = None,
    authorize: Callable[[ToolSpec, dict[str, Any]], Decision] = lambda tool, arguments: ALLOW,
) -> tuple[list[TurnEvent], AgentLoop]:
    async with connected(parts) as tools:
        loop = loop_over(parts, tools, model, limits=limits, authorize=authorize)
        request = ModelRequest(messages=[Message(role="user", content="go")])
        events = [event async for event in loop.run(ACME, request)]
    return events, loop


async def test_parallel_calls_never_exceed_the_cap(parts: HostParts, probe: ProbeThread) -> None:
    model = ScriptedModel([calls(*(call("record_visit", label=f"v{i}") for i in range(6))), answer()])
    events, _ = await run(parts, model, limits=LoopLimits(max_parallel_tool_calls=2))
    assert probe.state.max_running == 2
    assert len(of_type(events, "tool_result")) == 6
    # The model reads the results in the order it asked for them, whatever order they finished in.
    observed = [m.tool_call_id for m in model.requests[1].messages if m.role == "tool"]
    asked = [c.id for c in model.requests[1].messages[1].tool_calls]
    assert observed == asked
    assert events[-1].outcome == "answered"


async def test_calls_of_one_step_do_run_concurrently_up_to_the_cap(
    parts: HostParts, probe: ProbeThread
) -> None:
    model = ScriptedModel([calls(*(call("record_visit", label=f"v{i}") for i in range(4))), answer()])
    await run(parts, model, limits=LoopLimits(max_parallel_tool_calls=4))
    assert probe.state.max_running == 4


async def test_the_step_limit_ends_the_turn_visibly(parts: HostParts, probe: ProbeThread) -> None:
    model = ScriptedModel([calls(call("record_visit", label=f"step {i}")) for i in range(10)])
    events, _ = await run(parts, model, limits=LoopLimits(max_steps=3))
    final = events[-1]
    assert final.outcome == "limit_reached"
    assert final.answer == "I stopped after 3 steps without a final answer (the step limit for this turn)."
    assert len(probe.state.calls) == 3


async def test_the_default_step_limit_is_eight(parts: HostParts, probe: ProbeThread) -> None:
    model = ScriptedModel([calls(call("record_visit", label=f"step {i}")) for i in range(20)])
    events, _ = await run(parts, model)
    assert events[-1].outcome == "limit_reached"
    assert len(probe.state.calls) == 8


async def test_a_repeated_identical_call_stops_the_loop(parts: HostParts, probe: ProbeThread) -> None:
    model = ScriptedModel(
        [calls(call("lookup_customer", mst="0123456789")), calls(call("lookup_customer", mst="0123456789"))]
    )
    events, _ = await run(parts, model)
    assert events[-1].outcome == "limit_reached"
    assert "same call to lookup_customer was about to be repeated" in events[-1].answer
    assert probe.state.calls == ["lookup_customer:0123456789"]


async def test_the_tool_call_budget_is_enforced_before_calling(parts: HostParts, probe: ProbeThread) -> None:
    model = ScriptedModel([calls(*(call("record_visit", label=f"v{i}") for i in range(4)))])
    events, _ = await run(parts, model, limits=LoopLimits(max_tool_calls=3))
    assert events[-1].outcome == "limit_reached"
    assert events[-1].answer == "I stopped: this turn reached its limit of 3 tool calls."
    assert probe.state.calls == []


async def test_a_slow_call_times_out_and_the_model_is_told(parts: HostParts, probe: ProbeThread) -> None:
    probe.state.delay_seconds = 2.0
    model = ScriptedModel([calls(call("lookup_customer", mst="0123456789")), answer("it timed out")])
    events, _ = await run(parts, model, limits=LoopLimits(call_timeout_seconds=0.3))
    [result] = of_type(events, "tool_result")
    assert result.is_error and result.error_code == "timeout"
    assert result.text == "probe:lookup_customer did not answer within 0.3 s"
    assert model.requests[1].messages[-1].is_error
    assert events[-1].answer == "it timed out"


async def test_an_oversized_result_is_cut_with_a_visible_note(parts: HostParts) -> None:
    model = ScriptedModel([calls(call("big_report")), answer()])
    events, _ = await run(parts, model)
    [result] = of_type(events, "tool_result")
    assert result.truncated
    assert result.text == (
        "x" * 2_000
        + "\n[truncated: 2000 of 50000 characters shown]"
        + "\n[structured result omitted: larger than the result size cap]"
    )
    assert result.structured is None
    assert model.requests[1].messages[-1].content == result.text


async def test_a_denied_call_is_never_made_and_the_model_reads_why(
    parts: HostParts, probe: ProbeThread
) -> None:
    def deny_notes(tool: ToolSpec, arguments: dict[str, Any]) -> Decision:
        if tool.name == "create_note":
            return Decision(effect="deny", rule="acme:tools.deny[probe:create_note]", reason="notes are off")
        return ALLOW

    model = ScriptedModel(
        [calls(call("create_note", text="hi"), call("lookup_customer", mst="0123456789")), answer()]
    )
    events, _ = await run(parts, model, authorize=deny_notes)
    denied, _allowed = of_type(events, "tool_call")
    assert denied.decision_rule == "acme:tools.deny[probe:create_note]"
    assert probe.state.calls == ["lookup_customer:0123456789"]
    refused = next(m for m in model.requests[1].messages if m.tool_name == "probe__create_note")
    assert refused.is_error and refused.content == "not allowed by policy: notes are off"


async def test_a_tool_the_agent_was_not_offered_is_refused(parts: HostParts, probe: ProbeThread) -> None:
    model = ScriptedModel([calls(ToolCall(id="x", name="erp__create_order", arguments={})), answer()])
    events, _ = await run(parts, model)
    [result] = of_type(events, "tool_result")
    assert result.is_error and result.text == "tool 'erp__create_order' is not available to this agent"
    assert of_type(events, "tool_call")[0].decision_rule == "not-offered"


async def test_a_call_needing_approval_pauses_and_resumes_when_approved(
    parts: HostParts, probe: ProbeThread
) -> None:
    def approve_notes(tool: ToolSpec, arguments: dict[str, Any]) -> Decision:
        if tool.name == "create_note":
            return Decision(
                effect="approve", rule="base:tools.approve[probe:create_note]", reason="notes need a person"
            )
        return ALLOW

    first = ScriptedModel(
        [calls(call("lookup_customer", mst="0123456789"), call("create_note", text="call back"))]
    )
    second = ScriptedModel([answer("note created")])
    async with connected(parts) as tools:
        loop = loop_over(parts, tools, first, authorize=approve_notes)
        events = [
            e async for e in loop.run(ACME, ModelRequest(messages=[Message(role="user", content="go")]))
        ]
        assert events[-1].outcome == "pending_approval"
        assert events[-1].answer == "create_note needs approval by an authorised person before it can run."
        assert probe.state.calls == ["lookup_customer:0123456789"]
        assert loop.paused is not None
        paused = PausedTurn.model_validate_json(loop.paused.model_dump_json())  # as stored and read back
        assert [c.name for c in paused.pending] == ["probe__create_note"]
        assert paused.reasons[paused.pending[0].id] == "notes need a person"

        again = loop_over(parts, tools, second, authorize=approve_notes)
        request = ModelRequest(messages=paused.messages)
        resumed = [
            e async for e in again.resume(ACME, request, paused, Approval(approved=True, approver="bob"))
        ]
    assert probe.state.calls == ["lookup_customer:0123456789", "create_note:call back"]
    assert [e.type for e in resumed] == ["tool_call", "tool_result", "delta", "final"]
    assert resumed[-1].outcome == "answered"
    assert resumed[-1].usage.tool_calls == 1, (
        "the resumed run reports its own usage (the lookup was reported)"
    )
    tool_messages = [m for m in second.requests[0].messages if m.role == "tool"]
    assert [m.tool_name for m in tool_messages] == ["probe__lookup_customer", "probe__create_note"]


async def test_a_rejected_call_is_not_made_and_the_model_is_told(
    parts: HostParts, probe: ProbeThread
) -> None:
    def approve_all(tool: ToolSpec, arguments: dict[str, Any]) -> Decision:
        return Decision(effect="approve", rule="base:tools.approve[*]", reason="everything needs a person")

    second = ScriptedModel([answer("ok, not created")])
    async with connected(parts) as tools:
        loop = loop_over(
            parts, tools, ScriptedModel([calls(call("create_note", text="x"))]), authorize=approve_all
        )
        [e async for e in loop.run(ACME, ModelRequest(messages=[Message(role="user", content="go")]))]
        assert loop.paused is not None
        again = loop_over(parts, tools, second, authorize=approve_all)
        request = ModelRequest(messages=loop.paused.messages)
        resumed = [
            e
            async for e in again.resume(ACME, request, loop.paused, Approval(approved=False, approver="bob"))
        ]
    assert probe.state.calls == []
    [result] = of_type(resumed, "tool_result")
    assert result.error_code == "rejected" and result.text == "rejected by bob: the call was not made"
    assert resumed[-1].answer == "ok, not created"


async def test_only_read_only_tools_are_retried_when_the_server_is_unreachable(
    shared_settings: Settings,
) -> None:
    _, parts = make_host(
        shared_settings, {"probe": "http://127.0.0.1:9/mcp"}, agents=[AGENT], policy_set=policies()
    )
    read_only = ToolSpec(server="probe", name="lookup_customer", read_only=True)
    changing = ToolSpec(server="probe", name="create_note", destructive=True)
    granted = frozenset({"lookup_customer", "create_note"})
    looked_up = await parts.executor.call(ACME, read_only, {"mst": "0123456789"}, granted=granted, timeout=1)
    created = await parts.executor.call(ACME, changing, {"text": "x"}, granted=granted, timeout=1)
    assert (looked_up.error_code, looked_up.attempts) == ("server_unavailable", 3)
    assert (created.error_code, created.attempts) == ("server_unavailable", 1)
    assert looked_up.text == "the 'probe' server is not reachable right now"


async def test_a_failing_server_trips_its_circuit_and_calls_then_fail_fast(shared_settings: Settings) -> None:
    breakers = CircuitBreakers(failure_threshold=2, reset_seconds=30)
    _, parts = make_host(
        shared_settings,
        {"probe": "http://127.0.0.1:9/mcp"},
        agents=[AGENT],
        policy_set=policies(),
        breakers=breakers,
    )
    changing = ToolSpec(server="probe", name="create_note", destructive=True)
    granted = frozenset({"create_note"})
    first = await parts.executor.call(ACME, changing, {"text": "a"}, granted=granted, timeout=1)
    second = await parts.executor.call(ACME, changing, {"text": "b"}, granted=granted, timeout=1)
    third = await parts.executor.call(ACME, changing, {"text": "c"}, granted=granted, timeout=1)
    assert [o.error_code for o in (first, second, third)] == [
        "server_unavailable",
        "server_unavailable",
        "circuit_open",
    ]
    assert third.server_unavailable  # the loop treats it as the server being down
    assert third.text.startswith("the 'probe' service failed repeatedly; calls to it are paused for")
    assert breakers.states() == {"probe": "open"}


async def test_a_circuit_opening_is_told_to_the_tenant_whose_call_opened_it(
    shared_settings: Settings, database: async_sessionmaker[AsyncSession]
) -> None:
    bus = SqlBus(database, ack_wait_seconds=30)
    _, parts = make_host(
        shared_settings,
        {"probe": "http://127.0.0.1:9/mcp"},
        agents=[AGENT],
        policy_set=policies(),
        breakers=CircuitBreakers(failure_threshold=2, reset_seconds=0.2),
        events=EventPublisher(bus, "/agentmesh/host"),
    )
    changing = ToolSpec(server="probe", name="create_note", destructive=True)
    granted = frozenset({"create_note"})
    for text in ("a", "b", "c"):  # the second opens it, the third fails fast
        await parts.executor.call(ACME, changing, {"text": text}, granted=granted, timeout=1)
    await anyio.sleep(0.3)
    await parts.executor.call(ACME, changing, {"text": "probe"}, granted=granted, timeout=1)  # a failed probe

    told = await drain(bus, "circuit-watch", "acme")
    assert [(e.type, e.body["data"]["server"], e.body["data"]["reason"]) for e in told] == [
        ("circuit.opened", "probe", "server_unavailable")
    ]
    assert await drain(bus, "circuit-watch-globex", "globex") == []
