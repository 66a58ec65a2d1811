"""Log messages to the MCP client (`notifications/message`) at the level the client chose.

Two protocol eras decide the level differently. On a handshake connection (2025-11-25 and
earlier) the client sends `logging/setLevel` once and the server filters every later message
of that connection; the level is kept per connection: the stdio process, or the HTTP session
(`Mcp-Session-Id`). A stateless HTTP request has no connection to remember it for, so there the
request is accepted and the level applies to nothing after it. On 2026-07-28 the level rides
each request's `_meta` and the SDK gates delivery itself (`allowed_log_levels`).

These messages tell the person at the client what a long tool is doing (pages read, chunks
embedded); the server's own logs stay in its structured log, never here.
"""

from __future__ import annotations

import warnings
from collections import OrderedDict
from typing import Any, get_args

from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server
from mcp.server.mcpserver import Context
from mcp.shared.exceptions import MCPDeprecationWarning
from mcp_types import EmptyResult, LoggingLevel, SetLevelRequestParams
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from starlette.requests import Request

LEVELS: tuple[LoggingLevel, ...] = get_args(LoggingLevel)
"""Severity-ascending (RFC 5424): debug, info, notice, warning, error, critical, alert, emergency."""

DEFAULT_LEVEL: LoggingLevel = "info"
"""What a handshake connection receives before it sets a level."""

STDIO_CONNECTION = "stdio"
SESSION_HEADER = "mcp-session-id"
MAX_CONNECTIONS = 10_000


def connection_key(ctx: ServerRequestContext[Any, Any]) -> str | None:
    """The connection a request belongs to: the stdio process, an HTTP session, or none (stateless)."""
    request = ctx.request
    if request is None:
        return STDIO_CONNECTION
    if isinstance(request, Request):
        return request.headers.get(SESSION_HEADER)
    return None


class ClientLogLevels:
    """The level each handshake connection set with `logging/setLevel` (bounded, oldest dropped)."""

    def __init__(self) -> None:
        self._levels: OrderedDict[str, LoggingLevel] = OrderedDict()

    def install(self, server: Server[Any]) -> None:
        """Serve `logging/setLevel` on `server` (which then declares the `logging` capability)."""
        server.add_request_handler("logging/setLevel", SetLevelRequestParams, self._set_level)

    async def _set_level(
        self, ctx: ServerRequestContext[Any, Any], params: SetLevelRequestParams
    ) -> EmptyResult:
        key = connection_key(ctx)
        if key is not None:
            self._levels[key] = params.level
            self._levels.move_to_end(key)
            while len(self._levels) > MAX_CONNECTIONS:
                self._levels.popitem(last=False)
        return EmptyResult()

    def level_for(self, ctx: ServerRequestContext[Any, Any]) -> LoggingLevel:
        key = connection_key(ctx)
        return self._levels.get(key, DEFAULT_LEVEL) if key is not None else DEFAULT_LEVEL

    def allows(self, ctx: ServerRequestContext[Any, Any], level: LoggingLevel) -> bool:
        """Whether a message at `level` goes to this request's client (handshake connections)."""
        return LEVELS.index(level) >= LEVELS.index(self.level_for(ctx))


async def log_to_client(
    levels: ClientLogLevels,
    ctx: Context[Any, Any] | None,
    level: LoggingLevel,
    message: str,
    *,
    logger: str,
) -> None:
    """Send `message` to the client of the current request, if its chosen level lets it through."""
    if ctx is None:
        return
    request_context = ctx.request_context
    modern = request_context.protocol_version in MODERN_PROTOCOL_VERSIONS
    if not modern and not levels.allows(request_context, level):
        return
    # The SDK marks logging deprecated as of 2026-07-28, yet the revision still delivers it per
    # request (opted in through `_meta`), and handshake clients rely on it: it is used knowingly.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MCPDeprecationWarning)
        sending = request_context.session.send_log_message(
            level, message, logger=logger, related_request_id=request_context.request_id
        )
    await sending
