"""`POST /api/{tenant_id}/chat`: one chat turn, as JSON or as server-sent events.

Streaming is chosen by `Accept: text/event-stream` or `"stream": true`. The stream opens with a
`session` event (the session id, so a client can read the history later), then one event per
step of the turn (`route`, `tool_call`, `tool_result`, `delta`), and ends with `final`, whose
data is the same object the JSON reply would be. A client that disconnects cancels the turn:
its tool calls are cancelled and nothing of it is recorded.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator

import structlog
from sse_starlette import ServerSentEvent
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateway.auth import AuthenticatedUser, authenticate, require_tenant
from gateway.bodies import read_model
from gateway.schemas import ChatRequest
from gateway.state import GatewayState
from gateway.streams import TurnStream
from gateway.turns import TurnRequest, response_of, step_of
from host.events import FinalEvent

log = structlog.get_logger(__name__)


def wants_stream(request: Request, body: ChatRequest) -> bool:
    return body.stream or "text/event-stream" in request.headers.get("accept", "")


async def chat_events(
    state: GatewayState, user: AuthenticatedUser, turn: TurnRequest, session_id: str
) -> AsyncIterator[ServerSentEvent]:
    yield ServerSentEvent(event="session", data=json.dumps({"session_id": session_id}))
    steps = []
    try:
        async for event in state.chat.run(user, turn):
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
    body = await read_model(request, ChatRequest, state.settings.max_body_bytes)
    window = await state.chat.open(user, body)
    session_id = window.key.session_id
    structlog.contextvars.bind_contextvars(session_id=session_id)

    if not wants_stream(request, body):
        async with state.admission.turn(user):
            response = await state.chat.respond(user, body, window)
        return JSONResponse(response.model_dump(mode="json"), headers=limit_headers)

    slot = contextlib.AsyncExitStack()
    await slot.enter_async_context(state.admission.turn(user))
    events = chat_events(state, user, state.chat.request_of(body, window), session_id)
    return TurnStream(events, on_close=slot.aclose, headers=limit_headers)


routes = [Route("/api/{tenant_id}/chat", chat, methods=["POST"])]
