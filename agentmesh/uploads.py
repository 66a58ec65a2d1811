"""Large inputs by reference: `upload://<handle>` names a file a tenant uploaded to the gateway.

Documents and photos are uploaded once (`POST /api/{tenant_id}/uploads`, or as a chat
attachment) and travel to tools as this short reference instead of base64, so the policy's cap
on tool arguments keeps protecting the servers without refusing real files. A server resolves
a reference by asking the gateway for the bytes with the mesh token of the call it is serving
(`GET /internal/uploads/{handle}`): the gateway answers only within that token's tenant.

A handle is 192 random bits in URL-safe base64 and carries no tenant: acme's handle presented
with a globex token is simply not found, and cannot be guessed.
"""

from __future__ import annotations

import re
import secrets

from agentmesh.errors import AgentmeshError

UPLOAD_SCHEME = "upload://"
HANDLE_PATTERN = r"^[A-Za-z0-9_-]{32}$"
INTERNAL_UPLOADS_PATH = "/internal/uploads"
"""Where the gateway serves upload bytes to the MCP servers (mesh token required)."""

_HANDLE = re.compile(HANDLE_PATTERN)


class InvalidUploadReference(AgentmeshError):
    """A value that starts like an upload reference but names no possible handle."""

    code = "invalid_arguments"


def new_handle() -> str:
    """A fresh, unguessable handle (32 URL-safe characters)."""
    return secrets.token_urlsafe(24)


def upload_reference(handle: str) -> str:
    """The reference a tool argument carries for `handle`."""
    return f"{UPLOAD_SCHEME}{handle}"


def is_upload_reference(value: object) -> bool:
    return isinstance(value, str) and value.strip().startswith(UPLOAD_SCHEME)


def handle_of(reference: str) -> str:
    """The handle of an `upload://<handle>` reference; `InvalidUploadReference` when malformed."""
    handle = reference.strip().removeprefix(UPLOAD_SCHEME)
    if not reference.strip().startswith(UPLOAD_SCHEME) or not _HANDLE.match(handle):
        raise InvalidUploadReference(
            "an upload reference is 'upload://' followed by the 32-character handle the upload returned"
        )
    return handle


def valid_handle(handle: str) -> bool:
    return bool(_HANDLE.match(handle))
