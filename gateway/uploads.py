"""The upload store: files a tenant hands to tools by reference, kept by the gateway per tenant.

Each upload is two files in the tenant's own directory, `<root>/<tenant>/<handle>.bin` (the
bytes) and `<handle>.json` (what it is: name, media type, size, SHA-256, who uploaded it, when
it expires). The bytes are written to a temporary file first and renamed into place, the
description last, so a reader never sees half an upload. A handle is random (see
`agentmesh.uploads`); it is looked up only under the caller's tenant, so another tenant's
handle is not found.

Caps: one upload at most `max_bytes` (counted while streaming, so an oversized body is cut off
at the cap, not read whole), a tenant's uploads together at most `tenant_quota_bytes`. Uploads
expire `retention` after they were made (`expire` sweeps them) and go with their tenant
(`delete_tenant`).

The root is a directory on this machine by default. Several gateway replicas share it the way
they share the database: a volume every replica mounts (ReadWriteMany), or an object store
behind this same interface. The MCP servers never read it: they fetch bytes from the gateway.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import time
from collections.abc import AsyncIterator, Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio
import structlog
from pydantic import BaseModel, Field, ValidationError

from agentmesh.errors import AgentmeshError
from agentmesh.uploads import new_handle, upload_reference, valid_handle

log = structlog.get_logger(__name__)

_TENANT_DIRECTORY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
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
    """An upload, as its description file keeps it."""

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


def clean_filename(name: str | None) -> str:
    """A display name safe to keep and echo: no path, no control characters, at most 255 chars."""
    base = _FILENAME_UNSAFE.sub("_", (name or "").strip()).strip(" .")
    return base[-MAX_FILENAME_CHARS:] or "upload"


class UploadStore:
    """Uploads per tenant under one root directory."""

    def __init__(
        self,
        root: Path,
        *,
        max_bytes: int,
        tenant_quota_bytes: int,
        retention: timedelta,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.root = root
        self.max_bytes = max_bytes
        self._quota = tenant_quota_bytes
        self._retention = retention
        self._clock = clock

    # -- where things are ----------------------------------------------------------------------

    def tenant_directory(self, tenant_id: str) -> Path:
        """The tenant's directory (its name is the tenant id, which must be a safe path segment)."""
        if not _TENANT_DIRECTORY.match(tenant_id):
            raise InvalidUpload(f"tenant id '{tenant_id[:64]}' cannot hold uploads")
        return self.root / tenant_id

    def _paths(self, tenant_id: str, handle: str) -> tuple[Path, Path]:
        folder = self.tenant_directory(tenant_id)
        return folder / f"{handle}.bin", folder / f"{handle}.json"

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
        folder = self.tenant_directory(tenant_id)
        room = self._quota - await self.used_bytes(tenant_id)
        limit = min(self.max_bytes, room)
        if declared_size is not None:
            self._check_size(declared_size, room)
        handle = new_handle()
        data_path, info_path = self._paths(tenant_id, handle)
        await anyio.to_thread.run_sync(lambda: folder.mkdir(parents=True, exist_ok=True))
        partial = folder / f".{handle}.partial"
        digest = hashlib.sha256()
        size = 0
        try:
            async with await anyio.open_file(partial, "wb") as out:
                async for chunk in chunks:
                    size += len(chunk)
                    if size > limit:
                        self._check_size(size, room)
                    digest.update(chunk)
                    await out.write(chunk)
            if size == 0:
                raise InvalidUpload("the upload holds no bytes")
            now = self._clock()
            info = UploadInfo(
                handle=handle,
                reference=upload_reference(handle),
                tenant_id=tenant_id,
                filename=clean_filename(filename),
                media_type=(media_type or DEFAULT_MEDIA_TYPE).split(";")[0].strip()[:100]
                or DEFAULT_MEDIA_TYPE,
                size_bytes=size,
                sha256=digest.hexdigest(),
                uploaded_by=uploaded_by,
                created_at=now,
                expires_at=now + self._retention,
            )
            await anyio.to_thread.run_sync(_commit, partial, data_path, info_path, info.model_dump_json())
        except BaseException:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(lambda: partial.unlink(missing_ok=True))
            raise
        log.info("upload_saved", tenant_id=tenant_id, handle=handle, bytes=size, media_type=info.media_type)
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
        data_path, info_path = self._paths(tenant_id, handle)
        info = await anyio.to_thread.run_sync(_read_info, info_path)
        if info is None or info.tenant_id != tenant_id or not data_path.is_file():
            raise UploadNotFound(f"no upload '{handle}' for this tenant")
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

    def content_path(self, info: UploadInfo) -> Path:
        """Where the bytes of an upload `get` returned are."""
        return self._paths(info.tenant_id, info.handle)[0]

    async def read(self, info: UploadInfo) -> bytes:
        return await anyio.to_thread.run_sync(self.content_path(info).read_bytes)

    async def list(self, tenant_id: str, *, uploaded_by: str | None = None) -> list[UploadInfo]:
        """The tenant's live uploads (only `uploaded_by`'s when given), newest first."""
        infos = await anyio.to_thread.run_sync(_read_all, self.tenant_directory(tenant_id))
        now = self._clock()
        return sorted(
            (
                info
                for info in infos
                if info.tenant_id == tenant_id
                and info.expires_at > now
                and (uploaded_by is None or info.uploaded_by == uploaded_by)
            ),
            key=lambda info: info.created_at,
            reverse=True,
        )

    async def used_bytes(self, tenant_id: str) -> int:
        return sum(info.size_bytes for info in await self.list(tenant_id))

    # -- removing ------------------------------------------------------------------------------

    async def delete(self, tenant_id: str, handle: str) -> None:
        info = await self.get(tenant_id, handle)
        await anyio.to_thread.run_sync(_remove, *self._paths(tenant_id, info.handle))

    async def delete_tenant(self, tenant_id: str) -> int:
        """Remove every upload of the tenant, its directory with them; how many there were."""
        if not _TENANT_DIRECTORY.match(tenant_id):
            return 0  # an id no upload can be stored under
        folder = self.tenant_directory(tenant_id)

        def remove() -> int:
            if not folder.exists():
                return 0
            count = len(list(folder.glob("*.json")))
            shutil.rmtree(folder)
            return count

        removed = await anyio.to_thread.run_sync(remove)
        log.info("uploads_deleted_with_tenant", tenant_id=tenant_id, uploads=removed)
        return removed

    async def expire(self) -> int:
        """Remove every upload past its retention, in every tenant; how many went."""
        now = self._clock()

        def sweep() -> int:
            removed = 0
            if not self.root.exists():
                return 0
            for folder in self.root.iterdir():
                if not folder.is_dir():
                    continue
                for info in _read_all(folder):
                    if info.expires_at <= now:
                        _remove(folder / f"{info.handle}.bin", folder / f"{info.handle}.json")
                        removed += 1
                _remove_stale_partials(folder)
            return removed

        removed = await anyio.to_thread.run_sync(sweep)
        if removed:
            log.info("uploads_expired", uploads=removed)
        return removed

    async def keep_expiring(self, every_seconds: float = 3600.0) -> None:
        """Sweep expired uploads now and then every `every_seconds`, until cancelled."""
        while True:
            try:
                await self.expire()
            except OSError:
                log.exception("upload_expiry_failed")
            await anyio.sleep(every_seconds)


def _commit(partial: Path, data_path: Path, info_path: Path, info_json: str) -> None:
    os.replace(partial, data_path)
    pending = info_path.parent / f".{info_path.name}.partial"
    pending.write_text(info_json)
    os.replace(pending, info_path)


def _read_info(path: Path) -> UploadInfo | None:
    try:
        return UploadInfo.model_validate_json(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValidationError):
        log.warning("upload_description_unreadable", path=str(path))
        return None


def _read_all(folder: Path) -> list[UploadInfo]:
    if not folder.is_dir():
        return []
    return [info for path in folder.glob("*.json") if (info := _read_info(path)) is not None]


def _remove(*paths: Path) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


_PARTIAL_GRACE_SECONDS = 24 * 3600


def _remove_stale_partials(folder: Path) -> None:
    """Temporary files a crashed upload left behind (older than a day: not one being written)."""
    cutoff = time.time() - _PARTIAL_GRACE_SECONDS
    for path in folder.glob(".*.partial"):
        if path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)
