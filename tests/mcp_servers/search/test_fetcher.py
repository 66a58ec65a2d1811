"""Fetching over real HTTP: every hop checked, connected to the checked address, within caps."""

from __future__ import annotations

import re
import time
from urllib.parse import quote

import pytest

from agentmesh.outbound import BlockedDestination
from mcp_servers.search.errors import (
    FetchTimeout,
    ResponseTooLarge,
    TooManyRedirects,
    UnsupportedContent,
    UpstreamStatus,
    UpstreamUnreachable,
)
from mcp_servers.search.fetcher import FetchLimits, PageFetcher
from mcp_servers.search.network_rules import NetworkRules
from tests.mcp_servers.search.conftest import LOOPBACK_ALLOWED, SMALL_LIMITS
from tests.support.processes import free_port
from tests.support.resolver import StaticResolver


async def test_an_allowed_loopback_host_is_fetched(site: str, fetcher: PageFetcher) -> None:
    download = await fetcher.download(f"{site}/page.html", LOOPBACK_ALLOWED)
    assert download.status == 200
    assert download.media_type == "text/html"
    assert "Chính sách đổi trả" in download.body.decode()
    assert download.final_url == f"{site}/page.html"
    assert download.redirects == ()


async def test_the_same_host_is_refused_without_the_rule(site: str, fetcher: PageFetcher) -> None:
    with pytest.raises(BlockedDestination, match="loopback"):
        await fetcher.download(f"{site}/page.html", NetworkRules())


async def test_redirects_are_followed_and_recorded(site: str, fetcher: PageFetcher) -> None:
    download = await fetcher.download(f"{site}/redirect/2", LOOPBACK_ALLOWED)
    assert download.final_url == f"{site}/page.html"
    assert download.redirects == (f"{site}/redirect/1", f"{site}/redirect/0", f"{site}/page.html")
    assert download.requested_url == f"{site}/redirect/2"


async def test_more_redirects_than_the_cap_are_refused(site: str, fetcher: PageFetcher) -> None:
    with pytest.raises(TooManyRedirects, match="more than 3 times"):
        await fetcher.download(f"{site}/redirect/5", LOOPBACK_ALLOWED)


async def test_a_redirect_loop_ends_at_the_cap(site: str, fetcher: PageFetcher) -> None:
    with pytest.raises(TooManyRedirects):
        await fetcher.download(f"{site}/loop", LOOPBACK_ALLOWED)


async def test_a_public_looking_url_redirecting_to_a_private_one_is_refused(site: str) -> None:
    # news.example.com is what the tenant asked for and allowed; the redirect's target is
    # checked on its own and the tenant never allowed it.
    port = site.rsplit(":", 1)[1]
    resolver = StaticResolver(
        {
            "news.example.com": ["127.0.0.1"],
            "db.internal.example.com": ["10.0.0.7"],
            "localhost": ["127.0.0.1", "::1"],
        }
    )
    rules = NetworkRules(allowed_hosts=("news.example.com",))
    fetcher = PageFetcher(SMALL_LIMITS, resolver)
    public_looking = f"http://news.example.com:{port}/to?url="
    for target, reason in [
        (f"http://127.0.0.1:{port}/page.html", "127.0.0.1 is a loopback address"),
        ("http://169.254.169.254/latest/meta-data/", "cloud metadata"),
        ("http://db.internal.example.com/", "resolves to 10.0.0.7"),
        (f"http://localhost:{port}/page.html", "localhost resolves to 127.0.0.1, a loopback address"),
    ]:
        with pytest.raises(BlockedDestination, match=re.escape(reason)):
            await fetcher.download(public_looking + quote(target, safe=""), rules)


async def test_the_fetch_connects_to_the_checked_address_without_a_second_lookup(site: str) -> None:
    # "rebind.example.com" exists only in the guard's resolver: if the HTTP client looked the
    # name up again it would fail, so success proves it connected to the checked address.
    port = site.rsplit(":", 1)[1]
    resolver = StaticResolver({"rebind.example.com": ["127.0.0.1"]})
    fetcher = PageFetcher(SMALL_LIMITS, resolver)
    rules = NetworkRules(allowed_hosts=("rebind.example.com",))
    download = await fetcher.download(f"http://rebind.example.com:{port}/host", rules)
    assert download.body.decode() == f"host header: rebind.example.com:{port}"
    assert resolver.lookups == ["rebind.example.com"]


async def test_an_unreachable_address_falls_back_to_the_next_checked_one(site: str) -> None:
    # The name publishes an IPv6 address nothing listens on, then the site's IPv4 address.
    port = site.rsplit(":", 1)[1]
    resolver = StaticResolver({"dual.example.com": ["::1", "127.0.0.1"]})
    fetcher = PageFetcher(SMALL_LIMITS, resolver)
    download = await fetcher.download(
        f"http://dual.example.com:{port}/host", NetworkRules(allowed_hosts=("dual.*",))
    )
    assert download.body.decode() == f"host header: dual.example.com:{port}"


async def test_a_declared_body_over_the_size_cap_is_refused(site: str, fetcher: PageFetcher) -> None:
    with pytest.raises(ResponseTooLarge, match="65,536 byte limit"):
        await fetcher.download(f"{site}/big.txt", LOOPBACK_ALLOWED)


async def test_a_streamed_body_is_cut_off_at_the_size_cap(site: str, fetcher: PageFetcher) -> None:
    with pytest.raises(ResponseTooLarge):
        await fetcher.download(f"{site}/chunked.txt", LOOPBACK_ALLOWED)


async def test_a_slow_first_byte_hits_the_time_cap(site: str, fetcher: PageFetcher) -> None:
    started = time.monotonic()
    with pytest.raises(FetchTimeout, match=r"1\.5 s time limit"):
        await fetcher.download(f"{site}/late.txt", LOOPBACK_ALLOWED)
    assert time.monotonic() - started < 3


async def test_a_body_that_drips_forever_hits_the_time_cap(site: str) -> None:
    # Each chunk arrives well within any per-read timeout; only a cap on the whole fetch stops it.
    fetcher = PageFetcher(FetchLimits(max_bytes=10_000_000, timeout_seconds=1.0, max_redirects=3))
    started = time.monotonic()
    with pytest.raises(FetchTimeout):
        await fetcher.download(f"{site}/drip.txt", LOOPBACK_ALLOWED)
    assert time.monotonic() - started < 2.5


async def test_a_declared_unreadable_type_is_refused_before_download(site: str, fetcher: PageFetcher) -> None:
    with pytest.raises(UnsupportedContent, match="image/png"):
        await fetcher.download(f"{site}/image.png", LOOPBACK_ALLOWED)


async def test_http_errors_are_reported_with_their_status(site: str, fetcher: PageFetcher) -> None:
    with pytest.raises(UpstreamStatus, match="HTTP 404 Not Found") as failed:
        await fetcher.download(f"{site}/missing", LOOPBACK_ALLOWED)
    assert failed.value.status == 404


async def test_a_closed_port_is_reported_as_unreachable(fetcher: PageFetcher) -> None:
    with pytest.raises(UpstreamUnreachable, match=r"could not connect to 127\.0\.0\.1"):
        await fetcher.download(f"http://127.0.0.1:{free_port()}/", LOOPBACK_ALLOWED)
