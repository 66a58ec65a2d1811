"""Running one chat turn for an authenticated user: session in, host events out, transcript kept."""

from __future__ import annotations

from collections.abc import AsyncIterator

from gateway.auth import AuthenticatedUser
from gateway.schemas import ChatRequest, ChatResponse, Step
from gateway.sessions import SessionStore, SessionWindow, StoredMessage
from host.agent_host import AgentHost, TurnInput
from host.caller import Caller
from host.events import FinalEvent, RouteEvent, ToolCallEvent, ToolResultEvent, TurnEvent
from host.models.base import Attachment, Message


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


class ChatTurn:
    """One turn: opens the session window, runs the host, records the transcript."""

    def __init__(self, host: AgentHost, sessions: SessionStore) -> None:
        self._host = host
        self._sessions = sessions

    async def open(self, user: AuthenticatedUser, body: ChatRequest) -> SessionWindow:
        """The session this turn continues (or a new one); refused if it is another user's."""
        return await self._sessions.open(user.tenant_id, user.subject, body.session_id)

    async def events(
        self, user: AuthenticatedUser, body: ChatRequest, window: SessionWindow
    ) -> AsyncIterator[TurnEvent]:
        """The turn's events; the transcript is written when the final event is reached."""
        caller = Caller(
            tenant_id=user.tenant_id, subject=user.subject, roles=user.roles, session_id=window.key.session_id
        )
        turn = TurnInput(
            caller=caller,
            message=body.message,
            history=history_of(window),
            memory=window.memory,
            attachments=[Attachment(**a.model_dump()) for a in body.attachments],
            agent=body.agent,
        )
        calls: list[dict[str, object]] = []
        async for event in self._host.run_turn(turn):
            if isinstance(event, ToolCallEvent):
                calls.append({"server": event.server, "tool": event.tool, "arguments": event.arguments})
            if isinstance(event, FinalEvent):
                answer = StoredMessage(
                    role="assistant",
                    content=event.answer,
                    agent=event.agent,
                    meta={"outcome": event.outcome, "tool_calls": calls, "usage": event.usage.model_dump()},
                )
                await self._sessions.append_turn(window.key, body.message, answer, event.memory)
            yield event

    async def respond(self, user: AuthenticatedUser, body: ChatRequest) -> ChatResponse:
        """Run the turn to its end and fold its events into one response."""
        window = await self.open(user, body)
        steps: list[Step] = []
        final: FinalEvent | None = None
        async for event in self.events(user, body, window):
            step = step_of(event)
            if step is not None:
                steps.append(step)
            if isinstance(event, FinalEvent):
                final = event
        assert final is not None, "a turn always ends with a final event"
        return ChatResponse(
            session_id=window.key.session_id,
            agent=final.agent,
            answer=final.answer,
            outcome=final.outcome,
            data=final.data,
            render=final.render,
            citations=final.citations,
            steps=steps,
            usage=final.usage,
        )
