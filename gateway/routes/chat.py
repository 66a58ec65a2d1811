"""`POST /api/{tenant_id}/chat`: one chat turn, as JSON or as server-sent events.

Streaming is chosen by `Accept: text/event-stream` or `"stream": true`. The stream opens with a
`session` event (the session id, so a client can read the history later), then one event per
step of the turn (`route`, `tool_call`, `tool_result`, `delta`), and ends with `final`, whose
data is the same object the JSON reply would be. A client that disconnects cancels the turn:
its tool calls are cancelled and nothing of it is recorded.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import structlog
from sse_starlette import ServerSentEvent
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway.auth import authenticate, require_tenant
from gateway.openapi import Operation
from gateway.schemas import ChatRequest, ChatResponse
from gateway.state import GatewayState
from gateway.streams import TurnStream
from gateway.turns import AdmittedTurn, fold, response_of, step_of
from host.events import FinalEvent

log = structlog.get_logger(__name__)

TENANT_PATH: dict[str, dict[str, Any]] = {
    "tenant_id": {"type": "string", "minLength": 1, "maxLength": 64, "pattern": r"^[A-Za-z0-9_.-]+$"}
}

CHAT = Operation(
    "POST",
    "/api/{tenant_id}/chat",
    "chat",
    "One chat turn: JSON, or server-sent events with `Accept: text/event-stream` or `stream: true`",
    "chat",
    ChatResponse,
    body=ChatRequest,
    errors=(400, 403, 404, 413, 429),
    streams=True,
    path_schemas=TENANT_PATH,
)


def wants_stream(request: Request, body: ChatRequest) -> bool:
    return body.stream or "text/event-stream" in request.headers.get("accept", "")


async def chat_events(turn: AdmittedTurn, session_id: str) -> AsyncIterator[ServerSentEvent]:
    yield ServerSentEvent(event="session", data=json.dumps({"session_id": session_id}))
    steps = []
    try:
        async for event in turn.events():
            step = step_of(event)
            if step is not None:
                steps.append(step)
            if isinstance(event, FinalEvent):
                final = response_of(session_id, event, steps)
                yield ServerSentEvent(event="final", data=final.model_dump_json())
            else:
                yield ServerSentEvent(event=event.type, data=event.model_dump_json())
    except Exception:
        # Headers are sent already: the failure becomes the stream's last event.
        log.exception("turn_failed")
        error = {"code": "internal_error", "message": "The turn hit an unexpected error; it has been logged."}
        yield ServerSentEvent(event="error", data=json.dumps(error))


async def chat(request: Request) -> Response:
    state: GatewayState = request.app.state.gateway
    tenant_id = request.path_params["tenant_id"]
    user = authenticate(request)
    require_tenant(user, tenant_id)
    await state.tenants.require(tenant_id)
    limit_headers = await state.admission.admit(user)
    body = await CHAT.read_body(request, state.settings.max_body_bytes)
    window = await state.turns.open_session(user, body)
    attachments = await state.turns.attachments(user, body.attachments)
    session_id = window.key.session_id
    structlog.contextvars.bind_contextvars(session_id=session_id)
    turn = await state.turns.start(user, state.turns.chat_request(body, window, attachments))

    if not wants_stream(request, body):
        async with turn:
            final, steps = await fold(turn.events())
        return JSONResponse(
            response_of(session_id, final, steps).model_dump(mode="json"), headers=limit_headers
        )
    return TurnStream(chat_events(turn, session_id), on_close=turn.aclose, headers=limit_headers)


operations = [CHAT.bind(chat)]
