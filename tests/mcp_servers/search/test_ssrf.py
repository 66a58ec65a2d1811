"""The SSRF guard: only public addresses, however they are written, unless a tenant rule allows the host."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mcp_servers.search.errors import BlockedDestination, InvalidUrl, UnresolvableHost
from mcp_servers.search.network_rules import NetworkRules
from mcp_servers.search.ssrf import DestinationGuard, SystemResolver, blocked_reason, parse_ip_literal
from tests.mcp_servers.search.conftest import StaticResolver

NO_RULES = NetworkRules()


@pytest.mark.parametrize(
    ("written", "meant"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("0x7f.0.0.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("10.1", "10.0.0.1"),
        ("169.254.43518", "169.254.169.254"),
        ("[::ffff:127.0.0.1]", "::ffff:127.0.0.1"),
        ("::1", "::1"),
    ],
)
def test_ip_literals_are_read_in_every_spelling_a_resolver_accepts(written: str, meant: str) -> None:
    assert parse_ip_literal(written) == ipaddress.ip_address(meant)


@pytest.mark.parametrize("name", ["example.com", "1.2.3.4.5", "256.0.0.1", "0x1g", "localhost", "08.0.0.1"])
def test_names_are_not_mistaken_for_ip_literals(name: str) -> None:
    assert parse_ip_literal(name) is None


@given(st.integers(min_value=0, max_value=2**32 - 1))
def test_decimal_hex_and_octal_spellings_name_the_same_address(number: int) -> None:
    address = ipaddress.IPv4Address(number)
    octets = address.packed
    assert parse_ip_literal(str(number)) == address
    assert parse_ip_literal(hex(number)) == address
    assert parse_ip_literal(".".join(f"0{octet:o}" for octet in octets)) == address


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("10.20.30.40", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "cloud metadata"),
        ("169.254.1.1", "link-local"),
        ("100.64.0.1", "carrier-grade NAT"),
        ("100.100.100.200", "cloud metadata"),
        ("224.0.0.251", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("240.0.0.1", "reserved"),
        ("192.0.2.10", "private"),
        ("::1", "loopback"),
        ("::", "unspecified"),
        ("fe80::1", "link-local"),
        ("fd12:3456::1", "private"),
        ("fd00:ec2::254", "cloud metadata"),
        ("ff02::1", "multicast"),
        ("::ffff:10.0.0.1", "private (IPv4 10.0.0.1 inside IPv6)"),
        ("64:ff9b::7f00:1", "loopback (IPv4 127.0.0.1 inside IPv6)"),
        ("2002:a9fe:a9fe::", "cloud metadata (IPv4 169.254.169.254 inside IPv6)"),
        ("::127.0.0.1", "reserved (IPv4-compatible IPv6)"),
        ("2001:db8::1", "private"),
    ],
)
def test_non_public_addresses_are_refused_with_their_kind(address: str, reason: str) -> None:
    assert blocked_reason(ipaddress.ip_address(address)) == reason


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"])
def test_public_addresses_pass(address: str) -> None:
    assert blocked_reason(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://127.0.0.1/", "127.0.0.1 is not a public address (loopback)"),
        ("http://10.0.0.8:8080/admin", "10.0.0.8 is not a public address (private)"),
        (
            "http://169.254.169.254/latest/meta-data/",
            "169.254.169.254 is not a public address (cloud metadata)",
        ),
        ("http://[::1]:8000/", "::1 is not a public address (loopback)"),
        ("http://[::ffff:127.0.0.1]/", "::ffff:127.0.0.1 is not a public address (loopback (IPv4 127.0.0.1"),
        ("http://2130706433/", "127.0.0.1 (written as 2130706433) is not a public address (loopback)"),
        ("http://0177.0.0.1/", "127.0.0.1 (written as 0177.0.0.1) is not a public address (loopback)"),
        ("http://0x7f.1/", "127.0.0.1 (written as 0x7f.1) is not a public address (loopback)"),
        ("http://metadata.google.internal/computeMetadata/v1/", "cloud metadata service"),
    ],
)
async def test_guard_refuses_private_destinations(url: str, message: str) -> None:
    guard = DestinationGuard(NO_RULES, StaticResolver({}))
    with pytest.raises(BlockedDestination) as refused:
        await guard.check(url)
    assert message in refused.value.message


async def test_a_name_resolving_to_a_private_address_is_refused() -> None:
    resolver = StaticResolver({"intranet.example.com": ["10.1.2.3"]})
    with pytest.raises(BlockedDestination, match=r"intranet.example.com \(resolves to 10.1.2.3\)"):
        await DestinationGuard(NO_RULES, resolver).check("https://intranet.example.com/wiki")


async def test_localhost_is_refused_through_the_system_resolver() -> None:
    with pytest.raises(BlockedDestination, match=r"localhost \(resolves to .*loopback"):
        await DestinationGuard(NO_RULES, SystemResolver()).check("http://localhost:8080/")


async def test_one_private_address_among_public_ones_is_enough_to_refuse() -> None:
    resolver = StaticResolver({"mixed.example.com": ["93.184.216.34", "192.168.0.10"]})
    with pytest.raises(BlockedDestination, match=r"192\.168\.0\.10"):
        await DestinationGuard(NO_RULES, resolver).check("http://mixed.example.com/")


async def test_a_public_name_passes_with_the_address_to_connect_to() -> None:
    resolver = StaticResolver({"www.example.com": ["93.184.216.34"]})
    destination = await DestinationGuard(NO_RULES, resolver).check("HTTPS://WWW.Example.com./a?b=1#frag")
    assert str(destination.url) == "https://www.example.com/a?b=1"
    assert destination.addresses == (ipaddress.ip_address("93.184.216.34"),)
    assert destination.allowed_by is None
    assert resolver.lookups == ["www.example.com"]


async def test_an_allowed_host_may_be_private_for_that_tenant_only() -> None:
    resolver = StaticResolver({"wiki.acme.internal": ["10.0.0.5"]})
    acme = NetworkRules(allowed_hosts=("*.acme.internal",))
    destination = await DestinationGuard(acme, resolver).check("http://wiki.acme.internal/")
    assert destination.addresses == (ipaddress.ip_address("10.0.0.5"),)
    assert destination.allowed_by == "*.acme.internal"
    with pytest.raises(BlockedDestination):
        await DestinationGuard(NO_RULES, resolver).check("http://wiki.acme.internal/")


async def test_deny_wins_over_allow_and_applies_to_public_hosts() -> None:
    resolver = StaticResolver({"ads.example.com": ["93.184.216.34"], "hr.acme.internal": ["10.0.0.6"]})
    rules = NetworkRules(
        allowed_hosts=("*.acme.internal", "*.example.com"), denied_hosts=("hr.acme.internal", "ads.*")
    )
    guard = DestinationGuard(rules, resolver)
    with pytest.raises(BlockedDestination, match=r"denied by this tenant's network rules \(ads\.\*\)"):
        await guard.check("http://ads.example.com/")
    with pytest.raises(BlockedDestination, match="denied"):
        await guard.check("http://hr.acme.internal/")


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:169.254.169.254]/latest/meta-data/",
        "http://[64:ff9b::a9fe:a9fe]/",
        "http://[fd00:ec2::254]/",
        "http://metadata.google.internal/computeMetadata/v1/",
    ],
)
async def test_an_allow_rule_never_opens_cloud_metadata(url: str) -> None:
    rules = NetworkRules(allowed_hosts=("*",))
    with pytest.raises(BlockedDestination, match="cloud metadata"):
        await DestinationGuard(rules, StaticResolver({})).check(url)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.com/file", "not an http:// or https:// URL"),
        ("file:///etc/passwd", "not an http:// or https:// URL"),
        ("example.com/page", "not an http:// or https:// URL"),
        ("http://user:secret@example.com/", "carries credentials"),
        ("http:///path-only", "has no host name"),
        ("http://example.com:99999/", "not a valid URL"),
    ],
)
async def test_malformed_urls_are_refused_with_a_reason(url: str, message: str) -> None:
    with pytest.raises(InvalidUrl, match=message):
        await DestinationGuard(NO_RULES, StaticResolver({})).check(url)


async def test_an_unknown_host_is_reported_as_unresolvable() -> None:
    with pytest.raises(UnresolvableHost, match=r"nowhere\.invalid"):
        await DestinationGuard(NO_RULES, SystemResolver()).check("http://nowhere.invalid/")
