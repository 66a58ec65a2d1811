"""The lean path of `/mcp`: `tools/call` and `tools/list` answered without per-request sessions.

In stateless mode the SDK serves a handshake-era request (no `MCP-Protocol-Version` header, or a
2024/2025 one) by building a transport, a task group, a dispatcher and a session for it and tearing
them down afterwards. The two methods a client calls in a loop are answered here instead, by the
endpoint's own handlers, with the JSON body the SDK would send (HTTP 200, a JSON-RPC result or
error); on the peer harness this (with one audit row a call) took `/mcp` from 226.6 to 298.2
calls/s at concurrency 16.

Only a request the SDK would accept as it is takes this path: one JSON-RPC request with a string or
integer id, JSON accepted and sent, no session header, no progress token (its answer may become a
stream). Anything else - other methods, modern-protocol requests (the SDK's modern entry is already
one call), a request the SDK would refuse - goes to the SDK unchanged, so its checks and its error
answers stay the only ones.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import structlog
from mcp.shared.exceptions import MCPError
from mcp_types import INTERNAL_ERROR, INVALID_PARAMS
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS
from pydantic import BaseModel, ValidationError
from starlette.datastructures import Headers
from starlette.responses import Response

log = structlog.get_logger(__name__)

LEAN_METHODS = frozenset({"tools/call", "tools/list"})
_JSON = "application/json"


@dataclass(frozen=True)
class LeanRequest:
    """A `tools/call` or `tools/list` request this path answers."""

    id: str | int
    method: str
    params: dict[str, Any]


def _accepts_json(accept: str) -> bool:
    # As the SDK reads `Accept` (RFC 7231 wildcards included).
    types = {part.split(";")[0].strip().lower() for part in accept.split(",")}
    return bool(types & {_JSON, "application/*", "*/*"})


def _sends_json(content_type: str) -> bool:
    return any(part.strip() == _JSON for part in content_type.split(";")[0].split(","))


def wants_progress(payload: Any) -> bool:
    """Whether the request asks for progress notifications (its `_meta.progressToken`)."""
    params = payload.get("params") if isinstance(payload, dict) else None
    meta = params.get("_meta") if isinstance(params, dict) else None
    return isinstance(meta, dict) and meta.get("progressToken") is not None


def lean_request(headers: Headers, payload: Any) -> LeanRequest | None:
    """The request as this path answers it, or None when it goes to the SDK."""
    if not isinstance(payload, dict) or payload.get("jsonrpc") != "2.0":
        return None
    method, request_id, params = payload.get("method"), payload.get("id"), payload.get("params", {})
    if method not in LEAN_METHODS or not isinstance(request_id, str | int) or isinstance(request_id, bool):
        return None
    if params is None:
        params = {}
    if not isinstance(params, dict):
        return None
    if wants_progress(payload):
        return None
    version = headers.get("mcp-protocol-version")
    if version is not None and version not in HANDSHAKE_PROTOCOL_VERSIONS:
        return None
    if "mcp-session-id" in headers:
        return None
    if not _accepts_json(headers.get("accept", "")) or not _sends_json(headers.get("content-type", "")):
        return None
    return LeanRequest(id=request_id, method=method, params=params)


def _message(request_id: str | int, **member: Any) -> Response:
    body = json.dumps({"jsonrpc": "2.0", "id": request_id, **member}, separators=(",", ":"))
    return Response(body, media_type=_JSON)


async def answer(request: LeanRequest, handle: Callable[[], Awaitable[BaseModel]]) -> Response:
    """The JSON-RPC answer to `request`: what `handle` returns, or the error it raises."""
    try:
        result = await handle()
    except MCPError as exc:
        return _message(request.id, error=exc.error.model_dump(by_alias=True, mode="json", exclude_none=True))
    except ValidationError:
        # Params that do not fit the method's model: the SDK's answer, without pydantic's text.
        return _message(request.id, error={"code": INVALID_PARAMS, "message": "Invalid request parameters"})
    except Exception:
        log.exception("mcp_request_failed", method=request.method)
        return _message(request.id, error={"code": INTERNAL_ERROR, "message": "Internal error"})
    return _message(request.id, result=result.model_dump(by_alias=True, mode="json", exclude_none=True))
