"""One step of the loop: deciding each proposed tool call, then running the decided ones.

`plan_calls` is the one place a proposed call is decided: runnable, refused (with the one wording
of its reason, `host.refusals`) or awaiting a person's approval; a person's decision on a paused
turn is one more input of it. `ToolStep` runs a plan: it announces every call, answers the
refused ones with their refusal, runs the runnable ones concurrently under a capacity limit
(results streamed as they finish) and keeps the observations in the order the model asked.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import anyio
from mcp.shared.dispatcher import ProgressFnT
from pydantic import BaseModel

from host import refusals
from host.arguments import LAST_TOOL_KEY, remembered_entities
from host.caller import Caller
from host.catalog import ToolSpec, split_external_name
from host.events import ToolCallEvent, ToolResultEvent, TurnEvent
from host.executor import ToolOutcome
from host.models.base import ATTACHMENT_SCHEME, Attachment, Message, ModelResponse, ToolCall
from policies.model import Decision

NOT_OFFERED_RULE = "not-offered"
REJECTED_RULE = "human-approval"


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
        progress: ProgressFnT | None = None,
    ) -> ToolOutcome: ...


class TurnObserver(Protocol):
    """Told of each model step and each tool call that ran or was not offered (audit, episodes)."""

    def model_step(self, response: ModelResponse) -> None: ...

    def tool_ran(self, tool: ToolSpec, call: ToolCall, decision: Decision, outcome: ToolOutcome) -> None: ...

    def tool_not_offered(self, call: ToolCall) -> None: ...


class _Unobserved:
    def model_step(self, response: ModelResponse) -> None:
        return None

    def tool_ran(self, tool: ToolSpec, call: ToolCall, decision: Decision, outcome: ToolOutcome) -> None:
        return None

    def tool_not_offered(self, call: ToolCall) -> None:
        return None


UNOBSERVED: TurnObserver = _Unobserved()
"""The observer of a loop nobody watches (tests, replays without recording)."""

Authorize = Callable[[ToolSpec, dict[str, Any]], Decision]


class Approval(BaseModel):
    """A person's decision on the calls a paused turn waits for."""

    approved: bool
    approver: str


# -- the plan of one step ----------------------------------------------------------------------


@dataclass(frozen=True)
class Runnable:
    """A call policy allows (or a person approved): it runs."""

    call: ToolCall
    tool: ToolSpec
    decision: Decision

    @property
    def rule(self) -> str:
        return self.decision.rule


@dataclass(frozen=True)
class Refused:
    """A call that is not made; the model observes `outcome` instead of a result."""

    call: ToolCall
    outcome: ToolOutcome
    rule: str


@dataclass(frozen=True)
class AwaitingApproval:
    """A call policy puts before a person: the turn pauses until someone decides."""

    call: ToolCall
    reason: str
    rule: str


PlannedCall = Runnable | Refused | AwaitingApproval


@dataclass(frozen=True)
class StepPlan:
    """What happens to each call a model step proposed, in the order the model asked."""

    calls: tuple[PlannedCall, ...]

    @property
    def runnable(self) -> list[Runnable]:
        return [planned for planned in self.calls if isinstance(planned, Runnable)]

    @property
    def awaiting(self) -> list[AwaitingApproval]:
        return [planned for planned in self.calls if isinstance(planned, AwaitingApproval)]


def call_key(call: ToolCall) -> str:
    """What makes two calls the same call: the tool and its arguments."""
    return f"{call.name}:{json.dumps(call.arguments, sort_keys=True, default=str)}"


def _with_attachments(arguments: dict[str, Any], attachments: list[Attachment]) -> dict[str, Any]:
    """Replace `attachment://<name>` values with that attachment's upload reference."""
    if not attachments:
        return arguments
    by_name = {attachment.name: attachment.reference for attachment in attachments}
    return {
        key: by_name.get(value.removeprefix(ATTACHMENT_SCHEME), value)
        if isinstance(value, str) and value.startswith(ATTACHMENT_SCHEME)
        else value
        for key, value in arguments.items()
    }


def _observation(call: ToolCall, outcome: ToolOutcome) -> Message:
    return Message(
        role="tool",
        content=outcome.text,
        tool_call_id=call.id,
        tool_name=call.name,
        structured=outcome.structured,
        is_error=outcome.is_error,
        error_code=outcome.error_code,
    )


def _result_event(call: ToolCall, outcome: ToolOutcome) -> ToolResultEvent:
    server, name = split_external_name(call.name)
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


def _call_event(planned: PlannedCall) -> ToolCallEvent:
    server, name = split_external_name(planned.call.name)
    return ToolCallEvent(
        call_id=planned.call.id,
        server=server,
        tool=name,
        arguments=planned.call.arguments,
        decision_rule=planned.rule,
    )


