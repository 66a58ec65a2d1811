"""Running one chat turn for an authenticated user: session in, host events out, transcript kept.

A turn is recorded only when it reaches its final event, in one SQL transaction (shielded, so a
client leaving at that moment cannot cut it in half); a turn cancelled before then (the client
disconnected mid-stream) leaves no trace in the session. Tool-call latencies, token use and the
turn's own duration go to the metrics; the turn is one span of the request's trace.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence

import anyio
import structlog
from opentelemetry import trace
from pydantic import BaseModel, Field

from gateway.admission import Admission
from gateway.auth import AuthenticatedUser
from gateway.metrics import GatewayMetrics
from gateway.schemas import AttachmentIn, ChatRequest, ChatResponse, Step
from gateway.sessions import SessionKey, SessionStore, SessionWindow, StoredMessage
from gateway.usage import UsageLedger
from host.agent_host import AgentHost, TurnInput
from host.caller import Caller
from host.events import FinalEvent, RouteEvent, ToolCallEvent, ToolResultEvent, TurnEvent
from host.models.base import Attachment, Message
from policies.input_caps import base64_decoded_size, check_attachment, check_message

log = structlog.get_logger(__name__)
tracer = trace.get_tracer("agentmesh.gateway")


def history_of(window: SessionWindow) -> list[Message]:
    return [
        Message(role="user" if m.role == "user" else "assistant", content=m.content)
        for m in window.messages
        if m.role in ("user", "assistant")
    ]


def step_of(event: TurnEvent) -> Step | None:
    if isinstance(event, RouteEvent):
        return Step(
            type="route",
            agent=event.agent,
            duration_ms=event.duration_ms,
            detail={
                "confidence": round(event.confidence, 4),
                "reason": event.reason,
                "candidates": event.candidates,
            },
        )
    if isinstance(event, ToolCallEvent):
        return Step(
            type="tool_call",
            server=event.server,
            tool=event.tool,
            arguments=event.arguments,
            detail={"call_id": event.call_id, "policy_rule": event.decision_rule},
        )
    if isinstance(event, ToolResultEvent):
        return Step(
            type="tool_result",
            server=event.server,
            tool=event.tool,
            is_error=event.is_error,
            duration_ms=event.duration_ms,
            detail={"call_id": event.call_id, "text": event.text, "truncated": event.truncated},
        )
    if isinstance(event, FinalEvent):
        return Step(
            type="final",
            agent=event.agent,
            duration_ms=round(event.duration_ms, 3),
            detail={"outcome": event.outcome},
        )
    return None


class TurnRequest(BaseModel):
    """What one turn answers, whichever API it came from.

    `session` is where the turn is recorded (the chat API); None for stateless callers such as the
    OpenAI-compatible API, whose clients send the history themselves.
    """

    message: str
    history: list[Message] = Field(default_factory=list)
    memory: dict[str, object] = Field(default_factory=dict)
    attachments: list[Attachment] = Field(default_factory=list)
    agent: str | None = None
    session: SessionKey | None = None


def response_of(session_id: str, final: FinalEvent, steps: list[Step]) -> ChatResponse:
    return ChatResponse(
        session_id=session_id,
        agent=final.agent,
        answer=final.answer,
        outcome=final.outcome,
        data=final.data,
        render=final.render,
        citations=final.citations,
        approval_id=final.approval_id,
        steps=steps,
        usage=final.usage,
    )


class ChatTurn:
    """One turn: opens the session window, runs the host, records the transcript and the usage."""

    def __init__(
        self,
        host: AgentHost,
        sessions: SessionStore,
        admission: Admission,
        metrics: GatewayMetrics,
        *,
        usage: UsageLedger | None = None,
    ) -> None:
        self._host = host
        self._sessions = sessions
        self._admission = admission
        self._metrics = metrics
        self._usage = usage

    def check_input(
        self, user: AuthenticatedUser, message: str, attachments: Sequence[AttachmentIn] = ()
    ) -> None:
        """413 when the message or an attachment is larger than the tenant's policy accepts."""
        limits = self._host.policies.limits(user.tenant_id)
        check_message(limits, message)
        for attachment in attachments:
            check_attachment(limits, attachment.name, base64_decoded_size(attachment.content_base64))

    async def open(self, user: AuthenticatedUser, body: ChatRequest) -> SessionWindow:
        """The session this turn continues (or a new one); refused if it is another user's, or if
        the input is larger than the tenant's policy accepts."""
        self.check_input(user, body.message, body.attachments)
        return await self._sessions.open(user.tenant_id, user.subject, body.session_id)

    @staticmethod
    def request_of(body: ChatRequest, window: SessionWindow) -> TurnRequest:
        return TurnRequest(
            message=body.message,
            history=history_of(window),
            memory=window.memory,
            attachments=[Attachment(**a.model_dump()) for a in body.attachments],
            agent=body.agent,
            session=window.key,
        )

    async def run(self, user: AuthenticatedUser, request: TurnRequest) -> AsyncIterator[TurnEvent]:
        """The turn's events, as the host yields them; the turn is recorded at its final event."""
        session_id = request.session.session_id if request.session else None
        caller = Caller(
            tenant_id=user.tenant_id, subject=user.subject, roles=user.roles, session_id=session_id
        )
        turn = TurnInput(
            caller=caller,
            message=request.message,
            history=request.history,
            memory=request.memory,
            attachments=request.attachments,
            agent=request.agent,
        )
        started = time.perf_counter()
        outcome, agent = "cancelled", None
        recorded = 0.0  # seconds spent writing the turn down, which the turn histogram leaves out
        calls: list[dict[str, object]] = []
        attributes = {"agentmesh.tenant_id": user.tenant_id, "agentmesh.session_id": session_id or ""}
        with tracer.start_as_current_span("chat turn", attributes=attributes) as span:
            try:
                async for event in self._host.run_turn(turn):
                    if isinstance(event, ToolCallEvent):
                        calls.append(
                            {"server": event.server, "tool": event.tool, "arguments": event.arguments}
                        )
                    elif isinstance(event, ToolResultEvent):
                        self._metrics.record_tool_call(
                            event.server, event.tool, event.duration_ms / 1000, is_error=event.is_error
                        )
                    elif isinstance(event, FinalEvent):
                        outcome, agent = event.outcome, event.agent
                        span.set_attribute("agentmesh.agent", event.agent or "")
                        span.set_attribute("agentmesh.outcome", event.outcome)
                        # Shielded: once the answer exists it is recorded whole, even if the client left.
                        recording = time.perf_counter()
                        with anyio.CancelScope(shield=True):
                            await self._record(user, request, event, calls)
                        recorded += time.perf_counter() - recording
                    yield event
            except Exception:
                outcome = "error"
                raise
            finally:
                seconds = time.perf_counter() - started
                self._metrics.turns.labels(user.tenant_id, outcome).observe(seconds - recorded)
                # One line per turn; tenant, session and trace ids come from the log context.
                log.info(
                    "turn_finished",
                    outcome=outcome,
                    agent=agent,
                    tool_calls=len(calls),
                    ms=round(seconds * 1000, 1),
                )

    async def _record(
        self, user: AuthenticatedUser, request: TurnRequest, final: FinalEvent, calls: list[dict[str, object]]
    ) -> None:
        """The turn's one database write: transcript and usage record together (usage alone when
        the turn has no session), then the metrics and the token quotas."""
        usage = final.usage
        entry = (
            UsageLedger.entry(
                tenant_id=user.tenant_id,
                user_id=user.subject,
                channel="chat" if request.session is not None else "openai",
                outcome=final.outcome,
                usage=usage,
                agent=final.agent,
            )
            if self._usage is not None
            else None
        )
        if request.session is not None:
            answer = StoredMessage(
                role="assistant",
                content=final.answer,
                agent=final.agent,
                meta={"outcome": final.outcome, "tool_calls": calls, "usage": usage.model_dump()},
            )
            await self._sessions.append_turn(
                request.session, request.message, answer, final.memory, also=[entry] if entry else []
            )
        elif entry is not None and self._usage is not None:
            await self._usage.add(entry)
        self._metrics.record_usage(user.tenant_id, usage.input_tokens, usage.output_tokens, usage.cost_usd)
        await self._admission.charge_tokens(user, usage.total_tokens)

    async def respond(
        self, user: AuthenticatedUser, body: ChatRequest, window: SessionWindow | None = None
    ) -> ChatResponse:
        """Run the turn to its end and fold its events into one response."""
        window = window or await self.open(user, body)
        steps: list[Step] = []
        final: FinalEvent | None = None
        async for event in self.run(user, self.request_of(body, window)):
            step = step_of(event)
            if step is not None:
                steps.append(step)
            if isinstance(event, FinalEvent):
                final = event
        assert final is not None, "a turn always ends with a final event"
        return response_of(window.key.session_id, final, steps)
