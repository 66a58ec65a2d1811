"""The ReAct loop of one agent: the model proposes, policy decides, tools run, the model observes.

It ends when the model answers or asks the user something; when `max_steps` or the tool-call
budget is reached (an explicit `limit_reached`); when the model repeats a call it already made
with the same arguments; when the services a step needed are unavailable (a plain `unavailable`
answer, so other agents are unaffected); or when a call needs a person's approval (the loop's
state is handed back as a `PausedTurn` to persist and `resume` later, on any replica).
Calls of one step run concurrently, at most `max_parallel_tool_calls` at a time; the model sees
their results in the order it asked for them.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any, Protocol

from pydantic import BaseModel, Field

from host.agents import AgentConfig
from host.arguments import remembered_entities
from host.caller import Caller
from host.catalog import ToolSpec, split_external_name
from host.events import DeltaEvent, ErrorEvent, FinalEvent, Outcome, ToolCallEvent, ToolResultEvent, TurnEvent
from host.executor import ToolOutcome
from host.models.base import (
    ATTACHMENT_SCHEME,
    Attachment,
    Message,
    Model,
    ModelError,
    ModelRequest,
    ModelResponse,
    TextDelta,
    ToolCall,
)
from host.usage import Usage
from policies.model import Decision


class LoopLimits(BaseModel):
    """Bounds on one turn's loop (the tenant's policy limits tighten them)."""

    max_steps: int = Field(default=8, ge=1)
    max_parallel_tool_calls: int = Field(default=4, ge=1)
    max_tool_calls: int = Field(default=16, ge=1)
    call_timeout_seconds: float = Field(default=30.0, gt=0)


class ToolRunner(Protocol):
    """What runs a tool call (the MCP executor, or recorded results during replay)."""

    async def call(
        self,
        caller: Caller,
        tool: ToolSpec,
        arguments: dict[str, Any],
        *,
        granted: frozenset[str],
        timeout: float,
    ) -> ToolOutcome: ...


class TurnObserver(Protocol):
    """Told of each model step and each tool call that ran (audit, episode recording)."""

    def model_step(self, response: ModelResponse) -> None: ...

    def tool_ran(self, tool: ToolSpec, call: ToolCall, decision: Decision, outcome: ToolOutcome) -> None: ...

    def tool_not_offered(self, call: ToolCall) -> None: ...


Authorize = Callable[[ToolSpec, dict[str, Any]], Decision]


class LoopState(BaseModel):
    """Everything a turn has accumulated; enough to continue it later."""

    messages: list[Message]
    memory: dict[str, Any] = Field(default_factory=dict)
    usage: Usage = Field(default_factory=Usage)
    made: list[str] = Field(default_factory=list, description="keys of the calls already made")
    steps: int = 0


class PausedTurn(LoopState):
    """A turn waiting for approval of `pending` calls (their assistant message is the last one)."""

    pending: list[ToolCall]
    reasons: dict[str, str] = Field(default_factory=dict, description="why each pending call needs approval")


def call_key(call: ToolCall) -> str:
    """What makes two calls the same call: the tool and its arguments."""
    return f"{call.name}:{json.dumps(call.arguments, sort_keys=True, default=str)}"


def _with_attachments(arguments: dict[str, Any], attachments: list[Attachment]) -> dict[str, Any]:
    """Replace `attachment://<name>` values with that attachment's base64 content."""
    if not attachments:
        return arguments
    by_name = {attachment.name: attachment.content_base64 for attachment in attachments}
    return {
        key: by_name.get(value.removeprefix(ATTACHMENT_SCHEME), value)
        if isinstance(value, str) and value.startswith(ATTACHMENT_SCHEME)
        else value
        for key, value in arguments.items()
    }


