"""Session memory: a sliding window of recent messages for the model, and the full transcript.

Every session belongs to one tenant and one user; every read and write is keyed by both, so a
session id alone never reveals anything.
"""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

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


class SessionStore:
    """SQL-backed sessions (SQLite or PostgreSQL through SQLAlchemy async)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, window: int = 10) -> None:
        self._sessions = sessions
        self._window = window

    async def open(self, tenant_id: str, user_id: str, session_id: str | None) -> SessionWindow:
        """Load `session_id` of this user (creating it when new); another user's id is refused."""
        session_id = session_id or uuid.uuid4().hex
        key = SessionKey(tenant_id=tenant_id, user_id=user_id, session_id=session_id)
        async with self._sessions() as db:
            row = await db.get(ChatSessionRow, session_id)
            if row is None:
                return SessionWindow(key=key, messages=[], memory={})
            if row.tenant_id != tenant_id or row.user_id != user_id:
                raise ApiError(404, "session_not_found", "no such session for this user")
            result = await db.execute(
                select(ChatMessageRow)
                .where(ChatMessageRow.session_id == session_id)
                .order_by(ChatMessageRow.id.desc())
                .limit(self._window)
            )
            messages = [
                StoredMessage(role=m.role, content=m.content, agent=m.agent, meta=m.meta or {})
                for m in reversed(result.scalars().all())
            ]
            return SessionWindow(key=key, messages=messages, memory=dict(row.memory or {}))

    async def append_turn(
        self,
        key: SessionKey,
        user_message: str,
        answer: StoredMessage,
        memory: dict[str, Any],
    ) -> None:
        """Append a user message and its answer, and update memory, in one transaction."""
        async with self._sessions() as db, db.begin():
            row = await db.get(ChatSessionRow, key.session_id, with_for_update=True)
            if row is None:
                row = ChatSessionRow(
                    id=key.session_id, tenant_id=key.tenant_id, user_id=key.user_id, memory={}
                )
                db.add(row)
                await db.flush()  # the session row must exist before its messages reference it
            elif row.tenant_id != key.tenant_id or row.user_id != key.user_id:
                raise ApiError(404, "session_not_found", "no such session for this user")
            row.memory = {**(row.memory or {}), **memory}
            row.updated_at = utcnow()
            for message in (StoredMessage(role="user", content=user_message), answer):
                db.add(
                    ChatMessageRow(
                        session_id=key.session_id,
                        tenant_id=key.tenant_id,
                        user_id=key.user_id,
                        role=message.role,
                        content=message.content,
                        agent=message.agent,
                        meta=message.meta,
                    )
                )

    async def transcript(self, key: SessionKey) -> list[StoredMessage]:
        """Every message of the session, oldest first."""
        async with self._sessions() as db:
            row = await db.get(ChatSessionRow, key.session_id)
            if row is None or row.tenant_id != key.tenant_id or row.user_id != key.user_id:
                raise ApiError(404, "session_not_found", "no such session for this user")
            result = await db.execute(
                select(ChatMessageRow)
                .where(ChatMessageRow.session_id == key.session_id)
                .order_by(ChatMessageRow.id)
            )
            return [
                StoredMessage(role=m.role, content=m.content, agent=m.agent, meta=m.meta or {})
                for m in result.scalars().all()
            ]

    async def delete(self, key: SessionKey) -> None:
        async with self._sessions() as db, db.begin():
            row = await db.get(ChatSessionRow, key.session_id)
            if row is None or row.tenant_id != key.tenant_id or row.user_id != key.user_id:
                raise ApiError(404, "session_not_found", "no such session for this user")
            await db.execute(delete(ChatMessageRow).where(ChatMessageRow.session_id == key.session_id))
            await db.delete(row)
