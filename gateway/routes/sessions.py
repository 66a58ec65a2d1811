"""A user's own sessions: list them, read one's history, delete one, follow one live.

`GET /api/{tenant_id}/sessions`, `GET` and `DELETE /api/{tenant_id}/sessions/{session_id}`, and
`GET /api/{tenant_id}/sessions/{session_id}/events`: the session's turns as server-sent events
while they run (`gateway.session_events`), so a turn resumed after an approval completes live in
the user's browser. Another user's session (same tenant or not) answers 404, exactly like one
that never existed.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from pydantic import BaseModel
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.requests import Request
from starlette.responses import Response

from gateway.auth import AuthenticatedUser, authenticate, require_tenant
from gateway.openapi import Operation
from gateway.routes.chat import TENANT_PATH
from gateway.session_events import SessionEvents
from gateway.sessions import SessionKey, SessionSummary, StoredMessage
from gateway.state import GatewayState
from gateway.streams import PING_SECONDS

SESSION_PATH: dict[str, dict[str, Any]] = {
    **TENANT_PATH,
    "session_id": {"type": "string", "pattern": r"^[A-Za-z0-9_-]{1,64}$"},
}


class SessionHistory(BaseModel):
    """One session with its whole transcript."""

    session_id: str
    messages: list[StoredMessage]


class SessionList(BaseModel):
    """The caller's sessions, newest first."""

    items: list[SessionSummary]


LIST = Operation(
    "GET",
    "/api/{tenant_id}/sessions",
    "listSessions",
    "The caller's own sessions, newest first",
    "sessions",
    SessionList,
    errors=(400, 403, 404, 429),
    path_schemas=TENANT_PATH,
)
GET = Operation(
    "GET",
    "/api/{tenant_id}/sessions/{session_id}",
    "getSession",
    "One of the caller's sessions with its whole transcript",
    "sessions",
    SessionHistory,
    errors=(400, 403, 404, 429),
    path_schemas=SESSION_PATH,
)
DELETE = Operation(
    "DELETE",
    "/api/{tenant_id}/sessions/{session_id}",
    "deleteSession",
    "Delete one of the caller's sessions and its transcript",
    "sessions",
    None,
    status=204,
    errors=(400, 403, 404, 429),
    path_schemas=SESSION_PATH,
)
EVENTS = Operation(
    "GET",
    "/api/{tenant_id}/sessions/{session_id}/events",
    "watchSession",
    "Follow one of the caller's sessions live: its turns' events as server-sent events",
    "sessions",
    None,
    errors=(400, 403, 404, 429),
    path_schemas=SESSION_PATH,
    media_type="text/event-stream",
    description=(
        "The stream opens with `ready` once the subscription is in force (read the transcript "
        "then, for what happened before), and carries one event per event of each turn of the "
        "session: `turn` (started; `channel` is `chat`, or `approval` for a turn resumed after an "
        "approval), `route`, `tool_call`, `tool_result`, `delta`, `final`. Each event's data is "
        "`{turn_id, channel, event, data}`; `final`'s `data` is the chat reply. Live only: "
        "nothing is replayed."
    ),
)


async def _caller(request: Request) -> tuple[GatewayState, AuthenticatedUser, dict[str, str]]:
    state: GatewayState = request.app.state.gateway
    user = authenticate(request)
    require_tenant(user, request.path_params["tenant_id"])
    await state.tenants.require(user.tenant_id)
    return state, user, await state.admission.admit(user)


def _key(request: Request, user: AuthenticatedUser) -> SessionKey:
    return SessionKey(
        tenant_id=user.tenant_id, user_id=user.subject, session_id=request.path_params["session_id"]
    )


async def list_sessions(request: Request) -> Response:
    state, user, headers = await _caller(request)
    items = await state.sessions.list(user.tenant_id, user.subject)
    return LIST.reply(SessionList(items=items), headers=headers)


async def get_session(request: Request) -> Response:
    state, user, headers = await _caller(request)
    key = _key(request, user)
    messages = await state.sessions.transcript(key)
    return GET.reply(SessionHistory(session_id=key.session_id, messages=messages), headers=headers)


async def delete_session(request: Request) -> Response:
    state, user, headers = await _caller(request)
    await state.sessions.delete(_key(request, user))
    return DELETE.reply(headers=headers)


async def watch_session(request: Request) -> Response:
    state, user, headers = await _caller(request)
    key = _key(request, user)
    await state.sessions.require(key)
    return EventSourceResponse(
        _watched(state.session_events, key),
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no", **headers},
        ping=PING_SECONDS,
    )


async def _watched(events: SessionEvents, key: SessionKey) -> AsyncIterator[ServerSentEvent]:
    async with events.watch(key) as watched:
        yield ServerSentEvent(event="ready", data=json.dumps({"session_id": key.session_id}))
        async for event in watched:
            yield ServerSentEvent(event=event.event, data=event.model_dump_json())


operations = [
    LIST.bind(list_sessions),
    GET.bind(get_session),
    DELETE.bind(delete_session),
    EVENTS.bind(watch_session),
]
