"""The HTTP call a tool configuration describes, made safely.

Every connection passes the outbound guard (the platform's allow list, which holds the ERP API
the server is configured with); payloads are capped at 100 KB each way; redirects are not
followed; every failure becomes an
`ErpToolError` a person can act on: 404 is "not found", 5xx and unreachable are retryable,
a timeout says how long we waited. Read-only tools are retried on retryable failures, with a
short backoff; a destructive tool is sent exactly once, and a failure that may have reached the
ERP is not marked retryable for it (the write may have happened: check before sending it again).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import anyio
import httpx2
import structlog

from agentmesh.outbound import OutboundGuard
from agentmesh.outbound_http import guarded_client
from mcp_servers.common.errors import ArgumentProblem, InvalidArguments
from mcp_servers.erp.errors import (
    BadUpstreamResponse,
    ErpNotConfigured,
    NotFound,
    PayloadTooLarge,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnauthorized,
    UpstreamUnavailable,
)
from mcp_servers.erp.tool_config import HttpToolConfig

log = structlog.get_logger(__name__)

MAX_PAYLOAD_BYTES = 100 * 1024
USER_AGENT = "agentmesh-erp/0.1"
RETRY_BACKOFF_SECONDS = 0.2


@dataclass(frozen=True)
class PreparedRequest:
    method: str
    url: str
    headers: dict[str, str]
    params: tuple[tuple[str, str], ...]
    body: bytes | None


def _kb(size: int) -> str:
    return f"{size / 1024:.1f} KB"


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


def prepare(
    config: HttpToolConfig,
    arguments: Mapping[str, Any],
    *,
    base_url: str | None,
    auth_headers: Mapping[str, str],
    max_bytes: int = MAX_PAYLOAD_BYTES,
) -> PreparedRequest:
    """The request for one call: path filled in, the rest as query (GET) or JSON body (POST),
    with `auth_headers` (what the tool's auth mode sends) added."""
    path_values: dict[str, str] = {}
    for name in config.path_parameters:
        raw = str(arguments[name])
        if raw in (".", ".."):
            raise InvalidArguments(config.name, [ArgumentProblem(name, f"cannot be {raw!r}")])
        path_values[name] = quote(raw, safe="")
    target = config.url.format(**path_values)
    if target.startswith("/"):
        if not base_url:
            raise ErpNotConfigured("no ERP base URL is configured for this server (AGENTMESH_ERP_API_URL)")
        target = base_url.rstrip("/") + target
    rest = {k: v for k, v in arguments.items() if k not in path_values and v is not None}
    params: list[tuple[str, str]] = []
    body: bytes | None = None
    if config.method == "GET":
        for key, value in rest.items():
            values = value if isinstance(value, list) else [value]
            params.extend((key, _query_value(item)) for item in values)
    else:
        body = json.dumps(rest, ensure_ascii=False).encode()
    size = len(target) + sum(len(k) + len(v) for k, v in params) + len(body or b"")
    if size > max_bytes:
        raise PayloadTooLarge(f"the request to the ERP would be {_kb(size)}; the limit is {_kb(max_bytes)}")
    headers = {"Accept": "application/json", "User-Agent": USER_AGENT, **config.headers, **auth_headers}
    if body is not None:
        headers["Content-Type"] = "application/json"
    return PreparedRequest(config.method, target, headers, tuple(params), body)


def _upstream_message(body: bytes) -> tuple[str, dict[str, Any]]:
    """The ERP's own explanation from an error body (`{"error": {"message"}}` and friends)."""
    try:
        payload = json.loads(body)
    except ValueError:
        text = body.decode("utf-8", "replace").strip()
        return (text[:300] or "no explanation given"), {}
    if isinstance(payload, dict):
        error = payload.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            details = error.get("details")
            return error["message"], details if isinstance(details, dict) else {}
        for key in ("message", "detail", "error"):
            if isinstance(payload.get(key), str):
                return payload[key], {}
    return "no explanation given", {}


def _as_object(payload: Any) -> dict[str, Any]:
    # structuredContent is an object; a bare list or value from the ERP is wrapped, not lost.
    if isinstance(payload, dict):
        return payload
    if isinstance(payload, list):
        return {"items": payload}
    return {"value": payload}


_CHECK_BEFORE_RETRY = (
    " {tool} changes data and was not retried: check whether it took effect before trying again."
)


def interpret(status: int, body: bytes, *, config: HttpToolConfig) -> dict[str, Any]:
    """The JSON answer of a successful call, or the `ErpToolError` its status means."""
    if 200 <= status < 300:
        if not body.strip():
            return {}
        try:
            return _as_object(json.loads(body))
        except ValueError as exc:
            raise BadUpstreamResponse(f"the ERP answered {status} but not with JSON") from exc
    message, details = _upstream_message(body)
    message = message.rstrip(".")
    info = {"status": status, **({"upstream": details} if details else {})}
    if status == 404:
        raise NotFound(f"Not found: {message}", details=info)
    if status in (401, 403):
        raise UpstreamUnauthorized(
            f"The ERP refused this tenant's credentials (HTTP {status}): {message}", details=info
        )
    if 300 <= status < 400:
        raise UpstreamRejected(
            f"The ERP answered with a redirect (HTTP {status}), which {config.name} does not follow"
        )
    if status >= 500:
        caution = "" if config.read_only else _CHECK_BEFORE_RETRY.format(tool=config.name)
        raise UpstreamUnavailable(
            f"The ERP failed (HTTP {status}): {message}.{caution}", retryable=config.read_only, details=info
        )
    raise UpstreamRejected(f"The ERP rejected the request (HTTP {status}): {message}", details=info)


class ErpHttp:
    """Makes the HTTP calls of configured tools over one pooled, guarded client (`open` it)."""

    def __init__(self, *, max_bytes: int = MAX_PAYLOAD_BYTES) -> None:
        self.max_bytes = max_bytes
        self._client: httpx2.AsyncClient | None = None

    @contextlib.asynccontextmanager
    async def open(self, outbound: OutboundGuard) -> AsyncIterator[ErpHttp]:
        """Make calls until the block ends, every connection checked by `outbound`."""
        limits = httpx2.Limits(max_connections=100, max_keepalive_connections=20)
        async with guarded_client(outbound, limits=limits, follow_redirects=False) as client:
            self._client = client
            try:
                yield self
            finally:
                self._client = None

    async def _read_capped(self, response: httpx2.Response) -> bytes:
        declared = response.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > self.max_bytes:
            raise PayloadTooLarge(
                f"the ERP's answer is {_kb(int(declared))}; the limit is {_kb(self.max_bytes)}"
            )
        body = bytearray()
        async for chunk in response.aiter_bytes():
            body.extend(chunk)
            if len(body) > self.max_bytes:
                raise PayloadTooLarge(f"the ERP's answer exceeds the limit of {_kb(self.max_bytes)}")
        return bytes(body)

    async def _attempt(self, config: HttpToolConfig, request: PreparedRequest) -> dict[str, Any]:
        if self._client is None:
            raise RuntimeError("ErpHttp is not open")
        try:
            with anyio.fail_after(config.timeout_seconds):
                async with self._client.stream(
                    request.method,
                    request.url,
                    params=request.params,
                    headers=request.headers,
                    content=request.body,
                    timeout=config.timeout_seconds,
                ) as response:
                    body = await self._read_capped(response)
        except (TimeoutError, httpx2.TimeoutException) as exc:
            caution = "" if config.read_only else _CHECK_BEFORE_RETRY.format(tool=config.name)
            raise UpstreamTimeout(
                f"The ERP did not answer within {config.timeout_seconds:g} s.{caution}",
                retryable=config.read_only,
            ) from exc
        except httpx2.ConnectError as exc:
            # No connection, so nothing was sent: safe to try again even for a write.
            raise UpstreamUnavailable(f"The ERP could not be reached ({type(exc).__name__})") from exc
        except httpx2.TransportError as exc:
            caution = "" if config.read_only else _CHECK_BEFORE_RETRY.format(tool=config.name)
            raise UpstreamUnavailable(
                f"The connection to the ERP failed ({type(exc).__name__}).{caution}",
                retryable=config.read_only,
            ) from exc
        return interpret(response.status_code, body, config=config)

    async def call(self, config: HttpToolConfig, request: PreparedRequest) -> dict[str, Any]:
        """Send `request`; retry a read-only tool on a 5xx or unreachable ERP, never a destructive one."""
        attempt = 0
        while True:
            try:
                return await self._attempt(config, request)
            except UpstreamUnavailable as exc:
                if attempt >= config.retries:
                    raise
                log.info("erp_call_retry", tool=config.name, attempt=attempt + 1, reason=exc.message)
                await anyio.sleep(RETRY_BACKOFF_SECONDS * 2**attempt)
                attempt += 1
