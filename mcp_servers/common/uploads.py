"""Reading an `upload://<handle>` argument: the bytes come from the gateway, for this call only.

A server never holds the upload store. It asks the gateway (`settings.resolved_uploads_url`) with
the mesh token of the call it is serving, so the gateway answers within that token's tenant and
user only: a handle of another tenant is not found, whoever sends it. The server enforces its
own byte limit on what it reads: a larger file is refused from its declared length, and cut off
at the limit if it does not declare one.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote

import httpx
import structlog
from mcp.server.auth.middleware.auth_context import get_access_token

from agentmesh.errors import AgentmeshError
from agentmesh.settings import Settings
from agentmesh.uploads import handle_of

log = structlog.get_logger(__name__)

FETCH_TIMEOUT_SECONDS = 60.0


class UploadNotFound(AgentmeshError):
    code = "upload_not_found"


class UploadTooLarge(AgentmeshError):
    code = "too_large"


class UploadsUnavailable(AgentmeshError):
    code = "uploads_unavailable"
    retryable = True


@dataclass(frozen=True)
class UploadedFile:
    """The bytes an upload reference names, with the name and media type given at upload."""

    data: bytes
    filename: str
    media_type: str


class UploadReader:
    """Fetches the uploads that tool arguments refer to, as the caller of the current call."""

    def __init__(self, settings: Settings, *, client: httpx.AsyncClient | None = None) -> None:
        self._url = settings.resolved_uploads_url
        self._client = client

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            # Operator configuration, not a tenant's URL: no proxy from the environment.
            self._client = httpx.AsyncClient(timeout=FETCH_TIMEOUT_SECONDS, trust_env=False)
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()

    async def read(self, reference: str, *, max_bytes: int) -> UploadedFile:
        """The bytes of `reference` (`upload://<handle>`), at most `max_bytes` of them."""
        handle = handle_of(reference)
        token = get_access_token()
        if token is None:
            raise UploadsUnavailable(
                "upload references are read through the gateway, and this server runs without one "
                "(stdio): send the file as base64",
                retryable=False,
            )
        url = f"{self._url}/{handle}"
        try:
            async with self._http().stream(
                "GET", url, headers={"Authorization": f"Bearer {token.token}"}
            ) as response:
                if response.status_code == 404:
                    raise UploadNotFound(
                        f"no upload '{handle}' for this tenant (it may have expired, or be someone else's)"
                    )
                if response.status_code != 200:
                    log.warning("upload_fetch_refused", status=response.status_code)
                    raise UploadsUnavailable(
                        f"the gateway did not hand over upload '{handle}' (HTTP {response.status_code})"
                    )
                declared = response.headers.get("content-length")
                if declared is not None and declared.isdigit() and int(declared) > max_bytes:
                    raise _too_large(int(declared), max_bytes)
                data = bytearray()
                async for chunk in response.aiter_bytes():
                    data += chunk
                    if len(data) > max_bytes:
                        raise _too_large(len(data), max_bytes)
                return UploadedFile(
                    data=bytes(data),
                    filename=unquote(response.headers.get("x-upload-filename", "upload")),
                    media_type=response.headers.get("x-upload-media-type", "application/octet-stream"),
                )
        except httpx.HTTPError as exc:
            log.warning("upload_fetch_failed", error=type(exc).__name__)
            raise UploadsUnavailable(f"the gateway could not be reached for upload '{handle}'") from exc


def _too_large(size: int, limit: int) -> UploadTooLarge:
    return UploadTooLarge(
        f"the uploaded file is over {limit:,} bytes ({size:,} or more), more than this tool reads",
        details={"limit": limit},
    )
