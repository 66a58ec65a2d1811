"""Client ID metadata documents: a client whose `client_id` is an https URL publishes its metadata there.

An MCP client that has never met this gateway may skip registration and name itself by the URL
of a JSON document (its name, redirect URIs, ...; `client_id_metadata_document_supported` in the
server metadata). The gateway fetches that document when the client first appears and keeps it
in the shared cache for a while. The fetch is the platform calling a URL a stranger chose, so it
goes through the outbound guard like every other: loopback, private and metadata addresses are
refused unless `AGENTMESH_OUTBOUND_ALLOW` names them, redirects are not followed, and the
document is small or refused.
"""

from __future__ import annotations

import json
import ssl
from typing import Any
from urllib.parse import urlsplit

import httpx2
import structlog

from agentmesh.errors import AgentmeshError
from agentmesh.outbound import OutboundGuard
from agentmesh.outbound_http import guarded_client
from gateway.cache import Cache

log = structlog.get_logger(__name__)

MAX_DOCUMENT_BYTES = 16 * 1024
CACHE_SECONDS = 300.0
FETCH_TIMEOUT_SECONDS = 5.0
MAX_CLIENT_ID_LENGTH = 2048


class ClientDocumentError(Exception):
    """The client's metadata document cannot be used; the message says why (for the client)."""


def is_document_client_id(client_id: str) -> bool:
    """Whether a `client_id` names a metadata document: an https URL with a path, no fragment."""
    if len(client_id) > MAX_CLIENT_ID_LENGTH:
        return False
    parts = urlsplit(client_id)
    return (
        parts.scheme == "https" and bool(parts.netloc) and parts.path not in ("", "/") and not parts.fragment
    )


class ClientDocuments:
    """Fetches, checks and caches client ID metadata documents through the outbound guard."""

    def __init__(
        self, guard: OutboundGuard, cache: Cache, *, ssl_context: ssl.SSLContext | None = None
    ) -> None:
        self._cache = cache
        self._http = guarded_client(
            guard, ssl_context=ssl_context, timeout=FETCH_TIMEOUT_SECONDS, follow_redirects=False
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def metadata(self, client_id: str) -> dict[str, Any]:
        """The document's client metadata, checked; `ClientDocumentError` when it cannot be used."""
        cached = await self._cache.get(_key(client_id))
        if cached is not None:
            document: dict[str, Any] = json.loads(cached)
            return document
        document = _checked(client_id, await self._fetch(client_id))
        await self._cache.set(_key(client_id), json.dumps(document), CACHE_SECONDS)
        return document

    async def _fetch(self, client_id: str) -> bytes:
        try:
            async with self._http.stream(
                "GET", client_id, headers={"Accept": "application/json"}
            ) as response:
                if response.status_code != 200:
                    raise ClientDocumentError(
                        f"the client metadata document answered HTTP {response.status_code}"
                    )
                body = b""
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > MAX_DOCUMENT_BYTES:
                        raise ClientDocumentError(
                            f"the client metadata document is larger than {MAX_DOCUMENT_BYTES} bytes"
                        )
                return body
        except AgentmeshError as exc:  # the outbound guard's refusal: where and why
            raise ClientDocumentError(
                f"the client metadata document cannot be fetched: {exc.message}"
            ) from exc
        except httpx2.HTTPError as exc:
            log.info("oauth_client_document_unreachable", client_id=client_id, error=type(exc).__name__)
            raise ClientDocumentError("the client metadata document cannot be fetched") from exc


def _checked(client_id: str, body: bytes) -> dict[str, Any]:
    try:
        document = json.loads(body)
    except ValueError as exc:
        raise ClientDocumentError("the client metadata document is not JSON") from exc
    if not isinstance(document, dict):
        raise ClientDocumentError("the client metadata document is not a JSON object")
    if document.get("client_id") != client_id:
        raise ClientDocumentError("the client metadata document names another client_id than its own URL")
    uris = document.get("redirect_uris")
    if not isinstance(uris, list) or not uris or not all(isinstance(uri, str) for uri in uris):
        raise ClientDocumentError("the client metadata document lists no redirect_uris")
    if len(uris) > 10 or any(len(uri) > MAX_CLIENT_ID_LENGTH for uri in uris):
        raise ClientDocumentError("the client metadata document lists too many or too long redirect_uris")
    method = document.get("token_endpoint_auth_method", "none")
    if method != "none":
        raise ClientDocumentError(
            "a client named by its metadata document is public: "
            f"token_endpoint_auth_method 'none', not {method!r}"
        )
    if "client_secret" in document or "client_secret_expires_at" in document:
        raise ClientDocumentError("a client metadata document must not carry a client secret")
    return document


def _key(client_id: str) -> str:
    return f"oauth:client-document:{client_id}"
