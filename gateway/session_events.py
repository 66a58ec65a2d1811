"""Live events of a chat session: what its turns do, for whoever watches the session.

A turn that belongs to a session (a chat turn, or a turn resumed after an approval) publishes each
of its events to the session's channel; a client watching the session (`GET
/api/{tenant_id}/sessions/{session_id}/events`) receives them as they happen. That is how a chat
that paused for an approval completes live in the user's browser when an admin decides
elsewhere, on this replica or another.

Channels are keyed by tenant, user and session, like the session itself, so a watcher only ever
receives its own session's events. In one process the channels are memory streams; with
`REDIS_URL` they are Redis pub/sub channels, so a turn resumed on one replica reaches a watcher
connected to another. Delivery is best effort and live only: a watcher that connects late, or
falls behind, reads the transcript for what it missed.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any, Protocol
from urllib.parse import quote

import anyio
import structlog
from anyio.streams.memory import MemoryObjectSendStream
from pydantic import BaseModel, Field
from redis.asyncio import Redis

from gateway.sessions import SessionKey

log = structlog.get_logger(__name__)

WATCHER_BUFFER = 256
"""Events a slow watcher may fall behind by before it is cut off (it then re-reads the transcript)."""
SUBSCRIBE_TIMEOUT_SECONDS = 5.0


class SessionEvent(BaseModel):
    """One event of one turn of a session, as a watcher receives it."""

    turn_id: str = Field(description="the turn this event belongs to")
    channel: str = Field(description="how the turn started: `chat`, or `approval` for a resumed turn")
    event: str = Field(
        description="`turn` (it started), `route`, `tool_call`, `tool_result`, `delta`, `final`"
    )
    data: dict[str, Any] = Field(default_factory=dict)


class Subscription(Protocol):
    def __aiter__(self) -> AsyncIterator[SessionEvent]: ...


class SessionEvents(Protocol):
    async def publish(self, key: SessionKey, event: SessionEvent) -> None: ...

    def watch(self, key: SessionKey) -> contextlib.AbstractAsyncContextManager[AsyncIterator[SessionEvent]]:
        """Subscribe to the session's events: subscribed once the block is entered."""
        ...


def channel_of(key: SessionKey) -> str:
    """The session's channel name: tenant, user (quoted: it comes from a token) and session."""
    return f"{key.tenant_id}:{quote(key.user_id, safe='')}:{key.session_id}"


class InProcessSessionEvents:
    """Channels as memory streams, for one replica."""

    def __init__(self, *, buffer: int = WATCHER_BUFFER) -> None:
        self._watchers: dict[str, set[MemoryObjectSendStream[SessionEvent]]] = {}
        self._buffer = buffer

    async def publish(self, key: SessionKey, event: SessionEvent) -> None:
        for stream in list(self._watchers.get(channel_of(key), ())):
            try:
                stream.send_nowait(event)
            except anyio.WouldBlock:
                # A watcher that cannot keep up is closed rather than allowed to slow the turn.
                log.warning("session_watcher_behind", session_id=key.session_id)
                stream.close()
            except (anyio.ClosedResourceError, anyio.BrokenResourceError):
                self._discard(channel_of(key), stream)

    @contextlib.asynccontextmanager
    async def watch(self, key: SessionKey) -> AsyncIterator[AsyncIterator[SessionEvent]]:
        channel = channel_of(key)
        send, receive = anyio.create_memory_object_stream[SessionEvent](self._buffer)
        self._watchers.setdefault(channel, set()).add(send)
        try:
            async with receive:
                yield receive
        finally:
            send.close()
            self._discard(channel, send)

    def _discard(self, channel: str, stream: MemoryObjectSendStream[SessionEvent]) -> None:
        watchers = self._watchers.get(channel)
        if watchers is not None:
            watchers.discard(stream)
            if not watchers:
                del self._watchers[channel]

    def watchers(self, key: SessionKey) -> int:
        return len(self._watchers.get(channel_of(key), ()))


class RedisSessionEvents:
    """Channels as Redis pub/sub channels `{prefix}:session-events:{tenant}:{user}:{session}`."""

    def __init__(self, redis: Redis, *, prefix: str) -> None:
        self._redis = redis
        self._prefix = f"{prefix}:session-events:"

    async def publish(self, key: SessionKey, event: SessionEvent) -> None:
        await self._redis.publish(self._prefix + channel_of(key), event.model_dump_json())

    @contextlib.asynccontextmanager
    async def watch(self, key: SessionKey) -> AsyncIterator[AsyncIterator[SessionEvent]]:
        pubsub = self._redis.pubsub()
        try:
            await pubsub.subscribe(self._prefix + channel_of(key))
            # The subscription is in force once Redis confirms it: only then may a watcher rely
            # on receiving what is published next.
            with anyio.fail_after(SUBSCRIBE_TIMEOUT_SECONDS):
                while True:
                    confirmation = await pubsub.get_message(timeout=SUBSCRIBE_TIMEOUT_SECONDS)
                    if confirmation is not None and confirmation.get("type") == "subscribe":
                        break
            yield _messages(pubsub)
        finally:
            with anyio.CancelScope(shield=True):
                await pubsub.aclose()


async def _messages(pubsub: Any) -> AsyncIterator[SessionEvent]:
    async for message in pubsub.listen():
        if message.get("type") == "message":
            yield SessionEvent.model_validate(json.loads(message["data"]))
