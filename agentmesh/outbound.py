"""The outbound guard: a URL the platform calls on a tenant's behalf reaches the public internet only,
unless a rule allows the destination.

One guard serves every such URL: pages a tool fetches, ERP tool URLs, search provider and LLM
base URLs, registered MCP servers. It runs when an admin saves a URL (`check`: a clear refusal
before anything is stored) and again whenever a connection is opened (`connectable`, called by
the HTTP transport in `agentmesh.outbound_http`): after DNS resolution, on every redirect hop,
and against exactly the addresses it checked, so a second DNS answer cannot redirect a call.

What may be reached beyond the public internet is a `Reach`: the platform's allow list
(`AllowList`, from `AGENTMESH_OUTBOUND_ALLOW` plus the endpoints the platform itself is
configured with) for configured URLs, or a tenant's network rules for the pages it fetches.
Cloud metadata services are refused whatever a rule says.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import SplitResult, urlsplit

import anyio
import httpx2

from agentmesh.addresses import (
    CLOUD_METADATA_HOSTS,
    IPAddress,
    blocked_reason,
    is_cloud_metadata,
    kind_phrase,
    parse_ip_literal,
)
from agentmesh.errors import AgentmeshError
from agentmesh.settings import Settings

ALLOW_SETTING = "AGENTMESH_OUTBOUND_ALLOW"
SAVED_URL_RULE = (
    "A URL on a loopback, private, link-local or cloud metadata address (however spelled, whatever "
    f"its name resolves to) is refused with `400 blocked_destination` unless `{ALLOW_SETTING}` names it."
)
"""The rule for URLs admins save, as API documentation states it."""
_ALLOWED_SCHEMES = frozenset({"http", "https"})


class InvalidUrl(AgentmeshError):
    """The URL is not an absolute http(s) URL the platform can call."""

    code = "invalid_url"


class BlockedDestination(AgentmeshError):
    """The URL leads somewhere the platform does not call for tenants (a private network,
    cloud metadata, a denied host); the message says which address and why."""

    code = "blocked_destination"


class UnresolvableHost(AgentmeshError):
    """The host name does not resolve to any address."""

    code = "unresolvable_host"


class Resolver(Protocol):
    """Turns a host name into addresses (the system resolver, or a fixed table in tests)."""

    async def resolve(self, host: str, port: int) -> list[IPAddress]: ...


class SystemResolver:
    """The operating system's resolver (`getaddrinfo`), run off the event loop."""

    async def resolve(self, host: str, port: int) -> list[IPAddress]:
        try:
            infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:  # UnicodeError: a name IDNA cannot encode
            raise UnresolvableHost(f"host '{host}' does not resolve") from exc
        addresses: list[IPAddress] = []
        for _family, _type, _proto, _canon, sockaddr in infos:
            address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
            if address not in addresses:
                addresses.append(address)
        return addresses


@dataclass(frozen=True)
class Target:
    """A host and port as the rules see them."""

    host: str
    """Canonical: lower case, ASCII (IDNA), no brackets; odd IPv4 spellings as dotted decimal."""
    port: int
    literal: IPAddress | None = None
    """The address the host names literally, when it is an IP literal."""
    written: str = ""
    """The host as it was written, when that differs from `host` (for messages)."""

    @property
    def names(self) -> tuple[str, ...]:
        """What a host rule is matched against: the host, and the address it names literally."""
        names = {self.host}
        if self.literal is not None:
            names.add(str(self.literal))
        return tuple(sorted(names))

    @classmethod
    def of_connection(cls, host: str, port: int) -> Target:
        """The target of a connection the HTTP client opens (`host` as the client sends it)."""
        literal = parse_ip_literal(host)
        canonical = str(literal) if literal is not None else host.strip("[]").rstrip(".").lower()
        return cls(host=canonical, port=port, literal=literal)


class Reach(Protocol):
    """What a check may reach beyond the public internet, and what it may never reach."""

    @property
    def source(self) -> str:
        """Whose rules these are, for messages ("this tenant's network rules")."""
        ...

    @property
    def remedy(self) -> str:
        """What would let a refused private destination through, for messages."""
        ...

    def denial(self, target: Target) -> str | None:
        """The rule that keeps `target` out even on the public internet, if any."""
        ...

    def allowance(self, target: Target) -> str | None:
        """The rule that allows `target` by name on any non-metadata address, if any."""
        ...

    def address_allowance(self, address: IPAddress, target: Target) -> str | None:
        """The rule that allows connecting to non-public `address` for `target`, if any."""
        ...


@dataclass(frozen=True)
class _HostPattern:
    glob: str
    port: int | None

    def matches(self, target: Target) -> bool:
        return (self.port is None or self.port == target.port) and any(
            fnmatch.fnmatchcase(name, self.glob) for name in target.names
        )


@dataclass(frozen=True)
class _AddressPattern:
    network: ipaddress.IPv4Network | ipaddress.IPv6Network
    port: int | None

    def matches(self, address: IPAddress, port: int) -> bool:
        return (self.port is None or self.port == port) and address in self.network


