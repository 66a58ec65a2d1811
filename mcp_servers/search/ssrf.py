"""The SSRF guard: a URL is fetched only if every address it leads to is on the public internet.

A fetch may only reach the public internet, unless the tenant's network rules allow the host.
The guard parses the URL leniently (so odd IP spellings such as `2130706433`, `0x7f.1` or
`0177.0.0.1` are recognised for what they are), resolves the name once, refuses loopback,
private, link-local, carrier-grade NAT, multicast, reserved and cloud-metadata addresses
(IPv4 and IPv6, including IPv4 embedded in IPv6), and returns the checked address so the caller
connects to exactly that address: no second lookup that DNS rebinding could change.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import SplitResult, unquote, urlsplit

import anyio
import httpx

from mcp_servers.search.errors import BlockedDestination, InvalidUrl, UnresolvableHost
from mcp_servers.search.network_rules import NetworkRules

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Metadata services answer on these addresses inside clouds (AWS, GCP, Azure, ECS, Alibaba,
# Oracle). They stay blocked even for allowed hosts: no tenant has a reason to read them.
CLOUD_METADATA_ADDRESSES: frozenset[IPAddress] = frozenset(
    ipaddress.ip_address(address)
    for address in ("169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200", "192.0.0.192")
)
CLOUD_METADATA_HOSTS = frozenset(
    {"metadata", "metadata.google.internal", "metadata.goog", "instance-data", "instance-data.ec2.internal"}
)

_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
_NUMERIC_PART = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$")
_ALLOWED_SCHEMES = frozenset({"http", "https"})


@dataclass(frozen=True)
class Destination:
    """A URL that passed the guard, with the checked addresses the fetch may connect to."""

    url: httpx.URL
    addresses: tuple[IPAddress, ...]
    allowed_by: str | None = None
    """The tenant rule that let a non-public address through, if one did."""

    @property
    def connect_host(self) -> str:
        """The host name as the HTTP client will ask to connect to it (ASCII, no brackets)."""
        return self.url.raw_host.decode("ascii")


class Resolver(Protocol):
    """Turns a host name into addresses (the system resolver, or a fixed table in tests)."""

    async def resolve(self, host: str, port: int) -> list[IPAddress]: ...


class SystemResolver:
    """The operating system's resolver (`getaddrinfo`), run off the event loop."""

    async def resolve(self, host: str, port: int) -> list[IPAddress]:
        try:
            infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise UnresolvableHost(f"host '{host}' does not resolve") from exc
        addresses: list[IPAddress] = []
        for _family, _type, _proto, _canon, sockaddr in infos:
            address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
            if address not in addresses:
                addresses.append(address)
        return addresses


def parse_ip_literal(host: str) -> IPAddress | None:
    """The address a host written as an IP literal means, in any spelling a resolver accepts.

    Besides dotted decimal and IPv6, this reads the forms `inet_aton` accepts: one to four
    parts, each decimal, octal (leading 0) or hex (0x), the last part filling the remaining
    bytes (`2130706433`, `0x7f000001`, `127.1`, `0177.0.0.1` are all 127.0.0.1).
    """
    candidate = unquote(host).strip("[]").rstrip(".").lower()
    if ":" in candidate:
        try:
            return ipaddress.IPv6Address(candidate)
        except ValueError:
            return None
    parts = candidate.split(".")
    if not 1 <= len(parts) <= 4 or not all(_NUMERIC_PART.match(part) for part in parts):
        return None
    try:
        values = [_numeric_part(part) for part in parts]
    except ValueError:
        return None
    *leading, last = values
    if any(value > 0xFF for value in leading) or last >= 1 << (8 * (5 - len(values))):
        return None
    number = 0
    for value in leading:
        number = (number << 8) | value
    number = (number << (8 * (5 - len(values)))) | last
    return ipaddress.IPv4Address(number)


def _numeric_part(part: str) -> int:
    if part.startswith("0x"):
        return int(part[2:] or "0", 16)
    if len(part) > 1 and part.startswith("0"):
        return int(part, 8)
    return int(part, 10)


def blocked_reason(address: IPAddress) -> str | None:
    """Why a connection to `address` is refused, or None for a public address."""
    if address in CLOUD_METADATA_ADDRESSES:
        return "cloud metadata"
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            reason = blocked_reason(embedded)
            return f"{reason} (IPv4 {embedded} inside IPv6)" if reason else None
        if address in _IPV4_COMPATIBLE and not (address.is_loopback or address.is_unspecified):
            return "reserved (IPv4-compatible IPv6)"
    checks: tuple[tuple[bool, str], ...] = (
        (address.is_unspecified, "unspecified"),
        (address.is_loopback, "loopback"),
        (address.is_link_local, "link-local"),
        (address.is_multicast, "multicast"),
        (isinstance(address, ipaddress.IPv4Address) and address in _CGNAT, "carrier-grade NAT"),
        (address.is_reserved, "reserved"),
        (address.is_private, "private"),
        (not address.is_global, "not publicly routable"),
    )
    return next((reason for failed, reason in checks if failed), None)


