"""Which Host and Origin headers an endpoint answers: the guard against DNS rebinding.

A web page can make a browser send requests to a server on the user's machine or network under
a name the attacker controls (DNS rebinding), or from another origin. A request whose Host is not
one of the gateway's names is answered 421; one from a browser page of another origin, 403.
Patterns are exact (`gateway.example.com`, `https://console.example.com`), port-wildcards
(`localhost:*`) or `*` (anything: for a gateway only reachable through a proxy that checks).
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.requests import HTTPConnection

from gateway.errors import ApiError

LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]")


def _matches(value: str, patterns: Iterable[str]) -> bool:
    for pattern in patterns:
        if pattern == "*" or value == pattern:
            return True
        if pattern.endswith(":*") and value.startswith(pattern[:-1]):
            return True
    return False


class HostCheck:
    """Refuses requests addressed to a name, or sent from an origin, that is not allowed."""

    def __init__(self, hosts: Iterable[str], origins: Iterable[str]) -> None:
        self._hosts = tuple(hosts)
        self._origins = tuple(origins)

    def check(self, connection: HTTPConnection) -> None:
        """Raise the 421 or 403 `ApiError` a refused request gets."""
        host = connection.headers.get("host", "")
        if not _matches(host, self._hosts):
            raise ApiError(
                "misdirected_request",
                f"this gateway does not answer for the host '{host}' "
                "(AGENTMESH_ALLOWED_HOSTS lists the names it answers for)",
            )
        origin = connection.headers.get("origin")
        if origin is not None and not _matches(origin, self._origins):
            raise ApiError(
                "origin_not_allowed",
                f"requests from pages of '{origin}' are not accepted here "
                "(AGENTMESH_ALLOWED_ORIGINS lists the ones that are)",
            )
