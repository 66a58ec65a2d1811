"""Session memory: a sliding window of recent messages for the model, and the full transcript.

The transcript is durable SQL (SQLite or PostgreSQL). The window the next turn reads is kept in
Redis when it is configured (trimmed to the window size, expiring after the session TTL), so a
turn on any replica reads it without touching SQL, or in this process otherwise; when the window
is missing (expired, evicted, or a restart), it is rebuilt from SQL. Every session belongs to
one tenant and one user; every read and write is keyed by both, so a session id alone never
reveals anything.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import quote

from pydantic import BaseModel, Field
from redis.asyncio import Redis
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from agentmesh.db import Base
from agentmesh.tenant_rows import TenantRows, delete_declared
from gateway.errors import ApiError
from gateway.tables import ChatMessageRow, ChatSessionRow, utcnow


class SessionKey(BaseModel):
    tenant_id: str
    user_id: str
    session_id: str


class StoredMessage(BaseModel):
    role: str
    content: str
    agent: str | None = None
    meta: dict[str, Any] = Field(default_factory=dict)


class SessionWindow(BaseModel):
    """What the host reads of a session: the last messages and the remembered entities."""

    key: SessionKey
    messages: list[StoredMessage]
    memory: dict[str, Any]


TITLE_CHARS = 80


class SessionSummary(BaseModel):
    session_id: str
    title: str | None = Field(default=None, description="the session's first message, shortened")
    messages: int
    created_at: str
    updated_at: str


def _not_found() -> ApiError:
    return ApiError("session_not_found", "no such session for this user")


class RedisSessionWindows:
    """Each session's recent messages (a trimmed list) and memory (a JSON string), with a TTL."""

    def __init__(self, redis: Redis, *, prefix: str, window: int, ttl_seconds: int) -> None:
        self._redis = redis
        self._prefix = prefix
        self._window = window
        self._ttl = ttl_seconds

    def _keys(self, key: SessionKey) -> tuple[str, str]:
        # `{tenant}` is a hash tag: a session's keys share a Redis Cluster slot, so MULTI works.
        base = f"{self._prefix}:session:{{{key.tenant_id}}}:{quote(key.user_id, safe='')}:{key.session_id}"
        return f"{base}:messages", f"{base}:memory"

    async def load(self, key: SessionKey) -> SessionWindow | None:
        """The cached window, or None when Redis does not hold this session."""
        messages_key, memory_key = self._keys(key)
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.lrange(messages_key, -self._window, -1)
            pipe.get(memory_key)
            raw_messages, raw_memory = await pipe.execute()
        if raw_memory is None:
            return None
        return SessionWindow(
            key=key,
            messages=[StoredMessage.model_validate_json(m) for m in raw_messages],
            memory=json.loads(raw_memory),
        )

    async def store(
        self, key: SessionKey, messages: list[StoredMessage], memory: dict[str, Any], *, replace: bool
    ) -> None:
        """Append (or, with `replace`, set) the window's messages and set its memory, atomically."""
        messages_key, memory_key = self._keys(key)
        async with self._redis.pipeline(transaction=True) as pipe:
            if replace:
                pipe.delete(messages_key)
            if messages:
                pipe.rpush(messages_key, *[m.model_dump_json() for m in messages])
                pipe.ltrim(messages_key, -self._window, -1)
                pipe.expire(messages_key, self._ttl)
            pipe.set(memory_key, json.dumps(memory, default=str), ex=self._ttl)
            await pipe.execute()

    async def forget(self, key: SessionKey) -> None:
        await self._redis.delete(*self._keys(key))


