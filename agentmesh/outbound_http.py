"""HTTP clients whose every connection passes the outbound guard (httpx2 over httpcore2).

The guard sits where connections are opened, in the connection pool's network backend: the host
of each new connection is resolved once, every address is checked (`OutboundGuard.connectable`)
and the TCP connection goes to a checked address, while TLS is still verified for the host name.
A redirect hop to another origin opens its own connection, so every hop is checked; pooled
connections are keyed by origin, so one is only reused for the host it was checked for.
Environment proxies are never used: through a proxy, the checked address would mean nothing.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterable
from typing import Any

import httpcore2
import httpx2

from agentmesh.outbound import BlockedDestination, OutboundGuard, Target

DEFAULT_LIMITS = httpx2.Limits(max_connections=100, max_keepalive_connections=20)


class GuardedNetworkBackend(httpcore2.AsyncNetworkBackend):
    """Opens TCP connections only to addresses the guard accepted for the requested host."""

    def __init__(self, guard: OutboundGuard, inner: httpcore2.AsyncNetworkBackend | None = None) -> None:
        self._guard = guard
        self._inner = inner or httpcore2.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        addresses = await self._guard.connectable(Target.of_connection(host, port))
        failure: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    str(address),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore2.ConnectError, httpcore2.ConnectTimeout) as exc:
                # A host may publish an address family this machine cannot reach (IPv6 in most
                # containers): the next checked address is as safe to try.
                failure = exc
        assert failure is not None  # `connectable` never returns an empty tuple
        raise failure

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore2.AsyncNetworkStream:
        raise BlockedDestination("outbound calls never go to a local socket")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class GuardedTransport(httpx2.AsyncHTTPTransport):
    """httpx2's own transport, with its connection pool opening connections through the guard."""

    def __init__(
        self,
        guard: OutboundGuard,
        *,
        ssl_context: ssl.SSLContext | None = None,
        limits: httpx2.Limits = DEFAULT_LIMITS,
        http2: bool = False,
    ) -> None:
        # Building a TLS context loads the CA bundle (tens of milliseconds): callers that make
        # many transports pass one context.
        context = ssl_context or httpx2.create_ssl_context(trust_env=False)
        super().__init__(verify=context, trust_env=False, limits=limits, http2=http2)
        # httpx2 offers no way to hand its pool a network backend; this is the pool it builds
        # for the same arguments, with the guarded backend.
        self._pool = httpcore2.AsyncConnectionPool(
            ssl_context=context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            http1=True,
            http2=http2,
            network_backend=GuardedNetworkBackend(guard),
        )


def guarded_client(
    guard: OutboundGuard,
    *,
    ssl_context: ssl.SSLContext | None = None,
    limits: httpx2.Limits = DEFAULT_LIMITS,
    **options: Any,
) -> httpx2.AsyncClient:
    """An `httpx2.AsyncClient` whose every connection passes `guard` (never through a proxy).

    `options` are the client's own (`timeout`, `follow_redirects`, `auth`, `headers`, ...).
    """
    transport = GuardedTransport(guard, ssl_context=ssl_context, limits=limits)
    return httpx2.AsyncClient(transport=transport, trust_env=False, **options)
