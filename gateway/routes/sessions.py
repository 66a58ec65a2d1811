"""A user's own sessions: list them, read one's history, delete one.

`GET /api/{tenant_id}/sessions`, `GET` and `DELETE /api/{tenant_id}/sessions/{session_id}`.
Another user's session (same tenant or not) answers 404, exactly like one that never existed.
"""

from __future__ import annotations

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateway.auth import AuthenticatedUser, authenticate, require_tenant
from gateway.errors import ApiError
from gateway.sessions import SessionKey, SessionSummary, StoredMessage
from gateway.state import GatewayState


class SessionHistory(BaseModel):
    session_id: str
    messages: list[StoredMessage]


class SessionList(BaseModel):
    items: list[SessionSummary]


async def _caller(request: Request) -> tuple[GatewayState, AuthenticatedUser, dict[str, str]]:
    state: GatewayState = request.app.state.gateway
    user = authenticate(request)
    require_tenant(user, request.path_params["tenant_id"])
    await state.tenants.require(user.tenant_id)
    return state, user, await state.admission.admit(user)


def _key(request: Request, user: AuthenticatedUser) -> SessionKey:
    session_id = request.path_params["session_id"]
    if not _valid_session_id(session_id):
        raise ApiError("session_not_found", "no such session for this user")
    return SessionKey(tenant_id=user.tenant_id, user_id=user.subject, session_id=session_id)


def _valid_session_id(session_id: str) -> bool:
    return 0 < len(session_id) <= 64 and all(c.isascii() and (c.isalnum() or c in "_-") for c in session_id)


async def list_sessions(request: Request) -> Response:
    state, user, headers = await _caller(request)
    items = await state.sessions.list(user.tenant_id, user.subject)
    return JSONResponse(SessionList(items=items).model_dump(mode="json"), headers=headers)


async def get_session(request: Request) -> Response:
    state, user, headers = await _caller(request)
    key = _key(request, user)
    messages = await state.sessions.transcript(key)
    history = SessionHistory(session_id=key.session_id, messages=messages)
    return JSONResponse(history.model_dump(mode="json"), headers=headers)


async def delete_session(request: Request) -> Response:
    state, user, headers = await _caller(request)
    await state.sessions.delete(_key(request, user))
    return Response(status_code=204, headers=headers)


routes = [
    Route("/api/{tenant_id}/sessions", list_sessions, methods=["GET"]),
    Route("/api/{tenant_id}/sessions/{session_id}", get_session, methods=["GET"]),
    Route("/api/{tenant_id}/sessions/{session_id}", delete_session, methods=["DELETE"]),
]
