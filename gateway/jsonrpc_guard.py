"""What `/mcp` checks before the MCP layer parses a request, and how its HTTP errors are rewritten.

The MCP SDK parses the body itself: JSON nested thousands of levels deep would make it recurse
until `RecursionError`, and a request whose `id` is an object is taken for a notification and
answered 202; a batch (an array) fails the SDK's validation with a page of its internals. All are
refused here with a JSON-RPC error (HTTP 400), from a body read once and handed on unchanged
(`replay`). The SDK's own HTTP-level refusals (a wrong `Accept` or
`Content-Type`, a body too large) are plain text; `json_errors` rewrites them as the gateway's
JSON error body, so every answer a client gets at `/mcp` is JSON.
"""

from __future__ import annotations

import json
from typing import Any

from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS, MODERN_PROTOCOL_VERSIONS
from starlette.datastructures import Headers
from starlette.responses import JSONResponse, Response
from starlette.types import Message, Receive, Send

from agentmesh.errors import ErrorCode
from gateway.bodies import MAX_JSON_DEPTH, nests_deeper_than
from gateway.errors import error_response

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
_HTTP_CODES: dict[int, ErrorCode] = {
    400: "invalid_request",
    406: "invalid_request",
    413: "too_large",
    415: "unsupported_format",
}


def _jsonrpc_error(code: int, message: str) -> Response:
    body = {"jsonrpc": "2.0", "id": None, "error": {"code": code, "message": message}}
    return JSONResponse(body, status_code=400)


def _valid_id(value: Any) -> bool:
    # JSON-RPC 2.0: a string, a number or null; a boolean is not a number here.
    return (
        value is None
        or isinstance(value, str)
        or (isinstance(value, int | float) and not isinstance(value, bool))
    )


class JsonRpcRefusal(Exception):
    """A body the MCP layer must not parse; `response` is the JSON-RPC error answering it."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.response = _jsonrpc_error(code, message)


def parse_jsonrpc(body: bytes) -> Any:
    """The decoded body of an MCP request; raises `JsonRpcRefusal` when the MCP layer may not parse it."""
    if nests_deeper_than(body, MAX_JSON_DEPTH):
        raise JsonRpcRefusal(PARSE_ERROR, f"Parse error: JSON nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        payload = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise JsonRpcRefusal(PARSE_ERROR, "Parse error: the body is not JSON") from None
    if isinstance(payload, list):
        # Streamable HTTP carries one message per POST since protocol 2025-06-18.
        raise JsonRpcRefusal(INVALID_REQUEST, "Invalid Request: batches are not supported; send one message")
    if not isinstance(payload, dict):
        raise JsonRpcRefusal(INVALID_REQUEST, "Invalid Request: a JSON-RPC message is a JSON object")
    if "id" in payload and not _valid_id(payload["id"]):
        raise JsonRpcRefusal(INVALID_REQUEST, "Invalid Request: id must be a string, a number or null")
    return payload


_SPOKEN = (*HANDSHAKE_PROTOCOL_VERSIONS, *MODERN_PROTOCOL_VERSIONS)


def check_protocol_version(version: str | None) -> None:
    """Refuse an `MCP-Protocol-Version` header naming a version this server does not speak (the
    SDK would answer with a complaint about `params._meta` instead)."""
    if version is not None and version not in _SPOKEN:
        supported = ", ".join(_SPOKEN)
        raise JsonRpcRefusal(
            INVALID_REQUEST, f"Unsupported protocol version '{version[:40]}'; this server speaks {supported}"
        )


def replay(body: bytes) -> Receive:
    """A `receive` that hands the already-read body on, then reports the client gone."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    return receive


def json_errors(send: Send) -> Send:
    """`send`, with a plain-text HTTP error of the MCP layer rewritten as a JSON error body."""
    held: Message | None = None
    text = b""

    async def rewriting(message: Message) -> None:
        nonlocal held, text
        if message["type"] == "http.response.start":
            content_type = Headers(raw=message.get("headers", [])).get("content-type", "")
            if message["status"] >= 400 and "json" not in content_type:
                held = message
                return
        elif message["type"] == "http.response.body" and held is not None:
            text += message.get("body", b"")
            if message.get("more_body", False):
                return
            status = held["status"]
            readable = text.decode("utf-8", "replace").strip() or "the request was refused"
            response = error_response(status, _HTTP_CODES.get(status, "invalid_request"), readable)
            await send({"type": "http.response.start", "status": status, "headers": response.raw_headers})
            await send({"type": "http.response.body", "body": response.body})
            return
        await send(message)

    return rewriting


def replay_then(body: bytes, receive: Receive) -> Receive:
    """A `receive` that hands the already-read body on, then waits on the real connection.

    For a response that streams (progress before the result), where the client's leaving must be
    seen when it happens, not at once as `replay` reports it.
    """
    sent = False

    async def receive_after_body() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return receive_after_body
