"""The one turn runner: a fresh chat turn and a turn resumed after an approval, run the same way.

Whatever starts a turn (the chat API, the OpenAI-compatible API, an admin deciding an approval),
`TurnRunner` admits it and runs it identically:

- **admission**: the turn holds one of its tenant's concurrent-turn slots (429 when all are
  taken) from admission until its events end or it is closed unread; its model tokens are
  charged to the tenant's and the user's token quotas;
- **trace**: the turn is one `chat turn` span of the request's trace;
- **metrics**: each tool call's latency, the tokens and cost, and the turn's duration by outcome;
- **record**: at the final event, in one SQL transaction (shielded, so a client leaving at that
  moment cannot cut it in half), the transcript and session memory with the turn's usage row; a
  turn cancelled before its final event (the client disconnected) leaves no trace.

A resumed turn belongs to the user whose turn paused: it takes their tenant's slot, is charged to
their quotas and appends its answer to their session.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal

import anyio
import structlog
from opentelemetry import trace
from pydantic import BaseModel, Field

from agentmesh.uploads import handle_of
from gateway.admission import Admission, Quotaholder
from gateway.auth import AuthenticatedUser
from gateway.errors import ApiError
from gateway.metrics import GatewayMetrics
from gateway.schemas import AttachmentIn, ChatRequest, ChatResponse, Step
from gateway.session_events import SessionEvent, SessionEvents
from gateway.sessions import SessionKey, SessionStore, SessionWindow, StoredMessage
from gateway.uploads import UploadInfo, UploadStore
from gateway.usage import UsageLedger
from host.agent_host import AgentHost
from host.approvals import ApprovalNotFound
from host.caller import Caller
from host.events import FinalEvent, RouteEvent, ToolCallEvent, ToolResultEvent, TurnEvent
from host.language import Language
from host.models.base import Attachment, Message
from host.turn import TurnInput
from policies.input_caps import base64_decoded_size, check_attachment, check_message

log = structlog.get_logger(__name__)
tracer = trace.get_tracer("agentmesh.gateway")
"""The process's tracer (its provider is installed by `agentmesh.telemetry` at start)."""

Channel = Literal["chat", "openai", "approval"]


