"""Crawling a small Vietnamese site on loopback, then searching it without accents."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route

from agentmesh.outbound import BlockedDestination
from mcp_servers.search.crawl import CrawlReport, crawl_site
from mcp_servers.search.errors import DisallowedByRobots
from mcp_servers.search.fetcher import PageFetcher
from mcp_servers.search.index import PageIndex
from mcp_servers.search.network_rules import NetworkRules
from tests.mcp_servers.search.company_site import company_site
from tests.mcp_servers.search.conftest import LOOPBACK_ALLOWED
from tests.mcp_servers.search.documents import html_page
from tests.mcp_servers.search.sites import serve


@pytest.fixture(scope="module")
def company() -> Iterator[str]:
    with serve(company_site()) as base_url:
        yield base_url


@pytest.fixture
def index(tmp_path: Path) -> PageIndex:
    return PageIndex(tmp_path / "index")


async def _crawl(
    fetcher: PageFetcher,
    index: PageIndex,
    url: str,
    *,
    depth: int,
    max_pages: int = 20,
    rules: NetworkRules = LOOPBACK_ALLOWED,
) -> CrawlReport:
    return await crawl_site(
        fetcher=fetcher,
        index=index,
        tenant_id="acme",
        rules=rules,
        start_url=url,
        depth=depth,
        max_pages=max_pages,
    )


async def test_a_depth_one_crawl_indexes_the_start_page_and_its_links(
    company: str, fetcher: PageFetcher, index: PageIndex
) -> None:
    report = await _crawl(fetcher, index, f"{company}/", depth=1)
    assert [(page.url, page.depth) for page in report.pages] == [
        (f"{company}/", 0),
        (f"{company}/gioi-thieu", 1),
        (f"{company}/san-pham", 1),
    ]
    reasons = {skipped.url: skipped.reason for skipped in report.skipped}
    assert reasons[f"{company}/private/bang-luong"] == "disallowed by robots.txt"
    assert "HTTP 404" in reasons[f"{company}/broken"]
    assert all("other.example" not in url for url in reasons)
    assert report.robots == "robots.txt applied"
    assert report.indexed_pages == 3


async def test_deeper_crawls_follow_links_further_and_search_finds_pages_without_accents(
    company: str, fetcher: PageFetcher, index: PageIndex
) -> None:
    report = await _crawl(fetcher, index, f"{company}/", depth=2)
    assert {page.url for page in report.pages} == {
        f"{company}/",
        f"{company}/gioi-thieu",
        f"{company}/san-pham",
        f"{company}/san-pham/may-loc-nuoc",
        f"{company}/lien-he",
    }
    found = await index.search("acme", "may loc nuoc tham thau nguoc", 3)
    assert found.hits[0].url == f"{company}/san-pham/may-loc-nuoc"
    assert "**thẩm** **thấu** **ngược**" in found.hits[0].snippet
    found = await index.search("acme", "dien thoai ho tro khach hang", 3)
    assert found.hits[0].url == f"{company}/lien-he"
    assert (await index.search("acme", "bang luong", 3)).hits == []


async def test_a_redirect_to_a_page_already_indexed_is_not_indexed_twice(
    company: str, fetcher: PageFetcher, index: PageIndex
) -> None:
    report = await _crawl(fetcher, index, f"{company}/", depth=1)
    urls = [page.url for page in report.pages]
    assert urls.count(f"{company}/gioi-thieu") == 1


async def test_max_pages_caps_the_crawl(company: str, fetcher: PageFetcher, index: PageIndex) -> None:
    report = await _crawl(fetcher, index, f"{company}/", depth=3, max_pages=2)
    assert len(report.pages) == 2
    assert any(skipped.reason == "page limit reached" for skipped in report.skipped)
    assert await index.count("acme") == 2


async def test_depth_zero_indexes_only_the_start_page(
    company: str, fetcher: PageFetcher, index: PageIndex
) -> None:
    report = await _crawl(fetcher, index, f"{company}/san-pham", depth=0)
    assert [page.url for page in report.pages] == [f"{company}/san-pham"]


async def test_a_start_page_robots_txt_disallows_is_refused(
    company: str, fetcher: PageFetcher, index: PageIndex
) -> None:
    with pytest.raises(DisallowedByRobots, match="does not allow crawling"):
        await _crawl(fetcher, index, f"{company}/private/bang-luong", depth=1)
    assert await index.count("acme") == 0


async def test_a_crawl_is_ssrf_checked_like_any_fetch(
    company: str, fetcher: PageFetcher, index: PageIndex
) -> None:
    with pytest.raises(BlockedDestination, match="loopback"):
        await _crawl(fetcher, index, f"{company}/", depth=1, rules=NetworkRules())
    assert await index.count("acme") == 0


async def test_links_to_another_host_name_for_the_same_server_are_not_followed(
    fetcher: PageFetcher, index: PageIndex
) -> None:
    with serve(
        Starlette(
            routes=[
                Route(
                    "/",
                    lambda r: HTMLResponse(
                        html_page(
                            "Start",
                            "<p>A page with enough words to be read as an article by trafilatura.</p>",
                            links=(f"http://localhost:{r.url.port}/elsewhere", "/here"),
                        )
                    ),
                ),
                Route("/here", lambda r: HTMLResponse(html_page("Here", "<p>Same host, followed.</p>"))),
            ]
        )
    ) as base_url:
        report = await _crawl(fetcher, index, f"{base_url}/", depth=1)
    assert [page.url for page in report.pages] == [f"{base_url}/", f"{base_url}/here"]
    assert report.robots.startswith("no robots.txt")