class AgentLoop:
    """Runs one agent's turn and yields its events."""

    def __init__(
        self,
        *,
        agent: AgentConfig,
        model: Model,
        runner: ToolRunner,
        tools: list[ToolSpec],
        authorize: Authorize,
        limits: LoopLimits,
        observer: TurnObserver | None = None,
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

    async def run(self, caller: Caller, request: ModelRequest) -> AsyncIterator[TurnEvent]:
        """A new turn from `request`."""
        state = LoopState(messages=list(request.messages))
        async for event in self._drive(caller, request, state, time.perf_counter()):
            yield event

    async def resume(
        self, caller: Caller, request: ModelRequest, paused: PausedTurn, *, approved: bool, approver: str
    ) -> AsyncIterator[TurnEvent]:
        """Continue a paused turn: run (or refuse) the pending calls, then carry on looping."""
        started = time.perf_counter()
        state = LoopState.model_validate(paused.model_dump(exclude={"pending", "reasons"}))
        observations: dict[str, Message] = {}
        runnable: list[tuple[ToolCall, ToolSpec, Decision]] = []
        for call in paused.pending:
            tool = self._tools.get(call.name)
            server, name = split_external_name(call.name)
            decision = self._authorize(tool, call.arguments) if tool is not None else None
            rule = decision.rule if decision is not None else "not-offered"
            yield ToolCallEvent(
                call_id=call.id, server=server, tool=name, arguments=call.arguments, decision_rule=rule
            )
            if not approved:
                refusal = ToolOutcome(
                    is_error=True,
                    text=f"rejected by {approver}: the call was not made",
                    duration_ms=0.0,
                    error_code="rejected",
                )
            elif tool is None or decision is None:
                if self._observer is not None:
                    self._observer.tool_not_offered(call)
                refusal = ToolOutcome(
                    is_error=True,
                    text=f"tool '{call.name}' is no longer available",
                    duration_ms=0.0,
                    error_code="not_offered",
                )
            elif decision.effect == "deny":
                refusal = ToolOutcome(
                    is_error=True,
                    text=f"not allowed by policy: {decision.reason}",
                    duration_ms=0.0,
                    error_code="denied",
                )
            else:
                runnable.append((call, tool, decision))
                continue
            observations[call.id] = self._observation(call, refusal)
            yield self._result_event(call, server, name, refusal)
        async for event in self._execute(caller, request, runnable, state, observations):
            yield event
        state.messages.extend(observations[call.id] for call in paused.pending if call.id in observations)
        state.made.extend(call_key(call) for call in paused.pending)
        state.usage = state.usage.add(Usage(tool_calls=len(runnable)))
        async for event in self._drive(caller, request, state, started):
            yield event

    # -- the loop ----------------------------------------------------------------------------

    async def _drive(
        self, caller: Caller, request: ModelRequest, state: LoopState, started: float
    ) -> AsyncIterator[TurnEvent]:
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
            try:
                async for item in self._model.stream(step_request):
                    if isinstance(item, TextDelta):
                        yield DeltaEvent(text=item.text)
                    else:
                        last = item
            except ModelError as exc:
                yield ErrorEvent(code=exc.code, message=exc.message)
                yield final(f"The model could not answer: {exc.message}", "error")
                return
            if last is None:
                yield ErrorEvent(
                    code="model_no_response", message=f"{self._model.name} ended its step without a response"
                )
                yield final("The model could not answer.", "error")
                return
            if self._observer is not None:
                self._observer.model_step(last)
            state.usage = state.usage.add(last.usage)
            if not last.tool_calls:
                yield final(last.text, "needs_input" if last.needs_input else "answered", last)
                return

            made = set(state.made)
            repeated = [call for call in last.tool_calls if call_key(call) in made]
            if repeated:
                name = split_external_name(repeated[0].name)[1]
                yield final(
                    f"I stopped because the same call to {name} was about to be repeated with the same "
                    "arguments; the results above are what I found.",
                    "limit_reached",
                )
                return
            if state.usage.tool_calls + len(last.tool_calls) > self._limits.max_tool_calls:
                yield final(
                    f"I stopped: this turn reached its limit of {self._limits.max_tool_calls} tool calls.",
                    "limit_reached",
                )
                return

            state.messages.append(Message(role="assistant", content=last.text, tool_calls=last.tool_calls))
            pending: list[ToolCall] = []
            reasons: dict[str, str] = {}
            outcomes: list[ToolOutcome] = []
            async for event in self._run_calls(
                caller, request, last.tool_calls, state, pending, reasons, outcomes
            ):
                yield event
            state.made.extend(call_key(call) for call in last.tool_calls if call not in pending)
            state.usage = state.usage.add(Usage(tool_calls=len(last.tool_calls) - len(pending)))
            if pending:
                self.paused = PausedTurn(**state.model_dump(), pending=pending, reasons=reasons)
                names = ", ".join(sorted({split_external_name(call.name)[1] for call in pending}))
                yield final(
                    f"{names} needs approval by an authorised person before it can run.", "pending_approval"
                )
                return
            if outcomes and all(outcome.server_unavailable for outcome in outcomes):
                yield final(self._unavailable_answer(last.tool_calls), "unavailable")
                return

        yield final(
            f"I stopped after {max_steps} steps without a final answer (the step limit for this turn).",
            "limit_reached",
            last,
        )

    def _unavailable_answer(self, calls: list[ToolCall]) -> str:
        servers = sorted({split_external_name(call.name)[0] for call in calls})
        return (
            f"The '{self._agent.name}' assistant cannot answer right now: the {', '.join(servers)} service "
            "is unavailable. Other assistants keep working; please try again shortly."
        )

    async def _run_calls(
        self,
        caller: Caller,
        request: ModelRequest,
        calls: list[ToolCall],
        state: LoopState,
        pending: list[ToolCall],
        reasons: dict[str, str],
        outcomes: list[ToolOutcome],
    ) -> AsyncIterator[TurnEvent]:
        """Authorise each call, run the allowed ones, and append every observation in call order."""
        observations: dict[str, Message] = {}
        runnable: list[tuple[ToolCall, ToolSpec, Decision]] = []
        for call in calls:
            tool = self._tools.get(call.name)
            server, name = split_external_name(call.name)
            refusal: ToolOutcome | None = None
            if tool is None:
                rule = "not-offered"
                if self._observer is not None:
                    self._observer.tool_not_offered(call)
                refusal = ToolOutcome(
                    is_error=True,
                    text=f"tool '{call.name}' is not available to this agent",
                    duration_ms=0.0,
                    error_code="not_offered",
                )
            else:
                decision = self._authorize(tool, call.arguments)
                rule = decision.rule
                if decision.effect == "deny":
                    refusal = ToolOutcome(
                        is_error=True,
                        text=f"not allowed by policy: {decision.reason}",
                        duration_ms=0.0,
                        error_code="denied",
                    )
                elif decision.effect == "approve":
                    pending.append(call)
                    reasons[call.id] = decision.reason
                else:
                    runnable.append((call, tool, decision))
            yield ToolCallEvent(
                call_id=call.id, server=server, tool=name, arguments=call.arguments, decision_rule=rule
            )
            if refusal is not None:
                observations[call.id] = self._observation(call, refusal)
                yield self._result_event(call, server, name, refusal)
        async for event in self._execute(caller, request, runnable, state, observations, outcomes):
            yield event
        state.messages.extend(observations[call.id] for call in calls if call.id in observations)

    async def _execute(
        self,
        caller: Caller,
        request: ModelRequest,
        runnable: list[tuple[ToolCall, ToolSpec, Decision]],
        state: LoopState,
        observations: dict[str, Message],
        outcomes: list[ToolOutcome] | None = None,
    ) -> AsyncIterator[TurnEvent]:
        """Run calls concurrently (bounded); yield results as they finish."""
        if not runnable:
            return
        semaphore = asyncio.Semaphore(self._limits.max_parallel_tool_calls)

        async def bounded(
            call: ToolCall, tool: ToolSpec, decision: Decision
        ) -> tuple[ToolCall, ToolSpec, Decision, ToolOutcome]:
            async with semaphore:
                outcome = await self._runner.call(
                    caller,
                    tool,
                    _with_attachments(call.arguments, request.attachments),
                    granted=self._granted.get(tool.server, frozenset()),
                    timeout=self._limits.call_timeout_seconds,
                )
                return call, tool, decision, outcome

        tasks = [asyncio.ensure_future(bounded(call, tool, decision)) for call, tool, decision in runnable]
        try:
            for next_done in asyncio.as_completed(tasks):
                call, tool, decision, outcome = await next_done
                if self._observer is not None:
                    self._observer.tool_ran(tool, call, decision, outcome)
                if not outcome.is_error:
                    state.memory.update(remembered_entities(tool.input_schema, call.arguments))
                if outcomes is not None:
                    outcomes.append(outcome)
                observations[call.id] = self._observation(call, outcome)
                yield self._result_event(call, tool.server, tool.name, outcome)
        finally:
            for task in tasks:
                task.cancel()

    @staticmethod
    def _observation(call: ToolCall, outcome: ToolOutcome) -> Message:
        return Message(
            role="tool",
            content=outcome.text,
            tool_call_id=call.id,
            tool_name=call.name,
            structured=outcome.structured,
            is_error=outcome.is_error,
        )

    @staticmethod
    def _result_event(call: ToolCall, server: str, name: str, outcome: ToolOutcome) -> ToolResultEvent:
        return ToolResultEvent(
            call_id=call.id,
            server=server,
            tool=name,
            is_error=outcome.is_error,
            text=outcome.text,
            structured=outcome.structured,
            duration_ms=round(outcome.duration_ms, 2),
            truncated=outcome.truncated,
            error_code=outcome.error_code,
        )
