"""Each provider against a loopback server answering in that provider's documented format."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx2
import pytest

from agentmesh.outbound import AllowList, BlockedDestination, OutboundGuard
from agentmesh.outbound_http import guarded_client
from mcp_servers.search.errors import InvalidProviderConfig, ProviderFailure
from mcp_servers.search.providers import provider_for
from mcp_servers.search.providers.brave import BraveSearch
from mcp_servers.search.providers.firecrawl import FirecrawlSearch
from mcp_servers.search.providers.searxng import SearxngSearch
from mcp_servers.search.providers.tavily import TavilySearch
from tests.mcp_servers.search.provider_apis import API_KEY, ProviderApis
from tests.mcp_servers.search.sites import serve
from tests.support.processes import free_port
from tests.support.resolver import StaticResolver


@pytest.fixture(scope="module")
def apis() -> ProviderApis:
    return ProviderApis()


@pytest.fixture(scope="module")
def api_url(apis: ProviderApis) -> Iterator[str]:
    with serve(apis.app()) as base_url:
        yield base_url


@pytest.fixture
async def http() -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient(timeout=5) as client:
        yield client


async def test_searxng_sends_the_query_as_json_format_and_reads_results(
    apis: ProviderApis, api_url: str, http: httpx2.AsyncClient
) -> None:
    hits = await SearxngSearch(http, base_url=f"{api_url}/").search("python tutorial", 2)
    request = apis.last
    assert (request.method, request.path) == ("GET", "/search")
    assert request.params == {"q": "python tutorial", "format": "json", "pageno": "1"}
    assert "authorization" not in request.headers
    assert [(hit.title, hit.url, hit.score) for hit in hits] == [
        ("Welcome to Python.org", "https://www.python.org/", 4.0),
        ("Python 3 documentation", "https://docs.python.org/3/", 1.5),
    ]
    assert hits[0].snippet == "The official home of the Python Programming Language."
    assert hits[1].published == "2026-01-05T00:00:00"


async def test_searxng_behind_an_authenticating_proxy_gets_the_key_as_bearer(
    apis: ProviderApis, api_url: str, http: httpx2.AsyncClient
) -> None:
    await SearxngSearch(http, base_url=api_url, api_key="proxy-secret").search("x", 1)
    assert apis.last.headers["authorization"] == "Bearer proxy-secret"


async def test_brave_sends_the_subscription_token_and_reads_web_results(
    apis: ProviderApis, api_url: str, http: httpx2.AsyncClient
) -> None:
    hits = await BraveSearch(http, api_key=API_KEY, base_url=api_url).search("brave search api", 5)
    request = apis.last
    assert (request.method, request.path) == ("GET", "/res/v1/web/search")
    assert request.params == {"q": "brave search api", "count": "5"}
    assert request.headers["x-subscription-token"] == API_KEY
    assert request.headers["accept"] == "application/json"
    assert [hit.url for hit in hits] == [
        "https://brave.com/search/api/",
        "https://api-dashboard.search.brave.com/app/documentation/web-search/get-started",
    ]
    assert hits[0].title == "Brave Search API"
    assert hits[0].published == "2026-02-01T10:00:00"
    assert "Brave" in hits[0].snippet


async def test_brave_count_is_capped_at_the_api_maximum(
    apis: ProviderApis, api_url: str, http: httpx2.AsyncClient
) -> None:
    await BraveSearch(http, api_key=API_KEY, base_url=api_url).search("x", 50)
    assert apis.last.params["count"] == "20"


async def test_brave_with_a_wrong_token_reports_brave_s_reason(
    apis: ProviderApis, api_url: str, http: httpx2.AsyncClient
) -> None:
    with pytest.raises(
        ProviderFailure, match="brave answered HTTP 422: The provided subscription token is invalid"
    ):
        await BraveSearch(http, api_key="wrong", base_url=api_url).search("x", 5)


async def test_tavily_posts_the_query_with_a_bearer_key_and_reads_results(
    apis: ProviderApis, api_url: str, http: httpx2.AsyncClient
) -> None:
    hits = await TavilySearch(http, api_key=API_KEY, base_url=api_url).search("Who is Leo Messi?", 3)
    request = apis.last
    assert (request.method, request.path) == ("POST", "/search")
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    assert request.body == {"query": "Who is Leo Messi?", "max_results": 3, "search_depth": "basic"}
    assert [(hit.url, hit.score) for hit in hits] == [
        ("https://en.wikipedia.org/wiki/Lionel_Messi", 0.98),
        ("https://www.espn.com/soccer/player/_/id/45843/lionel-messi", 0.71),
    ]
    assert hits[0].snippet.startswith("Lionel Andrés Messi")


async def test_tavily_with_a_wrong_key_is_refused(api_url: str, http: httpx2.AsyncClient) -> None:
    with pytest.raises(ProviderFailure, match=r"tavily refused the request \(HTTP 401: Unauthorized"):
        await TavilySearch(http, api_key="tvly-wrong", base_url=api_url).search("x", 3)


async def test_firecrawl_posts_to_v2_search_and_reads_web_results(
    apis: ProviderApis, api_url: str, http: httpx2.AsyncClient
) -> None:
    hits = await FirecrawlSearch(http, api_key=API_KEY, base_url=api_url).search("firecrawl", 2)
    request = apis.last
    assert (request.method, request.path) == ("POST", "/v2/search")
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    assert request.body == {"query": "firecrawl", "limit": 2}
    assert [(hit.title, hit.url) for hit in hits] == [
        ("Firecrawl - The Web Data API for AI", "https://www.firecrawl.dev/"),
        ("mendableai/firecrawl", "https://github.com/mendableai/firecrawl"),
    ]
    assert hits[1].snippet == "Turn entire websites into LLM-ready markdown (firecrawl)."


async def test_firecrawl_v1_deployments_are_read_too(
    apis: ProviderApis, api_url: str, http: httpx2.AsyncClient
) -> None:
    hits = await FirecrawlSearch(http, api_key=API_KEY, base_url=f"{api_url}/v1").search("self hosted", 5)
    assert apis.last.path == "/v1/search"
    assert [(hit.title, hit.url) for hit in hits] == [("v1: self hosted", "https://docs.firecrawl.dev/")]


async def test_firecrawl_with_a_wrong_key_is_refused(api_url: str, http: httpx2.AsyncClient) -> None:
    with pytest.raises(ProviderFailure, match="Unauthorized: Invalid token"):
        await FirecrawlSearch(http, api_key="fc-wrong", base_url=api_url).search("x", 2)


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/status/429", r"rate limiting this tenant \(HTTP 429\)"),
        ("/status/503", r"failed \(HTTP 503: simulated\); try again later"),
        ("/status/403", r"refused the request \(HTTP 403"),
        ("/not-json", "not JSON"),
        ("/wrong-shape", "unexpected format"),
    ],
)
@pytest.mark.parametrize("name", ["searxng", "brave", "tavily", "firecrawl"])
async def test_every_provider_failure_is_a_clear_error(
    api_url: str, http: httpx2.AsyncClient, name: str, path: str, message: str
) -> None:
    provider = provider_for(name, http, base_url=f"{api_url}{path}", api_key=API_KEY)  # type: ignore[arg-type]
    with pytest.raises(ProviderFailure, match=message):
        await provider.search("anything", 3)


async def test_an_unreachable_provider_is_a_clear_error(http: httpx2.AsyncClient) -> None:
    provider = SearxngSearch(http, base_url=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(ProviderFailure, match="searxng could not be reached"):
        await provider.search("x", 3)


def test_keyed_providers_need_a_key_and_searxng_needs_an_address(http: httpx2.AsyncClient) -> None:
    with pytest.raises(InvalidProviderConfig, match="brave needs an API key"):
        provider_for("brave", http, base_url=None, api_key=None)
    with pytest.raises(InvalidProviderConfig, match="searxng needs the base URL"):
        provider_for("searxng", http, base_url=None, api_key=None)


@pytest.mark.parametrize("name", ["searxng", "brave", "tavily", "firecrawl"])
async def test_a_provider_on_a_private_address_is_refused_when_the_call_connects(
    apis: ProviderApis, api_url: str, name: str
) -> None:
    # What the search server does: provider calls go through the platform's outbound guard. The
    # name resolved somewhere public when the URL was saved; now it answers with loopback.
    port = api_url.rsplit(":", 1)[1]
    resolver = StaticResolver({"search.example.com": ["127.0.0.1"]})
    calls_before = len(apis.requests)
    async with guarded_client(OutboundGuard(AllowList(), resolver), timeout=5) as guarded:
        provider = provider_for(name, guarded, base_url=f"http://search.example.com:{port}", api_key=API_KEY)  # type: ignore[arg-type]
        with pytest.raises(BlockedDestination, match=r"search.example.com resolves to 127.0.0.1, a loopback"):
            await provider.search("anything", 3)
    assert len(apis.requests) == calls_before, "the provider's server was never contacted"


async def test_the_platform_allow_list_lets_a_private_provider_through(
    apis: ProviderApis, api_url: str
) -> None:
    port = api_url.rsplit(":", 1)[1]
    guard = OutboundGuard(AllowList((f"127.0.0.1:{port}",)), StaticResolver())
    async with guarded_client(guard, timeout=5) as guarded:
        hits = await SearxngSearch(guarded, base_url=api_url).search("python tutorial", 1)
    assert [hit.url for hit in hits] == ["https://www.python.org/"]
