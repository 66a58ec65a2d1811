"""Server-sent event responses that hold a resource (a turn slot) for exactly their lifetime."""

from __future__ import annotations

from collections.abc import AsyncIterable, Awaitable, Callable, Mapping

import anyio
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.types import Receive, Scope, Send

PING_SECONDS = 15


class TurnStream(EventSourceResponse):
    """An SSE response that calls `on_close` when it ends, however it ends.

    The close runs from the response itself, not from the event generator: a client that
    disconnects before the first event is ever produced still releases what the turn held.
    """

    def __init__(
        self,
        events: AsyncIterable[ServerSentEvent],
        *,
        on_close: Callable[[], Awaitable[object]],
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(
            events,
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no", **(headers or {})},
            ping=PING_SECONDS,
        )
        self._on_close = on_close

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            with anyio.CancelScope(shield=True):
                await self._on_close()
