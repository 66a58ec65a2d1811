"""robots.txt for a crawl: read once per site, through the same guarded fetcher as any page."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.robotparser import RobotFileParser

import httpx2

from agentmesh.outbound import BlockedDestination, InvalidUrl, UnresolvableHost
from mcp_servers.search.errors import SearchError, UpstreamStatus
from mcp_servers.search.extraction import decode
from mcp_servers.search.fetcher import PageFetcher
from mcp_servers.search.network_rules import NetworkRules

ROBOTS_AGENT = "agentmesh-search"


@dataclass(frozen=True)
class RobotsPolicy:
    """What one site's robots.txt lets us crawl, and what we found there."""

    parser: RobotFileParser | None
    status: str

    def allows(self, url: str) -> bool:
        return self.parser is None or self.parser.can_fetch(ROBOTS_AGENT, url)


async def robots_policy(fetcher: PageFetcher, site_url: str, rules: NetworkRules) -> RobotsPolicy:
    """The robots.txt policy of the site of `site_url` (RFC 9309).

    A missing file (4xx) allows everything; a file that cannot be read (5xx, timeout, refused)
    disallows everything, as the RFC asks: the site may be in trouble.
    """
    robots_url = str(httpx2.URL(site_url).join("/robots.txt"))
    try:
        download = await fetcher.download(robots_url, rules)
    except (InvalidUrl, BlockedDestination, UnresolvableHost):
        raise  # about the site itself, not its robots.txt: the crawl cannot start
    except UpstreamStatus as exc:
        if 400 <= exc.status < 500:
            return RobotsPolicy(parser=None, status=f"no robots.txt (HTTP {exc.status})")
        return _disallow_all(f"robots.txt unavailable (HTTP {exc.status})")
    except SearchError as exc:
        return _disallow_all(f"robots.txt unavailable ({exc.message})")
    parser = RobotFileParser(robots_url)
    parser.parse(decode(download.body, download.charset).splitlines())
    return RobotsPolicy(parser=parser, status="robots.txt applied")


def _disallow_all(status: str) -> RobotsPolicy:
    parser = RobotFileParser()
    parser.parse(["User-agent: *", "Disallow: /"])
    return RobotsPolicy(parser=parser, status=status)