@dataclass(frozen=True)
class AllowList:
    """The platform's allow list: the non-public destinations configured URLs may reach.

    Entries (`AGENTMESH_OUTBOUND_ALLOW`, comma separated) are host globs (`*.corp.internal`),
    IP addresses and CIDR ranges (`10.20.0.0/16`, `fd00:1::/64`), each optionally with a port
    (`searx.internal:8080`, `127.0.0.1:8090`, `[::1]:8090`), or a URL whose origin is allowed
    (`http://127.0.0.1:8090`). A name entry allows whatever that name resolves to; an address
    entry allows those addresses whatever name led to them.
    """

    entries: tuple[str, ...] = ()
    _hosts: tuple[_HostPattern, ...] = field(default=(), init=False, repr=False, compare=False)
    _addresses: tuple[_AddressPattern, ...] = field(default=(), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        hosts: list[_HostPattern] = []
        addresses: list[_AddressPattern] = []
        for entry in self.entries:
            pattern = _parse_entry(entry)
            if isinstance(pattern, _HostPattern):
                hosts.append(pattern)
            else:
                addresses.append(pattern)
        object.__setattr__(self, "_hosts", tuple(hosts))
        object.__setattr__(self, "_addresses", tuple(addresses))

    def including(self, entries: Iterable[str]) -> AllowList:
        """This list with `entries` added (the platform's own endpoints, for instance)."""
        added = tuple(entry for entry in entries if entry and entry not in self.entries)
        return AllowList((*self.entries, *added)) if added else self

    @property
    def source(self) -> str:
        return "the platform's outbound rules"

    @property
    def remedy(self) -> str:
        return f"a platform operator can allow it in {ALLOW_SETTING}"

    def denial(self, target: Target) -> str | None:
        return None

    def allowance(self, target: Target) -> str | None:
        found = next((pattern for pattern in self._hosts if pattern.matches(target)), None)
        return _entry_text(found) if found else None

    def address_allowance(self, address: IPAddress, target: Target) -> str | None:
        found = next((p for p in self._addresses if p.matches(address, target.port)), None)
        return _entry_text(found) if found else None


def _entry_text(pattern: _HostPattern | _AddressPattern) -> str:
    where = pattern.glob if isinstance(pattern, _HostPattern) else str(pattern.network)
    if pattern.port is None:
        return where
    return f"[{where}]:{pattern.port}" if ":" in where else f"{where}:{pattern.port}"


def _parse_entry(entry: str) -> _HostPattern | _AddressPattern:
    text = entry.strip().lower().rstrip(".")
    if not text:
        raise ValueError(f"{ALLOW_SETTING} has an empty entry")
    if "://" in text:
        try:
            _, target = normalise_url(text)
        except InvalidUrl as exc:
            raise ValueError(f"{ALLOW_SETTING} entry '{entry}': {exc.message}") from exc
        return _pattern(target.host, target.port, entry)
    host, port = _split_port(text, entry)
    return _pattern(host, port, entry)


def _split_port(text: str, entry: str) -> tuple[str, int | None]:
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest and not rest.startswith(":"):
            raise ValueError(f"{ALLOW_SETTING} entry '{entry}' is not [IPv6] or [IPv6]:port")
        return host, _port(rest[1:], entry) if rest else None
    if text.count(":") == 1:
        host, _, port = text.partition(":")
        return host, _port(port, entry)
    return text, None


def _port(text: str, entry: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ValueError(f"{ALLOW_SETTING} entry '{entry}' has an invalid port '{text}'")
    return int(text)


def _pattern(host: str, port: int | None, entry: str) -> _HostPattern | _AddressPattern:
    if "/" in host:
        try:
            return _AddressPattern(ipaddress.ip_network(host, strict=False), port)
        except ValueError as exc:
            raise ValueError(f"{ALLOW_SETTING} entry '{entry}' is not a CIDR range: {exc}") from exc
    literal = parse_ip_literal(host)
    if literal is not None:
        return _AddressPattern(ipaddress.ip_network(literal), port)
    return _HostPattern(host, port)


def origin_entry(url: str) -> str:
    """The allow-list entry for exactly the origin (host and port) of `url`."""
    _, target = normalise_url(url)
    host = f"[{target.host}]" if ":" in target.host else target.host
    return f"{host}:{target.port}"


@dataclass(frozen=True)
class Destination:
    """A URL that passed the guard, with the checked addresses a connection may go to."""

    url: httpx2.URL
    addresses: tuple[IPAddress, ...]
    """The checked addresses; empty for a host allowed by name (resolved when a connection opens)."""
    allowed_by: str | None = None
    """The rule that let a non-public address through, if one did."""


def normalise_url(raw: str) -> tuple[httpx2.URL, Target]:
    """An absolute http(s) URL with its host in canonical form, and the target it names."""
    text = raw.strip()
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise InvalidUrl(f"'{raw}' is not a valid URL: {exc}") from exc
    scheme = parts.scheme.lower()
    if scheme not in _ALLOWED_SCHEMES:
        raise InvalidUrl(f"'{raw}' is not an http:// or https:// URL")
    if parts.username is not None or parts.password is not None:
        raise InvalidUrl(f"'{raw}' carries credentials; URLs with user:password@ are not called")
    written = (parts.hostname or "").rstrip(".")
    if not written:
        raise InvalidUrl(f"'{raw}' has no host name")
    literal = parse_ip_literal(written)
    rebuilt = SplitResult(
        scheme, _netloc(literal, written, port), parts.path or "/", parts.query, ""
    ).geturl()
    try:
        url = httpx2.URL(rebuilt)
    except httpx2.InvalidURL as exc:
        raise InvalidUrl(f"'{raw}' is not a valid URL: {exc}") from exc
    host = url.raw_host.decode("ascii")
    target = Target(
        host=host,
        port=url.port or (443 if scheme == "https" else 80),
        literal=literal,
        written=written if written != host else "",
    )
    return url, target


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


class OutboundGuard:
    """Checks destinations against the public-internet rule and one `Reach`."""

    def __init__(self, reach: Reach, resolver: Resolver | None = None) -> None:
        self.reach = reach
        self.resolver: Resolver = resolver or SystemResolver()

    @classmethod
    def for_platform(
        cls,
        allow: Iterable[str],
        *,
        trusted_urls: Iterable[str | None] = (),
        resolver: Resolver | None = None,
    ) -> OutboundGuard:
        """The guard of configured URLs: `allow` (the operator's allow list) plus the origins of
        `trusted_urls`, the endpoints the platform itself was configured with (the ERP API, the
        platform's LLM base URL): calling those is the platform's own business."""
        origins = [origin_entry(url) for url in trusted_urls if url]
        return cls(AllowList(tuple(allow)).including(origins), resolver)

    @classmethod
    def from_settings(
        cls, settings: Settings, *, trusted_urls: Iterable[str | None] = (), resolver: Resolver | None = None
    ) -> OutboundGuard:
        """The platform's guard for configured URLs: `AGENTMESH_OUTBOUND_ALLOW`, plus the endpoints
        the settings configure (the ERP API, `OPENAI_BASE_URL`) and `trusted_urls`."""
        trusted = [settings.erp_api_url, settings.openai_base_url, *trusted_urls]
        return cls.for_platform(settings.outbound_allow, trusted_urls=trusted, resolver=resolver)

    async def check(self, raw_url: str) -> Destination:
        """The destination `raw_url` may be called at, or the error saying why not: the check of
        a URL being saved."""
        url, target = self.admit(raw_url)
        named = self.reach.allowance(target)
        if named is not None and target.literal is None:
            # Allowed by name: whatever it resolves to is allowed but cloud metadata, which is
            # checked when a connection opens, from wherever the call is made (its DNS may see
            # names this process cannot).
            return Destination(url=url, addresses=(), allowed_by=named)
        addresses = await self.connectable(target)
        rules = (self._allowed_by(target, a) for a in addresses if blocked_reason(a))
        return Destination(url=url, addresses=addresses, allowed_by=next(rules, None))

    def admit(self, raw_url: str) -> tuple[httpx2.URL, Target]:
        """Everything that can be decided without DNS: the URL's form, denied and metadata hosts,
        and an address written literally (said as it was written: `2130706433` is 127.0.0.1)."""
        url, target = normalise_url(raw_url)
        self._refuse_by_name(target)
        if target.literal is not None:
            self._check_address(target, target.literal)
        return url, target

    async def connectable(self, target: Target) -> tuple[IPAddress, ...]:
        """The addresses `target` may be connected to: resolved once, every one checked."""
        self._refuse_by_name(target)
        addresses = (
            [target.literal] if target.literal else await self.resolver.resolve(target.host, target.port)
        )
        if not addresses:
            raise UnresolvableHost(f"host '{target.host}' does not resolve")
        for address in addresses:
            self._check_address(target, address)
        return tuple(addresses)

    def _refuse_by_name(self, target: Target) -> None:
        denied = self.reach.denial(target)
        if denied:
            raise BlockedDestination(f"{target.host} is denied by {self.reach.source} ({denied})")
        if target.host in CLOUD_METADATA_HOSTS:
            raise BlockedDestination(f"{target.host} is a cloud metadata service and is never called")

    def _allowed_by(self, target: Target, address: IPAddress) -> str | None:
        """The rule letting a connection to non-public `address` through for `target`, if any."""
        if is_cloud_metadata(address):
            return None
        return self.reach.allowance(target) or self.reach.address_allowance(address, target)

    def _check_address(self, target: Target, address: IPAddress) -> None:
        reason = blocked_reason(address)
        if reason is None or self._allowed_by(target, address):
            return
        if target.literal is None:
            subject = f"{target.host} resolves to {address}, {kind_phrase(reason)}"
        else:
            written = f" (written as {target.written})" if target.written else ""
            subject = f"{target.host}{written} is {kind_phrase(reason)}"
        if is_cloud_metadata(address):
            raise BlockedDestination(f"{subject}, which this platform never calls")
        raise BlockedDestination(
            f"{subject}, which this platform does not call for tenants; {self.reach.remedy}",
            details={"host": target.host, "address": str(address), "kind": reason.split(" (")[0]},
        )
