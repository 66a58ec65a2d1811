"""The upload store: files a tenant hands to tools by reference, kept by the gateway per tenant.

Each upload is one row of `uploads` (what it is: name, media type, size, SHA-256, who uploaded
it, when it expires) and its bytes in `upload_chunks`, 1 MiB a row. The bytes arrive into memory
(never more than the cap) and are written with their description in one transaction, so a
reader never sees half an upload and a failed upload leaves nothing. Every gateway replica
shares the database, so an upload made through one is read through any other, and by any MCP
server whose fetch another replica answers: no shared volume to mount. A handle is random (see
`agentmesh.uploads`) and is looked up only under the caller's tenant, so another tenant's handle
is not found.

Caps: one upload at most `max_bytes` (counted while streaming, so an oversized body is cut off
at the cap, not read whole), a tenant's uploads together at most `tenant_quota_bytes`. Uploads
expire `retention` after they were made (`expire` sweeps them) and go with their tenant
(`delete_tenant`, inside tenant deletion's transaction).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator, Callable, Iterable
from datetime import UTC, datetime, timedelta

import anyio
import structlog
from pydantic import BaseModel, Field
from sqlalchemy import delete, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agentmesh.errors import AgentmeshError
from agentmesh.tenant_rows import TenantRows, delete_declared
from agentmesh.uploads import new_handle, upload_reference, valid_handle
from gateway.tables import UploadChunkRow, UploadRow

log = structlog.get_logger(__name__)

_TENANT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
CHUNK_BYTES = 1 << 20
"""Bytes per `upload_chunks` row: small enough for any database's row, few rows per file."""
_FILENAME_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\]+")
DEFAULT_MEDIA_TYPE = "application/octet-stream"
ADMIN_ROLES = frozenset({"tenant_admin", "platform_admin"})
"""Roles that may use any upload of their tenant; other users only their own."""
MAX_FILENAME_CHARS = 255


class UploadNotFound(AgentmeshError):
    """No such upload for this caller (another tenant's, another user's, expired, or never made)."""

    code = "upload_not_found"


class UploadTooLarge(AgentmeshError):
    code = "too_large"


class UploadQuotaExceeded(AgentmeshError):
    code = "upload_quota_exceeded"


class InvalidUpload(AgentmeshError):
    code = "invalid_request"


class UploadInfo(BaseModel):
    """An upload, as its row describes it."""

    handle: str
    reference: str = Field(description="what a tool argument or a chat attachment names it by")
    tenant_id: str
    filename: str
    media_type: str
    size_bytes: int
    sha256: str
    uploaded_by: str = Field(description="the user who uploaded it")
    created_at: datetime
    expires_at: datetime

    @classmethod
    def of(cls, row: UploadRow) -> UploadInfo:
        return cls(
            handle=row.handle,
            reference=upload_reference(row.handle),
            tenant_id=row.tenant_id,
            filename=row.filename,
            media_type=row.media_type,
            size_bytes=row.size_bytes,
            sha256=row.sha256,
            uploaded_by=row.uploaded_by,
            created_at=_aware(row.created_at),
            expires_at=_aware(row.expires_at),
        )

    def row(self) -> UploadRow:
        return UploadRow(**self.model_dump(exclude={"reference"}))


def _aware(moment: datetime) -> datetime:
    # SQLite keeps no offset; every moment stored here is UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def clean_filename(name: str | None) -> str:
    """A display name safe to keep and echo: no path, no control characters, at most 255 chars."""
    base = _FILENAME_UNSAFE.sub("_", (name or "").strip()).strip(" .")
    return base[-MAX_FILENAME_CHARS:] or "upload"


