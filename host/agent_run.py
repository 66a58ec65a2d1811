"""One agent answering within a turn: its loop, started fresh or resumed after an approval.

Both ways end the same: a turn that stopped on calls needing approval is persisted as a pending
approval (any replica can resume it) and the request is audited; an answered turn remembers its
agent, so a short follow-up can stay with it. Tool calls that ran are audited and recorded in the
turn's episode by the run's observer.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from host.approvals import ApprovalError, Approvals, PausedTurnRecord
from host.audit_trail import AuditTrail
from host.caller import Caller
from host.catalog import ToolSpec, split_external_name
from host.episodes import TurnRecorder
from host.events import FinalEvent, TurnEvent
from host.executor import ToolOutcome
from host.loop import AgentLoop, PausedTurn
from host.models.base import ModelRequest, ModelResponse, ToolCall
from host.replies import reply
from host.steps import Approval
from host.turn import LAST_AGENT_KEY
from policies.model import Decision


class RunObserver:
    """Audits each tool call that ran (or was not offered) and feeds the turn's episode."""

    def __init__(self, caller: Caller, audit: AuditTrail, recorder: TurnRecorder) -> None:
        self._caller = caller
        self._audit = audit
        self._recorder = recorder

    def model_step(self, response: ModelResponse) -> None:
        self._recorder.model_step(response)

    def tool_ran(self, tool: ToolSpec, call: ToolCall, decision: Decision, outcome: ToolOutcome) -> None:
        self._audit.tool_call(
            self._caller,
            tool.qualified_name,
            call.arguments,
            is_error=outcome.is_error,
            error_code=outcome.error_code,
            duration_ms=outcome.duration_ms,
            rule=decision.rule,
        )
        self._recorder.tool_ran(tool, call, decision, outcome)

    def tool_not_offered(self, call: ToolCall) -> None:
        """A model asked for a tool its agent was not offered: audited as a deny, never called."""
        server, name = split_external_name(call.name)
        refusal = Decision(effect="deny", rule="not-offered", reason="not offered to this agent")
        self._audit.decision(self._caller, f"{server}:{name}", refusal, arguments=call.arguments)
        self._recorder.tool_not_offered(call)


class AgentRun:
    """An agent's loop for one caller and request, and what its final event means."""

    def __init__(
        self,
        *,
        caller: Caller,
        agent: str,
        loop: AgentLoop,
        request: ModelRequest,
        approvals: Approvals,
        audit: AuditTrail,
    ) -> None:
        self.caller = caller
        self.agent = agent
        self.request = request
        self._loop = loop
        self._approvals = approvals
        self._audit = audit

    async def start(self) -> AsyncIterator[TurnEvent]:
        """The agent's turn from the request's messages."""
        async for event in self._loop.run(self.caller, self.request):
            yield await self._finished(event) if isinstance(event, FinalEvent) else event

    async def resume(self, paused: PausedTurn, approval: Approval) -> AsyncIterator[TurnEvent]:
        """The agent's paused turn, continued with a person's decision on its waiting calls."""
        async for event in self._loop.resume(self.caller, self.request, paused, approval):
            yield await self._finished(event) if isinstance(event, FinalEvent) else event

    async def _finished(self, event: FinalEvent) -> FinalEvent:
        """Persist a pause for approval; remember the agent of an answer for follow-ups."""
        paused = self._loop.paused
        if paused is not None:
            return await self._pause(event, paused)
        if event.outcome == "answered":
            return event.model_copy(update={"memory": {**event.memory, LAST_AGENT_KEY: self.agent}})
        return event

    async def _pause(self, event: FinalEvent, paused: PausedTurn) -> FinalEvent:
        record = PausedTurnRecord(
            caller=self.caller,
            paused=paused,
            memory=self.request.memory,
            attachments=self.request.attachments,
            language=self.request.language,
        )
        try:
            approval = await self._approvals.create(self.agent, record)
        except ApprovalError:
            answer = reply(self.request.language, "approvals_unavailable")
            return event.model_copy(update={"answer": answer, "outcome": "error"})
        for call in approval.calls:
            self._audit.decision(
                self.caller,
                f"{call.server}:{call.tool}",
                Decision(effect="approve", rule="approval.requested", reason=call.reason),
                arguments=call.arguments,
                action="approval.requested",
            )
        return event.model_copy(update={"approval_id": approval.id})
