"""What an IP address is, for the outbound guard: public, or one of the kinds the platform never calls.

Hosts are read the way resolvers read them, so odd IPv4 spellings (`2130706433`, `0x7f.1`,
`0177.0.0.1`) are recognised for the addresses they are; an IPv6 address that carries an IPv4
address (mapped, NAT64, 6to4) is judged by the IPv4 address it reaches.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import unquote

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Metadata services answer on these addresses inside clouds (AWS, GCP, Azure, ECS, Alibaba,
# Oracle). They stay refused even where a rule allows a host: nothing on a tenant's behalf has a
# reason to read them.
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


def parse_ip_literal(host: str) -> IPAddress | None:
    """The address a host written as an IP literal means, in any spelling a resolver accepts.

    Besides dotted decimal and IPv6, this reads the forms `inet_aton` accepts: one to four
    parts, each decimal, octal (leading 0) or hex (0x), the last part filling the remaining
    bytes (`2130706433`, `0x7f000001`, `127.1`, `0177.0.0.1` are all 127.0.0.1).
    """
    candidate = unquote(host).strip("[]").rstrip(".").lower()
    if ":" in candidate:
        try:
            return ipaddress.IPv6Address(candidate.split("%", 1)[0])
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
    """Why a connection to `address` is refused (its kind), or None for a public address."""
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
        (not address.is_global, "non-public"),
    )
    return next((reason for failed, reason in checks if failed), None)


def kind_phrase(reason: str) -> str:
    """A `blocked_reason` as words in a sentence: 'loopback' -> 'a loopback address',
    'private (IPv4 10.0.0.1 inside IPv6)' -> 'a private address (IPv4 10.0.0.1 inside IPv6)'."""
    kind, _, note = reason.partition(" (")
    article = "an" if kind[0] in "aeiou" else "a"
    return f"{article} {kind} address" + (f" ({note}" if note else "")


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
