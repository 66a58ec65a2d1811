"""The outbound guard: only public addresses, however they are written, unless a rule allows them;
cloud metadata never."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agentmesh.addresses import blocked_reason, kind_phrase, parse_ip_literal
from agentmesh.outbound import (
    AllowList,
    BlockedDestination,
    InvalidUrl,
    OutboundGuard,
    SystemResolver,
    Target,
    UnresolvableHost,
    origin_entry,
)
from tests.support.resolver import StaticResolver

PUBLIC_ONLY = AllowList()


def guard(*allow: str, table: dict[str, list[str]] | None = None) -> OutboundGuard:
    return OutboundGuard(AllowList(allow), StaticResolver(table or {}))


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


def test_kinds_read_as_words() -> None:
    assert kind_phrase("loopback") == "a loopback address"
    assert kind_phrase("unspecified") == "an unspecified address"
    assert (
        kind_phrase("private (IPv4 10.0.0.1 inside IPv6)") == "a private address (IPv4 10.0.0.1 inside IPv6)"
    )


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (
            "http://127.0.0.1/",
            "127.0.0.1 is a loopback address, which this platform does not call for tenants",
        ),
        ("http://10.0.0.8:8080/admin", "10.0.0.8 is a private address"),
        ("http://10.255.255.254/", "10.255.255.254 is a private address"),
        ("http://172.16.0.1/", "172.16.0.1 is a private address"),
        ("http://172.31.255.1/", "172.31.255.1 is a private address"),
        ("http://192.168.1.20/", "192.168.1.20 is a private address"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a cloud metadata address"),
        ("http://[::1]:8000/", "::1 is a loopback address"),
        ("http://[fd12:3456::1]/", "fd12:3456::1 is a private address"),
        ("http://[::ffff:127.0.0.1]/", "::ffff:127.0.0.1 is a loopback address (IPv4 127.0.0.1 inside IPv6)"),
        ("http://2130706433/", "127.0.0.1 (written as 2130706433) is a loopback address"),
        ("http://0x7f000001/", "127.0.0.1 (written as 0x7f000001) is a loopback address"),
        ("http://0177.0.0.1/", "127.0.0.1 (written as 0177.0.0.1) is a loopback address"),
        ("http://0x7f.1/", "127.0.0.1 (written as 0x7f.1) is a loopback address"),
        ("http://3232235777/", "192.168.1.1 (written as 3232235777) is a private address"),
        ("http://metadata.google.internal/computeMetadata/v1/", "cloud metadata service"),
    ],
)
async def test_the_guard_refuses_non_public_destinations_with_a_clear_reason(url: str, message: str) -> None:
    with pytest.raises(BlockedDestination) as refused:
        await guard().check(url)
    assert message in refused.value.message


async def test_a_refusal_says_how_the_platform_could_allow_it() -> None:
    with pytest.raises(BlockedDestination) as refused:
        await guard().check("http://10.0.0.8/")
    assert "a platform operator can allow it in AGENTMESH_OUTBOUND_ALLOW" in refused.value.message
    assert refused.value.details == {"host": "10.0.0.8", "address": "10.0.0.8", "kind": "private"}


async def test_a_name_resolving_to_a_private_address_is_refused() -> None:
    resolving = guard(table={"intranet.example.com": ["10.1.2.3"]})
    with pytest.raises(
        BlockedDestination, match=r"intranet.example.com resolves to 10.1.2.3, a private address"
    ):
        await resolving.check("https://intranet.example.com/wiki")


async def test_localhost_is_refused_through_the_system_resolver() -> None:
    with pytest.raises(BlockedDestination, match=r"localhost resolves to .*, a loopback address"):
        await OutboundGuard(PUBLIC_ONLY, SystemResolver()).check("http://localhost:8080/")


async def test_one_private_address_among_public_ones_is_enough_to_refuse() -> None:
    mixed = guard(table={"mixed.example.com": ["93.184.216.34", "192.168.0.10"]})
    with pytest.raises(BlockedDestination, match=r"192\.168\.0\.10"):
        await mixed.check("http://mixed.example.com/")


async def test_a_public_name_passes_with_the_addresses_to_connect_to() -> None:
    resolver = StaticResolver({"www.example.com": ["93.184.216.34"]})
    destination = await OutboundGuard(PUBLIC_ONLY, resolver).check("HTTPS://WWW.Example.com./a?b=1#frag")
    assert str(destination.url) == "https://www.example.com/a?b=1"
    assert destination.addresses == (ipaddress.ip_address("93.184.216.34"),)
    assert destination.allowed_by is None
    assert resolver.lookups == ["www.example.com"]


@pytest.mark.parametrize(
    ("entry", "url"),
    [
        ("127.0.0.1:8090", "http://127.0.0.1:8090/customers"),
        ("127.0.0.1:8090", "http://localhost:8090/"),
        ("http://127.0.0.1:8090", "http://127.0.0.1:8090/"),
        ("localhost:8090", "http://localhost:8090/"),
        ("10.20.0.0/16", "https://10.20.3.4/api"),
        ("10.20.0.0/16", "https://erp.corp.test/api"),
        ("*.corp.test", "https://erp.corp.test:8443/api"),
        ("[::1]:8090", "http://[::1]:8090/"),
        ("fd00:1::/64", "http://[fd00:1::5]/"),
    ],
)
async def test_the_platform_allow_list_lets_named_destinations_through(entry: str, url: str) -> None:
    table = {"localhost": ["127.0.0.1"], "erp.corp.test": ["10.20.3.4"]}
    destination = await guard(entry, table=table).check(url)
    assert destination.allowed_by


@pytest.mark.parametrize(
    ("entry", "url"),
    [
        ("127.0.0.1:8090", "http://127.0.0.1:5432/"),
        ("localhost:8090", "http://localhost:6379/"),
        ("10.20.0.0/16", "http://10.21.0.1/"),
        ("*.corp.test", "http://corp.test.evil.example/"),
    ],
)
async def test_the_allow_list_allows_nothing_else(entry: str, url: str) -> None:
    table = {"localhost": ["127.0.0.1"], "corp.test.evil.example": ["10.20.0.9"]}
    with pytest.raises(BlockedDestination):
        await guard(entry, table=table).check(url)


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
async def test_no_rule_ever_opens_cloud_metadata(url: str) -> None:
    with pytest.raises(BlockedDestination, match="cloud metadata"):
        await guard("*", "0.0.0.0/0", "::/0").check(url)


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ("", "empty entry"),
        ("host:99999", "invalid port"),
        ("10.0.0.0/33", "not a CIDR range"),
        ("[::1]x", "[IPv6]:port"),
        ("ftp://files.internal", "not an http:// or https:// URL"),
    ],
)
def test_an_invalid_allow_list_entry_is_refused_at_start(entry: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem.replace("[", r"\[").replace("]", r"\]")):
        AllowList((entry,))


def test_the_platforms_own_endpoints_are_allowed_by_exact_origin() -> None:
    trusted = OutboundGuard.for_platform(
        (), trusted_urls=["http://127.0.0.1:8090", None, "https://llm.corp/v1"]
    )
    assert trusted.reach.allowance(Target("llm.corp", 443)) == "llm.corp:443"
    assert trusted.reach.allowance(Target("llm.corp", 8443)) is None
    assert origin_entry("http://[::1]/mcp") == "[::1]:80"


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
        await guard().check(url)


async def test_an_unknown_host_is_reported_as_unresolvable() -> None:
    with pytest.raises(UnresolvableHost, match=r"nowhere\.invalid"):
        await OutboundGuard(PUBLIC_ONLY, SystemResolver()).check("http://nowhere.invalid/")
