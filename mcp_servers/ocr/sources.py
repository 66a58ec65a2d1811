"""Where a document's bytes come from: base64 in the call, or a file in the tenant's folder.

Files are read only under `<ocr_allowed_dir>/<tenant_id>/`, after resolving every symlink, so a
caller can reach neither another tenant's folder nor anything outside through `..` or a link.
Refusals say what the caller can do and nothing of how the server is set up (no setting names,
no server paths); the server's log keeps that detail.
"""

from __future__ import annotations

import base64
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import structlog

from agentmesh.settings import Settings
from mcp_servers.ocr.errors import FileNotFound, InputTooLarge, InvalidInput, PathRefused

log = structlog.get_logger(__name__)

_DATA_URL = re.compile(r"^data:(?P<mime>[\w.+-]+/[\w.+-]+)?(?:;[\w=.-]+)*;base64,", re.IGNORECASE)
_TENANT_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
# A file name ends in an extension ("receipt.png"); a sentence does not.
_FILE_NAME = re.compile(r"\.[A-Za-z0-9]{1,5}$")
MAX_PATH_CHARS = 1024
ATTACH_INSTEAD = "attach the image or PDF instead (as base64 or a data: URL)"


@dataclass(frozen=True)
class InputLimits:
    """Caps on what one call may read."""

    max_bytes: int
    max_pixels: int
    max_pages: int

    @classmethod
    def from_settings(cls, settings: Settings) -> InputLimits:
        return cls(
            max_bytes=settings.ocr_max_input_bytes,
            max_pixels=settings.ocr_max_pixels,
            max_pages=settings.ocr_max_pages,
        )


class DocumentSource:
    """Turns a tool's `image`/`document` argument into bytes for one tenant."""

    def __init__(self, allowed_dir: Path | None, limits: InputLimits) -> None:
        self._allowed_dir = allowed_dir
        self._limits = limits

    def read(self, value: str, tenant_id: str) -> bytes:
        """The bytes of `value`: a data URL, plain base64, or a path in the tenant's folder.

        A string that is valid base64 is taken as base64; anything else (a path always has a
        `.` or a length base64 cannot have) is taken as a path.
        """
        value = value.strip()
        if not value:
            raise InvalidInput("the input is empty: send base64 bytes or a path in your folder")
        match = _DATA_URL.match(value)
        if match:
            return self._decode(value[match.end() :])
        compact = "".join(value.split())
        try:
            return self._decode(compact, strict=True)
        except ValueError:  # binascii.Error, or letters outside ASCII ("Tổng cộng ...")
            return self._read_path(value, tenant_id)

    def _decode(self, text: str, *, strict: bool = False) -> bytes:
        compact = "".join(text.split())
        if len(compact) * 3 // 4 > self._limits.max_bytes + 2:
            size, limit = len(compact) * 3 // 4, self._limits.max_bytes
            raise InputTooLarge(f"the input is about {size:,} bytes; the limit is {limit:,} bytes")
        try:
            data = base64.b64decode(compact, validate=True)
        except ValueError as exc:
            if strict:
                raise
            raise InvalidInput("the data URL does not hold valid base64") from exc
        self.check_size(len(data))
        return data

    def _read_path(self, value: str, tenant_id: str) -> bytes:
        if len(value) > MAX_PATH_CHARS or "\x00" in value or "\n" in value:
            raise InvalidInput(f"the input is neither a document nor a file path: {ATTACH_INSTEAD}")
        if _is_prose(value):
            # A question passed where the document belongs ("What is the total on this receipt?").
            raise InvalidInput(f"no document came with the request, only text: {ATTACH_INSTEAD}")
        if self._allowed_dir is None:
            if not _FILE_NAME.search(value) and "/" not in value and "\\" not in value:
                # Not a path either: most likely base64 that lost characters on the way.
                raise InvalidInput(
                    f"the input is neither valid base64 nor a data: URL nor a file path: {ATTACH_INSTEAD}"
                )
            log.info("ocr_path_input_disabled", tenant_id=tenant_id, reason="ocr_allowed_dir is not set")
            raise PathRefused(f"reading files by path is not enabled here: {ATTACH_INSTEAD}")
        if not _TENANT_SEGMENT.match(tenant_id):
            log.info("ocr_path_input_refused", tenant_id=tenant_id, reason="tenant id is not a folder name")
            raise PathRefused(f"reading files by path is not available for this account: {ATTACH_INSTEAD}")
        folder = (self._allowed_dir / tenant_id).resolve()
        requested = Path(value)
        candidate = requested if requested.is_absolute() else folder / requested
        resolved = candidate.resolve()
        if not resolved.is_relative_to(folder):
            raise PathRefused(
                f"'{value}' is outside your folder: give a path inside it, such as 'scans/receipt.png'"
            )
        if not resolved.is_file():
            raise FileNotFound(f"no file '{value}' in your folder")
        self.check_size(resolved.stat().st_size)
        data = resolved.read_bytes()
        self.check_size(len(data))
        return data

    def delete_tenant_folder(self, tenant_id: str) -> int:
        """Remove the tenant's folder and everything in it (tenant deletion); how many files it held."""
        if self._allowed_dir is None or not _TENANT_SEGMENT.match(tenant_id):
            return 0
        folder = self._allowed_dir / tenant_id
        if folder.is_symlink():
            folder.unlink()  # the link only: whatever it points at is not the tenant's folder
            return 0
        if not folder.is_dir():
            return 0
        files = sum(1 for path in folder.rglob("*") if path.is_file() and not path.is_symlink())
        shutil.rmtree(folder)
        return files

    def check_size(self, size: int) -> None:
        """Refuse an input larger than the limit, or empty."""
        if size > self._limits.max_bytes:
            raise InputTooLarge(f"the input is {size:,} bytes; the limit is {self._limits.max_bytes:,} bytes")
        if size == 0:
            raise InvalidInput("the input holds no bytes")


def _is_prose(value: str) -> bool:
    """Whether `value` reads as words rather than a path: several words, no folder separator and
    no file extension."""
    return len(value.split()) >= 3 and "/" not in value and "\\" not in value and not _FILE_NAME.search(value)