class InProcessSessionWindows:
    """The same windows in this process (one replica): a bounded LRU map with expiry times."""

    def __init__(
        self,
        *,
        window: int,
        ttl_seconds: int,
        max_sessions: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._window = window
        self._ttl = ttl_seconds
        self._max_sessions = max_sessions
        self._clock = clock
        self._entries: OrderedDict[tuple[str, str, str], tuple[float, SessionWindow]] = OrderedDict()

    @staticmethod
    def _key(key: SessionKey) -> tuple[str, str, str]:
        return key.tenant_id, key.user_id, key.session_id

    async def load(self, key: SessionKey) -> SessionWindow | None:
        entry = self._entries.get(self._key(key))
        if entry is None:
            return None
        expires, window = entry
        if self._clock() >= expires:
            del self._entries[self._key(key)]
            return None
        self._entries.move_to_end(self._key(key))
        return window.model_copy(deep=True)

    async def store(
        self, key: SessionKey, messages: list[StoredMessage], memory: dict[str, Any], *, replace: bool
    ) -> None:
        entry = self._entries.get(self._key(key))
        kept = [] if replace or entry is None else entry[1].messages
        window = SessionWindow(key=key, messages=[*kept, *messages][-self._window :], memory=dict(memory))
        self._entries[self._key(key)] = (self._clock() + self._ttl, window)
        self._entries.move_to_end(self._key(key))
        while len(self._entries) > self._max_sessions:
            self._entries.popitem(last=False)

    async def forget(self, key: SessionKey) -> None:
        self._entries.pop(self._key(key), None)

    def forget_tenant(self, tenant_id: str) -> int:
        """Drop the tenant's windows (tenant deletion); how many there were."""
        gone = [key for key in self._entries if key[0] == tenant_id]
        for key in gone:
            del self._entries[key]
        return len(gone)


SessionWindows = RedisSessionWindows | InProcessSessionWindows


class SessionStore:
    """Sessions: the durable transcript in SQL, the window in Redis when configured."""

    # Messages first: they reference their session.
    TENANT_ROWS = (TenantRows("chat_messages"), TenantRows("chat_sessions"))

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        window: int = 10,
        windows: SessionWindows | None = None,
    ) -> None:
        self._sessions = sessions
        self._window = window
        self._windows = windows

    async def open(self, tenant_id: str, user_id: str, session_id: str | None) -> SessionWindow:
        """Load `session_id` of this user (a new one when None or unknown); another user's is refused."""
        key = SessionKey(tenant_id=tenant_id, user_id=user_id, session_id=session_id or uuid.uuid4().hex)
        if session_id is None:
            return SessionWindow(key=key, messages=[], memory={})
        if self._windows is not None and (cached := await self._windows.load(key)) is not None:
            return cached
        async with self._sessions() as db:
            row = await db.get(ChatSessionRow, key.session_id)
            if row is None:
                return SessionWindow(key=key, messages=[], memory={})
            if row.tenant_id != tenant_id or row.user_id != user_id:
                raise _not_found()
            result = await db.execute(
                select(ChatMessageRow)
                .where(ChatMessageRow.session_id == key.session_id)
                .order_by(ChatMessageRow.id.desc())
                .limit(self._window)
            )
            messages = [_stored(m) for m in reversed(result.scalars().all())]
            window = SessionWindow(key=key, messages=messages, memory=dict(row.memory or {}))
        if self._windows is not None:
            await self._windows.store(key, window.messages, window.memory, replace=True)
        return window

    async def append_turn(
        self,
        key: SessionKey,
        user_message: str,
        answer: StoredMessage,
        memory: dict[str, Any],
        *,
        also: Sequence[Base] = (),
    ) -> None:
        """Append a user message and its answer, and update memory: one SQL transaction (with the
        rows in `also`, such as the turn's usage record), then the window."""
        turn = [StoredMessage(role="user", content=user_message), answer]
        for attempt in range(2):
            try:
                merged_memory = await self._write_turn(key, turn, memory, also)
                break
            except IntegrityError as exc:
                # The id is taken: by another user (refused), or by this user's own turn that
                # created the session a moment ago (the second attempt then finds it theirs).
                if attempt == 1:
                    raise _not_found() from exc
        if self._windows is not None:
            await self._windows.store(key, turn, merged_memory, replace=False)

    async def append_answer(
        self, key: SessionKey, answer: StoredMessage, memory: dict[str, Any], *, also: Sequence[Base] = ()
    ) -> bool:
        """Append a later answer to a turn already in the session (one resumed after approval).

        One SQL transaction with the rows in `also`, then the window. False, writing nothing
        (not even `also`), when the session does not exist or is not this user's.
        """
        async with self._sessions() as db, db.begin():
            if not await _touch_owned(db, key):
                return False
            row = await db.get_one(ChatSessionRow, key.session_id, populate_existing=True)
            row.memory = {**(row.memory or {}), **memory}
            merged_memory = dict(row.memory)
            db.add_all(also)
            db.add(_message_row(key, answer))
        if self._windows is not None:
            await self._windows.store(key, [answer], merged_memory, replace=False)
        return True

    async def _write_turn(
        self, key: SessionKey, turn: list[StoredMessage], memory: dict[str, Any], also: Sequence[Base]
    ) -> dict[str, Any]:
        async with self._sessions() as db, db.begin():
            if not await _touch_owned(db, key):
                row = ChatSessionRow(
                    id=key.session_id, tenant_id=key.tenant_id, user_id=key.user_id, memory={}
                )
                db.add(row)
                await db.flush()  # the session row must exist before its messages reference it
            else:
                row = await db.get_one(ChatSessionRow, key.session_id, populate_existing=True)
            row.memory = {**(row.memory or {}), **memory}
            db.add_all(also)
            db.add_all(_message_row(key, message) for message in turn)
            return dict(row.memory)

    async def _owned(self, db: AsyncSession, key: SessionKey) -> ChatSessionRow:
        row = await db.get(ChatSessionRow, key.session_id)
        if row is None or row.tenant_id != key.tenant_id or row.user_id != key.user_id:
            raise _not_found()
        return row

    async def transcript(self, key: SessionKey) -> list[StoredMessage]:
        """Every message of the session, oldest first."""
        async with self._sessions() as db:
            await self._owned(db, key)
            result = await db.execute(
                select(ChatMessageRow)
                .where(ChatMessageRow.session_id == key.session_id)
                .order_by(ChatMessageRow.id)
            )
            return [_stored(m) for m in result.scalars().all()]

    async def require(self, key: SessionKey) -> None:
        """Nothing when the session exists and is the user's; 404 otherwise."""
        async with self._sessions() as db:
            await self._owned(db, key)

    async def list(self, tenant_id: str, user_id: str, *, limit: int = 100) -> list[SessionSummary]:
        """The user's sessions, most recently used first, each titled by its first message."""
        owned = (ChatMessageRow.tenant_id == tenant_id, ChatMessageRow.user_id == user_id)
        async with self._sessions() as db:
            counts = (
                select(
                    ChatMessageRow.session_id,
                    func.count().label("n"),
                    func.min(ChatMessageRow.id).label("first_id"),
                )
                .where(*owned)
                .group_by(ChatMessageRow.session_id)
                .subquery()
            )
            first = aliased(ChatMessageRow)
            result = await db.execute(
                select(ChatSessionRow, counts.c.n, first.content)
                .join(counts, counts.c.session_id == ChatSessionRow.id)
                .outerjoin(first, first.id == counts.c.first_id)
                .where(ChatSessionRow.tenant_id == tenant_id, ChatSessionRow.user_id == user_id)
                .order_by(ChatSessionRow.updated_at.desc())
                .limit(limit)
            )
            return [
                SessionSummary(
                    session_id=row.id,
                    title=_title(content),
                    messages=int(n),
                    created_at=row.created_at.isoformat(),
                    updated_at=row.updated_at.isoformat(),
                )
                for row, n, content in result.all()
            ]

    async def delete(self, key: SessionKey) -> None:
        """Delete the session, its transcript and its window."""
        async with self._sessions() as db, db.begin():
            row = await self._owned(db, key)
            await db.execute(delete(ChatMessageRow).where(ChatMessageRow.session_id == key.session_id))
            await db.delete(row)
        if self._windows is not None:
            await self._windows.forget(key)

    async def delete_tenant(self, db: AsyncSession, tenant_id: str) -> dict[str, int]:
        """Delete the tenant's transcripts in `db`'s transaction (windows go with its Redis keys)."""
        return await delete_declared(db, self.TENANT_ROWS, tenant_id)


