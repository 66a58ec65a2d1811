"""Crawling one site into a tenant's local index: breadth first, same host only, robots-aware.

Every page goes through the guarded fetcher, so each hop of each page is SSRF-checked against
the tenant's network rules. Pages of one depth are fetched a few at a time.
"""

from __future__ import annotations

import anyio
import httpx2
from pydantic import BaseModel, Field

from agentmesh.errors import AgentmeshError
from mcp_servers.search.errors import DisallowedByRobots
from mcp_servers.search.fetcher import PageFetcher
from mcp_servers.search.index import PageIndex
from mcp_servers.search.network_rules import NetworkRules
from mcp_servers.search.pages import Page, fetch_page
from mcp_servers.search.robots import robots_policy

CONCURRENT_FETCHES = 4
SKIPPED_LISTED = 50


class CrawledPage(BaseModel):
    url: str
    title: str
    depth: int


class SkippedPage(BaseModel):
    url: str
    reason: str


class CrawlReport(BaseModel):
    """The result of `crawl`: what was indexed, what was skipped and why."""

    start_url: str
    site: str = Field(description="the host crawled; links to other hosts are not followed")
    robots: str = Field(description="what robots.txt said about this site")
    pages: list[CrawledPage]
    skipped: list[SkippedPage] = Field(
        description=f"up to {SKIPPED_LISTED} URLs not indexed, with the reason"
    )
    skipped_total: int
    indexed_pages: int = Field(description="pages in this tenant's index after the crawl")


class _Crawl:
    """The state of one crawl: what was seen, indexed and skipped."""

    def __init__(self, site: str) -> None:
        self.site = site
        self.seen: set[str] = set()
        self.indexed: set[str] = set()
        self.pages: list[CrawledPage] = []
        self.skipped: list[SkippedPage] = []

    def same_site(self, url: str) -> bool:
        return httpx2.URL(url).host == self.site

    def skip(self, url: str, reason: str) -> None:
        self.skipped.append(SkippedPage(url=url, reason=reason))

    def new_links(self, page: Page) -> list[str]:
        """Links of `page` on the same site that no earlier page led to."""
        links = [link for link in page.links if link not in self.seen and self.same_site(link)]
        self.seen.update(links)
        return links


async def crawl_site(
    *,
    fetcher: PageFetcher,
    index: PageIndex,
    tenant_id: str,
    rules: NetworkRules,
    start_url: str,
    depth: int,
    max_pages: int,
) -> CrawlReport:
    """Index up to `max_pages` pages of the site of `start_url`, following links `depth` deep.

    The start page must be allowed and readable (its error is raised); later pages that fail
    are skipped, each with its reason.
    """
    robots = await robots_policy(fetcher, start_url, rules)
    if not robots.allows(start_url):
        raise DisallowedByRobots(f"the site's robots.txt does not allow crawling {start_url}")
    first = await fetch_page(fetcher, start_url, rules)
    crawl = _Crawl(site=httpx2.URL(first.final_url).host)
    crawl.seen.update({first.url, first.final_url})
    if not crawl.same_site(start_url):
        robots = await robots_policy(fetcher, first.final_url, rules)
    level: list[tuple[str, Page | AgentmeshError]] = [(first.url, first)]
    for distance in range(depth + 1):
        frontier: list[str] = []
        for url, outcome in level:
            page = _admissible(crawl, url, outcome)
            if page is None:
                continue
            if not robots.allows(page.final_url):
                crawl.skip(page.final_url, "disallowed by robots.txt")
                continue
            await index.add(tenant_id, page)
            crawl.indexed.add(page.final_url)
            crawl.pages.append(CrawledPage(url=page.final_url, title=page.title, depth=distance))
            if distance < depth:
                frontier.extend(crawl.new_links(page))
        room = max_pages - len(crawl.pages)
        if not frontier or room <= 0:
            break
        allowed = []
        for url in frontier:
            if robots.allows(url):
                allowed.append(url)
            else:
                crawl.skip(url, "disallowed by robots.txt")
        for url in allowed[room:]:
            crawl.skip(url, "page limit reached")
        batch = allowed[:room]
        level = list(zip(batch, await _fetch_all(fetcher, rules, batch), strict=True))
    return CrawlReport(
        start_url=start_url,
        site=crawl.site,
        robots=robots.status,
        pages=crawl.pages,
        skipped=crawl.skipped[:SKIPPED_LISTED],
        skipped_total=len(crawl.skipped),
        indexed_pages=await index.count(tenant_id),
    )


def _admissible(crawl: _Crawl, url: str, outcome: Page | AgentmeshError) -> Page | None:
    """The fetched page if it belongs in the index: fetched, on the site, not a duplicate."""
    if isinstance(outcome, AgentmeshError):
        crawl.skip(url, outcome.message)
        return None
    if not crawl.same_site(outcome.final_url):
        crawl.skip(url, f"redirected off the site to {outcome.final_url}")
        return None
    crawl.seen.add(outcome.final_url)
    return None if outcome.final_url in crawl.indexed else outcome


async def _fetch_all(
    fetcher: PageFetcher, rules: NetworkRules, urls: list[str]
) -> list[Page | AgentmeshError]:
    """Fetch `urls` a few at a time; each slot holds the page or the error that stopped it."""
    results: list[Page | AgentmeshError] = [AgentmeshError("not fetched")] * len(urls)
    limiter = anyio.CapacityLimiter(CONCURRENT_FETCHES)

    async def fetch_one(position: int, url: str) -> None:
        async with limiter:
            try:
                results[position] = await fetch_page(fetcher, url, rules)
            except AgentmeshError as exc:  # a page that cannot be read is skipped, with the reason
                results[position] = exc

    async with anyio.create_task_group() as group:
        for position, url in enumerate(urls):
            group.start_soon(fetch_one, position, url)
    return results
