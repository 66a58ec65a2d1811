"""The ReAct loop of one agent: the model proposes, policy decides, tools run, the model observes.

It stops when the model answers, when `max_steps` is reached (an explicit `limit_reached`), when
the model repeats a call it already made, or when a call needs human approval. Calls of one
step run concurrently, at most `max_parallel_tool_calls` at a time.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from pydantic import BaseModel

from host.agents import AgentConfig
from host.arguments import remembered_entities
from host.caller import Caller
from host.catalog import ToolSpec, split_external_name
from host.events import FinalEvent, Outcome, ToolCallEvent, ToolResultEvent, TurnEvent
from host.executor import ToolExecutor, ToolOutcome
from host.models.base import Message, Model, ModelRequest, ModelResponse, ToolCall
from host.usage import Usage
from policies.model import Decision


class LoopLimits(BaseModel):
    """Bounds on one turn's loop (policy may tighten them per tenant)."""

    max_steps: int = 8
    max_parallel_tool_calls: int = 4
    max_tool_calls: int = 16
    call_timeout_seconds: float = 30.0


Authorize = Callable[[ToolSpec, dict[str, Any]], Decision]


def _call_key(call: ToolCall) -> str:
    return f"{call.name}:{json.dumps(call.arguments, sort_keys=True, default=str)}"


class AgentLoop:
    """Runs one agent's turn and yields its events."""

    def __init__(
        self,
        *,
        agent: AgentConfig,
        model: Model,
        executor: ToolExecutor,
        tools: list[ToolSpec],
        authorize: Authorize,
        limits: LoopLimits,
    ) -> None:
        self._agent = agent
        self._model = model
        self._executor = executor
        self._tools = {tool.external_name: tool for tool in tools}
        self._authorize = authorize
        self._limits = limits
        self._granted: dict[str, frozenset[str]] = {}
        for tool in tools:
            self._granted[tool.server] = self._granted.get(tool.server, frozenset()) | {tool.name}

    async def run(self, caller: Caller, request: ModelRequest) -> AsyncIterator[TurnEvent]:
        started = time.perf_counter()
        usage = Usage()
        memory: dict[str, Any] = {}
        made: set[str] = set()
        messages = list(request.messages)
        last: ModelResponse | None = None

        def final(answer: str, outcome: Outcome, response: ModelResponse | None = None) -> FinalEvent:
            return FinalEvent(
                agent=self._agent.name,
                answer=answer,
                outcome=outcome,
                data=response.data if response else None,
                render=response.render if response else None,
                citations=response.citations if response else [],
                usage=usage,
                memory=memory,
                duration_ms=(time.perf_counter() - started) * 1000,
            )

        max_steps = min(self._limits.max_steps, self._agent.max_steps)
        for _ in range(max_steps):
            step_request = request.model_copy(
                update={"messages": messages, "memory": {**request.memory, **memory}}
            )
            last = await self._model.respond(step_request)
            usage = usage.add(last.usage)
            if not last.tool_calls:
                yield final(last.text, "needs_input" if last.needs_input else "answered", last)
                return

            repeated = [call for call in last.tool_calls if _call_key(call) in made]
            if repeated:
                name = split_external_name(repeated[0].name)[1]
                yield final(
                    f"I stopped because the same call to {name} was about to be repeated with the same "
                    "arguments; the results above are what I found.",
                    "limit_reached",
                )
                return
            if usage.tool_calls + len(last.tool_calls) > self._limits.max_tool_calls:
                yield final(
                    f"I stopped: this turn reached its limit of {self._limits.max_tool_calls} tool calls.",
                    "limit_reached",
                )
                return

            messages.append(Message(role="assistant", content=last.text, tool_calls=last.tool_calls))
            pending_approval: list[str] = []
            async for event in self._run_calls(caller, last.tool_calls, messages, memory, pending_approval):
                yield event
            made.update(_call_key(call) for call in last.tool_calls)
            usage = usage.add(Usage(tool_calls=len(last.tool_calls)))
            if pending_approval:
                names = ", ".join(pending_approval)
                yield final(
                    f"{names} needs approval by an authorised person before it can run.", "pending_approval"
                )
                return

        yield final(
            f"I stopped after {max_steps} steps without a final answer (the step limit for this turn).",
            "limit_reached",
            last,
        )

    async def _run_calls(
        self,
        caller: Caller,
        calls: list[ToolCall],
        messages: list[Message],
        memory: dict[str, Any],
        pending_approval: list[str],
    ) -> AsyncIterator[TurnEvent]:
        semaphore = asyncio.Semaphore(self._limits.max_parallel_tool_calls)
        runnable: list[tuple[ToolCall, ToolSpec]] = []

        for call in calls:
            tool = self._tools.get(call.name)
            server, name = split_external_name(call.name)
            if tool is None:
                decision_rule = "not-offered"
                outcome = ToolOutcome(
                    is_error=True, text=f"tool '{call.name}' is not available to this agent", duration_ms=0.0
                )
            else:
                decision = self._authorize(tool, call.arguments)
                decision_rule = decision.rule
                outcome = None
                if decision.effect == "deny":
                    outcome = ToolOutcome(
                        is_error=True, text=f"not allowed by policy: {decision.reason}", duration_ms=0.0
                    )
                elif decision.effect == "approve":
                    pending_approval.append(tool.qualified_name)
                    outcome = ToolOutcome(
                        is_error=True, text=f"waiting for approval: {decision.reason}", duration_ms=0.0
                    )
            yield ToolCallEvent(
                call_id=call.id,
                server=server,
                tool=name,
                arguments=call.arguments,
                decision_rule=decision_rule,
            )
            if outcome is not None:
                messages.append(self._observation(call, outcome))
                yield self._result_event(call, server, name, outcome)
            else:
                assert tool is not None
                runnable.append((call, tool))

        async def bounded(call: ToolCall, tool: ToolSpec) -> tuple[ToolCall, ToolSpec, ToolOutcome]:
            async with semaphore:
                outcome = await self._executor.call(
                    caller,
                    tool,
                    call.arguments,
                    granted=self._granted.get(tool.server, frozenset()),
                    timeout=self._limits.call_timeout_seconds,
                )
                return call, tool, outcome

        tasks: list[Awaitable[tuple[ToolCall, ToolSpec, ToolOutcome]]] = [
            bounded(call, tool) for call, tool in runnable
        ]
        for next_done in asyncio.as_completed(tasks):
            call, tool, outcome = await next_done
            if not outcome.is_error:
                memory.update(remembered_entities(tool.input_schema, call.arguments))
            messages.append(self._observation(call, outcome))
            yield self._result_event(call, tool.server, tool.name, outcome)

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
        )