class UploadStore:
    """Uploads per tenant, in the platform database."""

    TENANT_ROWS = (TenantRows("uploads"),)
    """The chunks go with their upload (foreign key, `ON DELETE CASCADE`)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        max_bytes: int,
        tenant_quota_bytes: int,
        retention: timedelta,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._sessions = sessions
        self.max_bytes = max_bytes
        self._quota = tenant_quota_bytes
        self._retention = retention
        self._clock = clock

    # -- writing -------------------------------------------------------------------------------

    async def save(
        self,
        tenant_id: str,
        *,
        uploaded_by: str,
        filename: str | None,
        media_type: str | None,
        chunks: AsyncIterator[bytes],
        declared_size: int | None = None,
    ) -> UploadInfo:
        """Store the bytes `chunks` yields as a new upload of the tenant; its description.

        413 `too_large` past `max_bytes`, 413 `upload_quota_exceeded` past the tenant's quota
        (both checked on the declared size first, then while the bytes arrive).
        """
        if not _TENANT_ID.match(tenant_id):
            raise InvalidUpload(f"tenant id '{tenant_id[:64]}' cannot hold uploads")
        room = self._quota - await self.used_bytes(tenant_id)
        limit = min(self.max_bytes, room)
        if declared_size is not None:
            self._check_size(declared_size, room)
        received = bytearray()
        async for chunk in chunks:
            if len(received) + len(chunk) > limit:
                self._check_size(len(received) + len(chunk), room)
            received += chunk
        if not received:
            raise InvalidUpload("the upload holds no bytes")
        now = self._clock()
        handle = new_handle()
        info = UploadInfo(
            handle=handle,
            reference=upload_reference(handle),
            tenant_id=tenant_id,
            filename=clean_filename(filename),
            media_type=(media_type or DEFAULT_MEDIA_TYPE).split(";")[0].strip()[:100] or DEFAULT_MEDIA_TYPE,
            size_bytes=len(received),
            sha256=hashlib.sha256(received).hexdigest(),
            uploaded_by=uploaded_by,
            created_at=now,
            expires_at=now + self._retention,
        )
        data = bytes(received)
        async with self._sessions() as db, db.begin():
            db.add(info.row())
            await db.flush()
            for seq, offset in enumerate(range(0, len(data), CHUNK_BYTES)):
                db.add(UploadChunkRow(handle=handle, seq=seq, data=data[offset : offset + CHUNK_BYTES]))
        log.info(
            "upload_saved",
            tenant_id=tenant_id,
            handle=handle,
            bytes=info.size_bytes,
            media_type=info.media_type,
        )
        return info

    async def save_bytes(
        self, tenant_id: str, *, uploaded_by: str, filename: str | None, media_type: str | None, data: bytes
    ) -> UploadInfo:
        """`save` for bytes already in memory (an inline chat attachment, a base64 knowledge upload)."""

        async def one_chunk() -> AsyncIterator[bytes]:
            yield data

        return await self.save(
            tenant_id,
            uploaded_by=uploaded_by,
            filename=filename,
            media_type=media_type,
            chunks=one_chunk(),
            declared_size=len(data),
        )

    def _check_size(self, size: int, room: int) -> None:
        if size > self.max_bytes:
            raise UploadTooLarge(
                f"the upload is over {self.max_bytes:,} bytes, the largest file accepted",
                details={"limit": self.max_bytes},
            )
        if size > room:
            raise UploadQuotaExceeded(
                f"the tenant's uploads would exceed its {self._quota:,}-byte quota; delete some first",
                details={"quota": self._quota, "available": max(room, 0)},
            )

    # -- reading -------------------------------------------------------------------------------

    async def get(self, tenant_id: str, handle: str) -> UploadInfo:
        """The tenant's upload `handle` (404 `upload_not_found` for any other tenant's, or none)."""
        if not valid_handle(handle):
            raise UploadNotFound("no such upload")
        async with self._sessions() as db:
            row = await db.get(UploadRow, handle)
        if row is None or row.tenant_id != tenant_id:
            raise UploadNotFound(f"no upload '{handle}' for this tenant")
        info = UploadInfo.of(row)
        if info.expires_at <= self._clock():
            raise UploadNotFound(f"upload '{handle}' has expired")
        return info

    async def usable(self, tenant_id: str, handle: str, *, subject: str, roles: Iterable[str]) -> UploadInfo:
        """The tenant's upload `handle` if `subject` may use it (its uploader, or a tenant's admin);
        404 `upload_not_found` otherwise, the same answer as for an upload that never existed."""
        info = await self.get(tenant_id, handle)
        if info.uploaded_by != subject and not ADMIN_ROLES & set(roles):
            raise UploadNotFound(f"no upload '{handle}' for this tenant")
        return info

    async def chunks(self, info: UploadInfo) -> AsyncIterator[bytes]:
        """The bytes of an upload `get` returned, a chunk at a time (one short query each, so a
        slow reader holds no transaction open)."""
        for seq in range(-(-info.size_bytes // CHUNK_BYTES)):
            async with self._sessions() as db:
                chunk = await db.scalar(
                    select(UploadChunkRow.data).where(
                        UploadChunkRow.handle == info.handle, UploadChunkRow.seq == seq
                    )
                )
            if chunk is None:
                # Deleted (or expired and swept) while being read: the reader gets a short body.
                raise UploadNotFound(f"upload '{info.handle}' was deleted while it was read")
            yield chunk

    async def read(self, info: UploadInfo) -> bytes:
        return b"".join([chunk async for chunk in self.chunks(info)])

    async def list(self, tenant_id: str, *, uploaded_by: str | None = None) -> list[UploadInfo]:
        """The tenant's live uploads (only `uploaded_by`'s when given), newest first."""
        query = (
            select(UploadRow)
            .where(UploadRow.tenant_id == tenant_id, UploadRow.expires_at > self._clock())
            .order_by(UploadRow.created_at.desc(), UploadRow.handle)
        )
        if uploaded_by is not None:
            query = query.where(UploadRow.uploaded_by == uploaded_by)
        async with self._sessions() as db:
            return [UploadInfo.of(row) for row in await db.scalars(query)]

    async def used_bytes(self, tenant_id: str) -> int:
        query = select(func.coalesce(func.sum(UploadRow.size_bytes), 0)).where(
            UploadRow.tenant_id == tenant_id, UploadRow.expires_at > self._clock()
        )
        async with self._sessions() as db:
            return int(await db.scalar(query) or 0)

    # -- removing ------------------------------------------------------------------------------

    async def delete(self, tenant_id: str, handle: str) -> None:
        info = await self.get(tenant_id, handle)
        async with self._sessions() as db, db.begin():
            await db.execute(
                delete(UploadRow).where(UploadRow.handle == info.handle, UploadRow.tenant_id == tenant_id)
            )

    async def delete_tenant(self, db: AsyncSession, tenant_id: str) -> dict[str, int]:
        """Delete the tenant's uploads in `db`'s transaction (tenant deletion)."""
        return await delete_declared(db, self.TENANT_ROWS, tenant_id)

    async def expire(self) -> int:
        """Remove every upload past its retention, in every tenant; how many went."""
        async with self._sessions() as db, db.begin():
            result = await db.execute(delete(UploadRow).where(UploadRow.expires_at <= self._clock()))
        removed = int(result.rowcount or 0)  # type: ignore[attr-defined]
        if removed:
            log.info("uploads_expired", uploads=removed)
        return removed

    async def keep_expiring(self, every_seconds: float = 3600.0) -> None:
        """Sweep expired uploads now and then every `every_seconds`, until cancelled."""
        while True:
            try:
                # Shielded: a sweep cancelled inside its query (the gateway stopping) can leave the
                # pooled aiosqlite connection waiting forever, and the shutdown with it.
                with anyio.CancelScope(shield=True):
                    await self.expire()
            except SQLAlchemyError:
                log.exception("upload_expiry_failed")
            await anyio.sleep(every_seconds)