def is_cloud_metadata(address: IPAddress) -> bool:
    """Whether `address` reaches a cloud metadata service, directly or as IPv4 inside IPv6."""
    if address in CLOUD_METADATA_ADDRESSES:
        return True
    embedded = _embedded_ipv4(address) if isinstance(address, ipaddress.IPv6Address) else None
    return embedded is not None and embedded in CLOUD_METADATA_ADDRESSES


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, NAT64, 6to4), which is what gets reached."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.sixtofour


def normalise_url(raw: str) -> tuple[httpx.URL, IPAddress | None]:
    """An absolute http(s) URL with its host in canonical form, and the IP it names literally."""
    text = raw.strip()
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise InvalidUrl(f"'{raw}' is not a valid URL: {exc}") from exc
    if parts.scheme.lower() not in _ALLOWED_SCHEMES:
        raise InvalidUrl(f"'{raw}' is not an http:// or https:// URL")
    if parts.username is not None or parts.password is not None:
        raise InvalidUrl(f"'{raw}' carries credentials; URLs with user:password@ are not fetched")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise InvalidUrl(f"'{raw}' has no host name")
    literal = parse_ip_literal(host)
    netloc = _netloc(literal, host, port)
    rebuilt = SplitResult(parts.scheme.lower(), netloc, parts.path or "/", parts.query, "").geturl()
    try:
        url = httpx.URL(rebuilt)
    except httpx.InvalidURL as exc:
        raise InvalidUrl(f"'{raw}' is not a valid URL: {exc}") from exc
    return url, literal


def _netloc(literal: IPAddress | None, host: str, port: int | None) -> str:
    # Odd IPv4 spellings are rewritten to dotted decimal so the HTTP client never re-interprets
    # them; IPv6 literals are unambiguous and keep the form they were written in.
    if isinstance(literal, ipaddress.IPv4Address):
        name = str(literal)
    elif isinstance(literal, ipaddress.IPv6Address):
        name = f"[{host}]"
    else:
        name = host
    return f"{name}:{port}" if port is not None else name


class DestinationGuard:
    """Checks URLs against the public-internet rule and one tenant's network rules."""

    def __init__(self, rules: NetworkRules, resolver: Resolver) -> None:
        self._rules = rules
        self._resolver = resolver

    async def check(self, raw_url: str) -> Destination:
        """The destination `raw_url` may be fetched at, or `BlockedDestination` saying why not."""
        url, literal = normalise_url(raw_url)
        names = _rule_names(url, literal)
        denied = self._rules.denial(*names)
        if denied:
            raise BlockedDestination(f"{url.host} is denied by this tenant's network rules ({denied})")
        if url.host in CLOUD_METADATA_HOSTS:
            raise BlockedDestination(f"{url.host} is a cloud metadata service and is never fetched")
        allowed = self._rules.allowance(*names)
        addresses = [literal] if literal else await self._resolver.resolve(url.host, url.port or _port(url))
        if not addresses:
            raise UnresolvableHost(f"host '{url.host}' does not resolve")
        for address in addresses:
            reason = blocked_reason(address)
            if reason is None or (allowed and not is_cloud_metadata(address)):
                continue
            where = _describe(raw_url, url, literal, address)
            raise BlockedDestination(
                f"{where} is not a public address ({reason}); only public addresses are fetched "
                "unless this tenant's network rules allow the host"
            )
        return Destination(url=url, addresses=tuple(addresses), allowed_by=allowed)


def _rule_names(url: httpx.URL, literal: IPAddress | None) -> tuple[str, ...]:
    names = {url.host, url.raw_host.decode("ascii")}
    if literal is not None:
        names.add(str(literal))
    return tuple(sorted(names))


def _describe(raw_url: str, url: httpx.URL, literal: IPAddress | None, address: IPAddress) -> str:
    """The host as the caller will recognise it: how it was written and what it meant."""
    if literal is None:
        return f"{url.host} (resolves to {address})"
    written = (urlsplit(raw_url.strip()).hostname or "").rstrip(".")
    return f"{url.host} (written as {written})" if written != url.host else url.host


def _port(url: httpx.URL) -> int:
    return 443 if url.scheme == "https" else 80