def _title(first_message: str | None) -> str | None:
    if not first_message:
        return None
    line = " ".join(first_message.split())
    return line if len(line) <= TITLE_CHARS else line[: TITLE_CHARS - 1].rstrip() + "…"


def _stored(row: ChatMessageRow) -> StoredMessage:
    return StoredMessage(role=row.role, content=row.content, agent=row.agent, meta=row.meta or {})


async def _touch_owned(db: AsyncSession, key: SessionKey) -> bool:
    """Mark the user's session updated; False when the user has no session by that id.

    It is the transaction's first statement and a write, so on SQLite the transaction takes the
    write lock at once (waiting its turn) rather than reading first and failing to upgrade its
    snapshot when another writer commits in between. On PostgreSQL it locks the session's row.
    """
    owned = await db.execute(
        update(ChatSessionRow)
        .where(
            ChatSessionRow.id == key.session_id,
            ChatSessionRow.tenant_id == key.tenant_id,
            ChatSessionRow.user_id == key.user_id,
        )
        .values(updated_at=utcnow())
    )
    return bool(owned.rowcount)  # type: ignore[attr-defined]


def _message_row(key: SessionKey, message: StoredMessage) -> ChatMessageRow:
    return ChatMessageRow(
        session_id=key.session_id,
        tenant_id=key.tenant_id,
        user_id=key.user_id,
        role=message.role,
        content=message.content,
        agent=message.agent,
        meta=message.meta,
    )
