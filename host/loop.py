"""The ReAct loop of one agent: the model proposes, policy decides, tools run, the model observes.

A turn is a sequence of small typed steps (`host.steps`): each model step either answers (the
turn ends) or proposes tool calls, which are planned (runnable, refused, or awaiting a person's
approval) and run by a `ToolStep`.

The loop ends when the model answers or asks the user something; when `max_steps` or the
tool-call budget is reached (an explicit `limit_reached`); when the model repeats a call it
already made with the same arguments; when the services a step needed are unavailable (a plain
`unavailable` answer, so other agents are unaffected); or when a call needs a person's approval.
A paused turn's state (`PausedTurn`) is persisted by the host and resumed later, on any replica,
through the same planning and step code: the person's decision is one more input of the plan.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from host.agents import AgentConfig
from host.answers import tool_titles
from host.caller import Caller
from host.catalog import ToolSpec, split_external_name
from host.events import DeltaEvent, ErrorEvent, FinalEvent, Outcome, TurnEvent
from host.language import Language
from host.models.base import Message, Model, ModelError, ModelRequest, ModelResponse, TextDelta, ToolCall
from host.replies import joined, reply
from host.steps import (
    UNOBSERVED,
    Approval,
    Authorize,
    StepPlan,
    ToolRunner,
    ToolStep,
    TurnObserver,
    call_key,
    plan_calls,
)
from host.usage import Usage


class LoopLimits(BaseModel):
    """Bounds on one turn's loop (the tenant's policy limits tighten them)."""

    max_steps: int = Field(default=8, ge=1)
    max_parallel_tool_calls: int = Field(default=4, ge=1)
    max_tool_calls: int = Field(default=16, ge=1)
    call_timeout_seconds: float = Field(default=30.0, gt=0)


class LoopState(BaseModel):
    """Everything a turn has accumulated; enough to continue it later."""

    messages: list[Message]
    memory: dict[str, Any] = Field(default_factory=dict)
    usage: Usage = Field(
        default_factory=Usage, description="what this run used (since it started or resumed)"
    )
    made: list[str] = Field(default_factory=list, description="keys of the turn's calls already decided")
    steps: int = 0


class PausedTurn(LoopState):
    """A turn waiting for approval of `pending` calls (their assistant message is the last one)."""

    pending: list[ToolCall]
    reasons: dict[str, str] = Field(default_factory=dict, description="why each pending call needs approval")
    rules: dict[str, str] = Field(
        default_factory=dict, description="the policy rule asking approval of each pending call"
    )


class AgentLoop:
    """Runs one agent's turn (new or resumed) and yields its events."""

    def __init__(
        self,
        *,
        agent: AgentConfig,
        model: Model,
        runner: ToolRunner,
        tools: Sequence[ToolSpec],
        authorize: Authorize,
        limits: LoopLimits,
        observer: TurnObserver = UNOBSERVED,
    ) -> None:
        self._agent = agent
        self._model = model
        self._runner = runner
        self._tools = {tool.external_name: tool for tool in tools}
        self._authorize = authorize
        self._limits = limits
        self._observer = observer
        self._granted: dict[str, frozenset[str]] = {}
        for tool in tools:
            self._granted[tool.server] = self._granted.get(tool.server, frozenset()) | {tool.name}
        self.paused: PausedTurn | None = None
        """Set when the turn ended waiting for approval: the state to persist."""

    def _actions(self, calls: Sequence[ToolCall], language: Language) -> str:
        """The calls' actions as the reader says them: the tool's title in the reader's language
        ("tạo đơn hàng", "Create order") when it has one there, else its name."""
        names = set()
        for call in calls:
            tool = self._tools.get(call.name)
            title = tool_titles(tool.title, tool.render).get(language) if tool else None
            names.add(title or split_external_name(call.name)[1])
        return joined(sorted(names), language)

    def plan_calls(self, calls: Sequence[ToolCall], approval: Approval | None = None) -> StepPlan:
        """Decide the proposed calls (`host.steps.plan_calls`) over this agent's tools."""
        return plan_calls(calls, self._tools, self._authorize, self._observer, approval)

    async def _run_step(
        self, caller: Caller, request: ModelRequest, state: LoopState, step: ToolStep
    ) -> AsyncIterator[TurnEvent]:
        """Run `step` and fold what it produced into the turn's state."""
        async for event in step.run(caller, request.attachments):
            yield event
        state.messages.extend(step.observations)
        state.memory.update(step.remembered)
        state.made.extend(call_key(call) for call in step.decided)
        state.usage = state.usage.add(Usage(tool_calls=len(step.decided)))

    def _step(self, plan: StepPlan) -> ToolStep:
        return ToolStep(
            plan,
            runner=self._runner,
            granted=lambda server: self._granted.get(server, frozenset()),
            max_parallel=self._limits.max_parallel_tool_calls,
            timeout_seconds=self._limits.call_timeout_seconds,
            observer=self._observer,
        )

    async def run(self, caller: Caller, request: ModelRequest) -> AsyncIterator[TurnEvent]:
        """A new turn from `request`."""
        state = LoopState(messages=list(request.messages))
        async for event in self._drive(caller, request, state, time.perf_counter()):
            yield event

    async def resume(
        self, caller: Caller, request: ModelRequest, paused: PausedTurn, approval: Approval
    ) -> AsyncIterator[TurnEvent]:
        """Continue a paused turn: the decided calls go through the same step, then the loop goes on."""
        started = time.perf_counter()
        # The usage before the pause was reported (and charged) when the turn paused: a resumed
        # run reports only its own. Steps and calls still count against the whole turn's limits.
        state = LoopState.model_validate(paused.model_dump(exclude={"pending", "reasons", "rules", "usage"}))
        step = self._step(self.plan_calls(paused.pending, approval))
        async for event in self._run_step(caller, request, state, step):
            yield event
        async for event in self._drive(caller, request, state, started):
            yield event

    async def _drive(
        self, caller: Caller, request: ModelRequest, state: LoopState, started: float
    ) -> AsyncIterator[TurnEvent]:
        language = request.language

        def final(answer: str, outcome: Outcome, response: ModelResponse | None = None) -> FinalEvent:
            return FinalEvent(
                agent=self._agent.name,
                answer=answer,
                outcome=outcome,
                data=response.data if response else None,
                render=response.render if response else None,
                citations=response.citations if response else [],
                usage=state.usage,
                memory=state.memory,
                duration_ms=(time.perf_counter() - started) * 1000,
            )

        max_steps = min(self._limits.max_steps, self._agent.max_steps)
        last: ModelResponse | None = None
        while state.steps < max_steps:
            state.steps += 1
            step_request = request.model_copy(
                update={"messages": state.messages, "memory": {**request.memory, **state.memory}}
            )
            last = None
            try:
                async for item in self._model.stream(step_request):
                    if isinstance(item, TextDelta):
                        yield DeltaEvent(text=item.text)
                    else:
                        last = item
            except ModelError as exc:
                yield ErrorEvent(code=exc.code, message=exc.message)
                yield final(_model_failure(exc, language), "error")
                return
            if last is None:
                yield ErrorEvent(
                    code="model_no_response", message=f"{self._model.name} ended its step without a response"
                )
                yield final(reply(language, "model_silent"), "error")
                return
            self._observer.model_step(last)
            state.usage = state.usage.add(last.usage)
            if not last.tool_calls:
                yield final(last.text, last.ending, last)
                return

            stop = self._stop_before(last.tool_calls, state, request)
            if stop is not None:
                yield final(stop, "limit_reached")
                return
            state.messages.append(Message(role="assistant", content=last.text, tool_calls=last.tool_calls))
            step = self._step(self.plan_calls(last.tool_calls))
            async for event in self._run_step(caller, request, state, step):
                yield event
            awaiting = step.plan.awaiting
            if awaiting:
                self.paused = PausedTurn(
                    **state.model_dump(),
                    pending=[planned.call for planned in awaiting],
                    reasons={planned.call.id: planned.reason for planned in awaiting},
                    rules={planned.call.id: planned.rule for planned in awaiting},
                )
                names = self._actions([planned.call for planned in awaiting], language)
                yield final(reply(language, "pending_approval", tools=names), "pending_approval")
                return
            if step.all_unavailable:
                servers = sorted({split_external_name(call.name)[0] for call in last.tool_calls})
                answer = reply(
                    language, "agent_unavailable", agent=self._agent.name, servers=", ".join(servers)
                )
                yield final(answer, "unavailable")
                return

        yield final(reply(language, "step_limit", limit=max_steps), "limit_reached", last)

    def _stop_before(self, calls: Sequence[ToolCall], state: LoopState, request: ModelRequest) -> str | None:
        """Why the proposed calls must not run (a repeat, or over the budget); None when they may."""
        made = set(state.made)
        repeated = [call for call in calls if call_key(call) in made]
        if repeated:
            return reply(request.language, "repeated_call", tool=split_external_name(repeated[0].name)[1])
        if len(state.made) + len(calls) > self._limits.max_tool_calls:
            return reply(request.language, "tool_budget", limit=self._limits.max_tool_calls)
        return None


def _model_failure(error: ModelError, language: Language) -> str:
    """What the user reads when a model step failed (a spent budget says when it resets)."""
    if error.code == "budget_exceeded":
        resets = datetime.fromisoformat(str(error.details["resets_at"]))
        return reply(
            language, "budget_exceeded", limit=f"{error.details['limit_usd']:g}", resets=f"{resets:%H:%M}"
        )
    return reply(language, "model_failed", reason=error.message)