def _decoded(name: str, content_base64: str) -> bytes:
    try:
        return base64.b64decode(content_base64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ApiError("invalid_request", f"the attachment '{name}' is not valid base64") from exc


STORED_DATA_MAX_BYTES = 64 * 1024
"""The largest tool result a transcript keeps to draw again (its table, chart, facts) on reload."""


def _drawing(final: FinalEvent) -> dict[str, Any]:
    """What a client needs to draw the answer again as it first did: its citations, and the
    tool's data with how to render it (left out when larger than `STORED_DATA_MAX_BYTES`)."""
    kept: dict[str, Any] = {"citations": final.citations} if final.citations else {}
    drawable = final.data is not None and final.render is not None
    if drawable and len(json.dumps(final.data, default=str)) <= STORED_DATA_MAX_BYTES:
        kept.update(data=final.data, render=final.render)
    return kept


def history_of(window: SessionWindow) -> list[Message]:
    return [
        Message(role="user" if m.role == "user" else "assistant", content=m.content)
        for m in window.messages
        if m.role in ("user", "assistant")
    ]


def step_of(event: TurnEvent) -> Step | None:
    """The step a client sees for `event` (None for text deltas and errors)."""
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
    """What one fresh turn answers, whichever API it came from.

    `session` is where the turn is recorded (the chat API); None for stateless callers such as the
    OpenAI-compatible API, whose clients send the history themselves.
    """

    message: str
    history: list[Message] = Field(default_factory=list)
    memory: dict[str, object] = Field(default_factory=dict)
    attachments: list[Attachment] = Field(default_factory=list)
    agent: str | None = None
    session: SessionKey | None = None
    preferred_language: Language | None = None


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


@dataclass(frozen=True)
class TurnRecord:
    """Where a turn's final event is written down."""

    channel: Channel
    session: SessionKey | None = None
    user_message: str | None = None
    """The message that started the turn (None: the turn's message is already in the session)."""
    meta: dict[str, Any] = field(default_factory=dict)
    """Written with the answer (for a resumed turn: the approval and who decided)."""


class AdmittedTurn:
    """A turn holding its tenant's concurrent-turn slot; run it with `events`, or `aclose` it unread."""

    def __init__(
        self,
        runner: TurnRunner,
        owner: Quotaholder,
        source: Callable[[], AsyncIterator[TurnEvent]],
        record: TurnRecord,
        slot: contextlib.AsyncExitStack,
    ) -> None:
        self._runner = runner
        self._owner = owner
        self._source = source
        self._record = record
        self._slot = slot

    async def __aenter__(self) -> AdmittedTurn:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Give the slot back (idempotent; shielded, so a cancelled client still releases it)."""
        with anyio.CancelScope(shield=True):
            await self._slot.aclose()

    async def events(self) -> AsyncIterator[TurnEvent]:
        """The turn's events; the slot is released when they end, however they end."""
        try:
            async for event in self._runner.run(self._owner, self._source(), self._record):
                yield event
        finally:
            await self.aclose()


class TurnRunner:
    """Admits, runs, observes and records turns over the host."""

    def __init__(
        self,
        host: AgentHost,
        sessions: SessionStore,
        admission: Admission,
        metrics: GatewayMetrics,
        usage: UsageLedger,
        uploads: UploadStore,
        *,
        session_events: SessionEvents | None = None,
        tracer: trace.Tracer = tracer,
    ) -> None:
        self._host = host
        self._sessions = sessions
        self._admission = admission
        self._metrics = metrics
        self._usage = usage
        self._session_events = session_events
        self._uploads = uploads
        self._tracer = tracer

    # -- input -------------------------------------------------------------------------------

    def check_input(self, user: AuthenticatedUser, message: str) -> None:
        """413 when the message is longer than the tenant's policy accepts."""
        check_message(self._host.policies.limits(user.tenant_id), message)

    async def open_session(self, user: AuthenticatedUser, body: ChatRequest) -> SessionWindow:
        """The session a chat turn continues (or a new one); refused if it is another user's, or if
        the message is longer than the tenant's policy accepts."""
        self.check_input(user, body.message)
        return await self._sessions.open(user.tenant_id, user.subject, body.session_id)

    async def attachments(self, user: AuthenticatedUser, files: Sequence[AttachmentIn]) -> list[Attachment]:
        """The turn's files, each by its upload reference.

        Every file is checked before any is stored: 413 when one is larger than the tenant's
        policy accepts, 404 `upload_not_found` for a reference the caller may not use (another
        tenant's, another user's). Inline files are then stored as uploads of the caller.
        """
        limits = self._host.policies.limits(user.tenant_id)
        found: dict[int, UploadInfo] = {}
        decoded: dict[int, bytes] = {}
        for number, file in enumerate(files):
            if file.upload is not None:
                info = await self._uploads.usable(
                    user.tenant_id, handle_of(file.upload), subject=user.subject, roles=user.roles
                )
                check_attachment(limits, file.name, info.size_bytes)
                found[number] = info
            else:
                assert file.content_base64 is not None
                check_attachment(limits, file.name, base64_decoded_size(file.content_base64))
                decoded[number] = _decoded(file.name, file.content_base64)
        for number, data in decoded.items():
            found[number] = await self._uploads.save_bytes(
                user.tenant_id,
                uploaded_by=user.subject,
                filename=files[number].name,
                media_type=files[number].media_type,
                data=data,
            )
        return [
            Attachment(
                name=file.name,
                media_type=file.media_type or found[number].media_type,
                reference=found[number].reference,
                size_bytes=found[number].size_bytes,
            )
            for number, file in enumerate(files)
        ]

    @staticmethod
    def chat_request(body: ChatRequest, window: SessionWindow, attachments: list[Attachment]) -> TurnRequest:
        return TurnRequest(
            message=body.message,
            history=history_of(window),
            memory=window.memory,
            attachments=attachments,
            agent=body.agent,
            session=window.key,
            preferred_language=body.language,
        )

    # -- admitting ---------------------------------------------------------------------------

    async def start(self, user: AuthenticatedUser, request: TurnRequest) -> AdmittedTurn:
        """Admit a fresh turn for `user` (429 when the tenant runs all the turns it may)."""
        session_id = request.session.session_id if request.session else None
        caller = user.caller(session_id)
        turn = TurnInput(
            caller=caller,
            message=request.message,
            history=request.history,
            memory=request.memory,
            attachments=request.attachments,
            agent=request.agent,
            preferred_language=request.preferred_language,
        )
        record = TurnRecord(
            channel="chat" if request.session is not None else "openai",
            session=request.session,
            user_message=request.message,
        )
        return await self._admit(user, lambda: self._host.run_turn(turn), record)

    async def resume(
        self, approver: AuthenticatedUser, tenant_id: str, approval_id: str, *, approve: bool
    ) -> AdmittedTurn:
        """Decide the approval `approval_id` of `tenant_id` and admit its paused turn to continue.

        404 when the tenant has no such approval; 429 when the turn's tenant runs all the turns it
        may (nothing is decided then); 403 for an approver without the right role and 409 for a
        second decision, from the host.
        """
        pending = await self._host.approvals.get(approval_id, tenant_id=tenant_id)
        if pending is None:
            raise ApprovalNotFound(f"no approval '{approval_id}' for tenant '{tenant_id}'")
        owner = Caller(tenant_id=pending.tenant_id, subject=pending.subject, session_id=pending.session_id)
        slot = await self._slot(owner)
        try:
            decider = Caller(tenant_id=approver.tenant_id, subject=approver.subject, roles=approver.roles)
            claimed = await self._host.claim_approval(approval_id, decider, approve)
        except BaseException:
            await slot.aclose()
            raise
        session = (
            SessionKey(tenant_id=pending.tenant_id, user_id=pending.subject, session_id=pending.session_id)
            if pending.session_id is not None
            else None
        )
        record = TurnRecord(
            channel="approval",
            session=session,
            meta={"approval_id": pending.id, "decided_by": approver.subject},
        )
        return AdmittedTurn(self, owner, lambda: self._host.resume_turn(claimed), record, slot)

    async def _admit(
        self, owner: Quotaholder, source: Callable[[], AsyncIterator[TurnEvent]], record: TurnRecord
    ) -> AdmittedTurn:
        return AdmittedTurn(self, owner, source, record, await self._slot(owner))

    async def _slot(self, owner: Quotaholder) -> contextlib.AsyncExitStack:
        """One of the owner's tenant's concurrent-turn slots, held until the stack is closed."""
        slot = contextlib.AsyncExitStack()
        await slot.enter_async_context(self._admission.turn(owner))
        return slot

    # -- running -----------------------------------------------------------------------------

    async def run(
        self, owner: Quotaholder, events: AsyncIterator[TurnEvent], record: TurnRecord
    ) -> AsyncIterator[TurnEvent]:
        """`events` as the host yields them, traced and counted; recorded at the final event."""
        session_id = record.session.session_id if record.session else ""
        started = time.perf_counter()
        outcome, agent = "cancelled", None
        recorded = 0.0  # seconds spent writing the turn down, which the turn histogram leaves out
        calls: list[dict[str, object]] = []
        attributes = {
            "agentmesh.tenant_id": owner.tenant_id,
            "agentmesh.session_id": session_id,
            "agentmesh.channel": record.channel,
        }
        feed = _SessionFeed.of(self._session_events, record)
        with self._tracer.start_as_current_span("chat turn", attributes=attributes) as span:
            try:
                if feed is not None:
                    await feed.started(record)
                async for event in events:
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
                            await self._record(owner, record, event, calls)
                        recorded += time.perf_counter() - recording
                    if feed is not None:
                        await feed.publish(event)
                    yield event
            except Exception:
                outcome = "error"
                raise
            finally:
                seconds = time.perf_counter() - started
                self._metrics.turns.labels(owner.tenant_id, outcome).observe(seconds - recorded)
                # One line per turn; tenant, session and trace ids come from the log context.
                log.info(
                    "turn_finished",
                    channel=record.channel,
                    outcome=outcome,
                    agent=agent,
                    tool_calls=len(calls),
                    ms=round(seconds * 1000, 1),
                )

    async def _record(
        self, owner: Quotaholder, record: TurnRecord, final: FinalEvent, calls: list[dict[str, object]]
    ) -> None:
        """The turn's one database write (transcript, memory and usage together; usage alone when
        there is no session to write to), then the metrics and the token quotas."""
        usage = final.usage
        entry = UsageLedger.entry(
            tenant_id=owner.tenant_id,
            user_id=owner.subject,
            channel=record.channel,
            outcome=final.outcome,
            usage=usage,
            agent=final.agent,
        )
        meta: dict[str, Any] = {"outcome": final.outcome, "tool_calls": calls, "usage": usage.model_dump()}
        meta.update(_drawing(final))
        if final.approval_id is not None:
            # A paused turn names its approval, so a client reading the transcript can wait for it.
            meta["pending_approval_id"] = final.approval_id
        answer = StoredMessage(
            role="assistant", content=final.answer, agent=final.agent, meta={**meta, **record.meta}
        )
        if record.session is None:
            await self._usage.add(entry)
        elif record.user_message is not None:
            await self._sessions.append_turn(
                record.session, record.user_message, answer, final.memory, also=[entry]
            )
        elif not await self._sessions.append_answer(record.session, answer, final.memory, also=[entry]):
            await self._usage.add(entry)  # the session was deleted meanwhile: the usage still counts
        self._metrics.record_usage(
            owner.tenant_id, usage.input_tokens, usage.output_tokens, entry.cost_micro_usd
        )
        await self._admission.charge_tokens(owner, usage.total_tokens)


class _SessionFeed:
    """Publishes a session's turn, event by event, to whoever watches the session (best effort:
    a turn never fails or waits because a watcher cannot be told; the transcript stays the record)."""

    def __init__(self, events: SessionEvents, session: SessionKey, channel: Channel) -> None:
        self._events = events
        self._session = session
        self._channel = channel
        self._turn_id = uuid.uuid4().hex
        self._steps: list[Step] = []

    @classmethod
    def of(cls, events: SessionEvents | None, record: TurnRecord) -> _SessionFeed | None:
        if events is None or record.session is None:
            return None
        return cls(events, record.session, record.channel)

    async def started(self, record: TurnRecord) -> None:
        await self._send("turn", {"meta": record.meta})

    async def publish(self, event: TurnEvent) -> None:
        step = step_of(event)
        if step is not None:
            self._steps.append(step)
        if isinstance(event, FinalEvent):
            final = response_of(self._session.session_id, event, self._steps)
            await self._send("final", final.model_dump(mode="json"))
        else:
            await self._send(event.type, event.model_dump(mode="json"))

    async def _send(self, kind: str, data: dict[str, Any]) -> None:
        event = SessionEvent(turn_id=self._turn_id, channel=self._channel, event=kind, data=data)
        try:
            await self._events.publish(self._session, event)
        except Exception as exc:  # a watcher's channel is down: the turn goes on, the log says so
            log.warning("session_event_not_published", event=kind, error=type(exc).__name__)


async def fold(events: AsyncIterator[TurnEvent]) -> tuple[FinalEvent, list[Step]]:
    """Run a turn to its end: its final event and the steps a client sees."""
    steps: list[Step] = []
    final: FinalEvent | None = None
    async for event in events:
        step = step_of(event)
        if step is not None:
            steps.append(step)
        if isinstance(event, FinalEvent):
            final = event
    assert final is not None, "a turn always ends with a final event"
    return final, steps