def plan_calls(
    calls: Sequence[ToolCall],
    tools: Mapping[str, ToolSpec],
    authorize: Authorize,
    observer: TurnObserver,
    approval: Approval | None = None,
) -> StepPlan:
    """Decide each call once: runnable, refused (and why), or awaiting a person.

    `tools` are the tools offered, by external name. `approval` is a person's decision on calls
    that were awaiting it: rejected calls are refused; approved ones run unless policy now denies
    them outright.
    """
    planned: list[PlannedCall] = []
    for call in calls:
        tool = tools.get(call.name)
        if tool is None:
            observer.tool_not_offered(call)
            planned.append(Refused(call, refusals.not_offered(call.name), NOT_OFFERED_RULE))
        elif approval is not None and not approval.approved:
            planned.append(Refused(call, refusals.rejected(approval.approver), REJECTED_RULE))
        else:
            decision = authorize(tool, call.arguments)
            if decision.effect == "deny":
                planned.append(Refused(call, refusals.denied(decision.reason), decision.rule))
            elif decision.effect == "approve" and approval is None:
                planned.append(AwaitingApproval(call, decision.reason, decision.rule))
            else:
                planned.append(Runnable(call, tool, decision))
    return StepPlan(tuple(planned))


class ToolStep:
    """Runs one step's plan: announces each call, refuses the refused ones, runs the runnable ones.

    After iterating `run`: `outcomes` holds what each call that ran produced (by call id),
    `observations` what the model reads next (in the order it asked), and `remembered` the
    entities the successful calls named (for the session's memory).
    """

    def __init__(
        self,
        plan: StepPlan,
        *,
        runner: ToolRunner,
        granted: Callable[[str], frozenset[str]],
        max_parallel: int,
        timeout_seconds: float,
        observer: TurnObserver,
    ) -> None:
        self.plan = plan
        self.outcomes: dict[str, ToolOutcome] = {}
        self.observations: list[Message] = []
        self.remembered: dict[str, Any] = {}
        self._runner = runner
        self._granted = granted
        self._max_parallel = max_parallel
        self._timeout = timeout_seconds
        self._observer = observer

    @property
    def all_unavailable(self) -> bool:
        """Whether every call that was made failed because its server is down."""
        return bool(self.outcomes) and all(outcome.server_unavailable for outcome in self.outcomes.values())

    @property
    def decided(self) -> list[ToolCall]:
        """The calls this step settled (ran or refused): all but those awaiting a person."""
        return [planned.call for planned in self.plan.calls if not isinstance(planned, AwaitingApproval)]

    async def run(self, caller: Caller, attachments: list[Attachment]) -> AsyncIterator[TurnEvent]:
        observations: dict[str, Message] = {}
        for planned in self.plan.calls:
            yield _call_event(planned)
            if isinstance(planned, Refused):
                observations[planned.call.id] = _observation(planned.call, planned.outcome)
                yield _result_event(planned.call, planned.outcome)
        async for runnable, outcome in self._execute(caller, attachments):
            self.outcomes[runnable.call.id] = outcome
            self._observer.tool_ran(runnable.tool, runnable.call, runnable.decision, outcome)
            if not outcome.is_error:
                self.remembered.update(
                    remembered_entities(runnable.tool.input_schema, runnable.call.arguments)
                )
                self.remembered[LAST_TOOL_KEY] = runnable.tool.external_name
            observations[runnable.call.id] = _observation(runnable.call, outcome)
            yield _result_event(runnable.call, outcome)
        self.observations = [
            observations[planned.call.id] for planned in self.plan.calls if planned.call.id in observations
        ]

    async def _execute(
        self, caller: Caller, attachments: list[Attachment]
    ) -> AsyncIterator[tuple[Runnable, ToolOutcome]]:
        """The runnable calls, concurrently under a capacity limit, each yielded as it finishes."""
        runnable = self.plan.runnable
        if not runnable:
            return
        limiter = anyio.CapacityLimiter(self._max_parallel)
        send, receive = anyio.create_memory_object_stream[tuple[Runnable, ToolOutcome]](len(runnable))

        async def run_one(planned: Runnable) -> None:
            async with limiter:
                outcome = await self._runner.call(
                    caller,
                    planned.tool,
                    _with_attachments(planned.call.arguments, attachments),
                    granted=self._granted(planned.tool.server),
                    timeout=self._timeout,
                )
            await send.send((planned, outcome))

        # Leaving early (the consumer stopped) cancels the calls still running before the
        # streams close, so no call sends into a closed stream.
        async with send, receive, anyio.create_task_group() as calls:
            for planned in runnable:
                calls.start_soon(run_one, planned)
            for _ in runnable:
                yield await receive.receive()
