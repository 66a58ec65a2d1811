"""Downloading one URL safely: every hop through the outbound guard under the tenant's network
rules (connected to the checked address), with caps on total time, body size and redirect count.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import anyio
import httpx2

from agentmesh.outbound import OutboundGuard, Resolver, SystemResolver
from agentmesh.outbound_http import guarded_client
from agentmesh.settings import Settings
from mcp_servers.search.errors import (
    FetchTimeout,
    ResponseTooLarge,
    TooManyRedirects,
    UnsupportedContent,
    UpstreamStatus,
    UpstreamUnreachable,
)
from mcp_servers.search.network_rules import NetworkRules, TenantReach

USER_AGENT = "agentmesh-search/0.1 (+https://github.com/agentmesh; fetch_page)"
ACCEPT = "text/html,application/xhtml+xml,application/pdf,text/plain;q=0.9,*/*;q=0.5"

READABLE_MEDIA_TYPES = frozenset(
    {
        "text/html",
        "application/xhtml+xml",
        "application/pdf",
        "text/plain",
        "text/markdown",
        "text/csv",
        "application/json",
    }
)
"""Media types we can turn into text; a response that declares another type is not downloaded."""

_UNDECLARED = frozenset({"", "application/octet-stream", "binary/octet-stream"})


@dataclass(frozen=True)
class FetchLimits:
    """Caps on one fetch, redirects included."""

    max_bytes: int
    timeout_seconds: float
    max_redirects: int

    @classmethod
    def from_settings(cls, settings: Settings) -> FetchLimits:
        return cls(
            max_bytes=settings.search_fetch_max_bytes,
            timeout_seconds=settings.search_fetch_timeout_seconds,
            max_redirects=settings.search_fetch_max_redirects,
        )


@dataclass(frozen=True)
class Download:
    """The body of a successful fetch and where it finally came from."""

    requested_url: str
    final_url: str
    status: int
    media_type: str
    charset: str | None
    body: bytes
    redirects: tuple[str, ...]
    fetched_at: datetime


@dataclass(frozen=True)
class _Redirect:
    location: str


class PageFetcher:
    """Fetches URLs for one server process; each call is checked against the caller's rules."""

    def __init__(
        self,
        limits: FetchLimits,
        resolver: Resolver | None = None,
        *,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        self._limits = limits
        self._resolver = resolver or SystemResolver()
        # Building a TLS context loads the CA bundle (tens of milliseconds): once, not per fetch.
        self._tls: ssl.SSLContext = (
            verify
            if isinstance(verify, ssl.SSLContext)
            else httpx2.create_ssl_context(verify, trust_env=False)
        )

    @property
    def limits(self) -> FetchLimits:
        return self._limits

    async def download(self, url: str, rules: NetworkRules) -> Download:
        """GET `url`, following redirects, each hop checked against `rules` and the public-only rule."""
        guard = OutboundGuard(TenantReach(rules), self._resolver)
        try:
            with anyio.fail_after(self._limits.timeout_seconds):
                # A client per fetch: its connections were checked under this tenant's rules only.
                async with guarded_client(guard, ssl_context=self._tls, follow_redirects=False) as client:
                    return await self._follow(url, guard, client)
        except TimeoutError as exc:
            raise FetchTimeout(
                f"{url} did not finish within the {self._limits.timeout_seconds:g} s time limit"
            ) from exc

    async def _follow(self, url: str, guard: OutboundGuard, client: httpx2.AsyncClient) -> Download:
        current = url
        redirects: list[str] = []
        while True:
            # The form of the URL and the tenant's denied hosts; the addresses are checked when
            # the client connects.
            request_url, _ = guard.admit(current)
            outcome = await self._get(client, request_url)
            if isinstance(outcome, Download):
                return replace(outcome, requested_url=url, redirects=tuple(redirects))
            if len(redirects) >= self._limits.max_redirects:
                raise TooManyRedirects(
                    f"{url} redirects more than {self._limits.max_redirects} times "
                    f"(the last redirect pointed to {outcome.location})"
                )
            current = str(request_url.join(outcome.location))
            redirects.append(current)

    async def _get(self, client: httpx2.AsyncClient, url: httpx2.URL) -> Download | _Redirect:
        headers = {"User-Agent": USER_AGENT, "Accept": ACCEPT}
        try:
            async with client.stream("GET", url, headers=headers) as response:
                return await self._read(str(url), response)
        except httpx2.TimeoutException as exc:
            raise FetchTimeout(f"{url} timed out") from exc
        except httpx2.ConnectError as exc:
            raise UpstreamUnreachable(f"could not connect to {url.host}: {exc}") from exc
        except httpx2.HTTPError as exc:
            reason = str(exc) or type(exc).__name__
            raise UpstreamUnreachable(f"could not fetch {url}: {reason}") from exc

    async def _read(self, url: str, response: httpx2.Response) -> Download | _Redirect:
        if response.is_redirect:
            location = response.headers.get("location")
            if not location:
                raise UpstreamStatus(f"{url} answered {response.status_code} without a Location", 502)
            return _Redirect(location)
        if response.status_code >= 400:
            raise UpstreamStatus(
                f"{url} answered HTTP {response.status_code} {response.reason_phrase}".rstrip(),
                response.status_code,
            )
        media_type, charset = _content_type(response.headers.get("content-type", ""))
        if media_type not in READABLE_MEDIA_TYPES and media_type not in _UNDECLARED:
            raise UnsupportedContent(f"{url} is {media_type}; only HTML, PDF and text pages are read")
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self._limits.max_bytes:
            raise self._too_large(url)
        body = bytearray()
        async for chunk in response.aiter_bytes():
            body.extend(chunk)
            if len(body) > self._limits.max_bytes:
                raise self._too_large(url)
        return Download(
            requested_url=url,
            final_url=url,
            status=response.status_code,
            media_type=media_type,
            charset=charset,
            body=bytes(body),
            redirects=(),
            fetched_at=datetime.now(UTC),
        )

    def _too_large(self, url: str) -> ResponseTooLarge:
        return ResponseTooLarge(f"{url} is larger than the {self._limits.max_bytes:,} byte limit")


def _content_type(header: str) -> tuple[str, str | None]:
    media_type, _, params = header.partition(";")
    charset = None
    for param in params.split(";"):
        key, _, value = param.strip().partition("=")
        if key.lower() == "charset" and value:
            charset = value.strip().strip('"').lower()
    return media_type.strip().lower(), charset
