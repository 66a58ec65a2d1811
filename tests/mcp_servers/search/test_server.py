"""The search server as deployed: `agentmesh serve search` over HTTP, called with mesh tokens.

Two tenants share one server process: acme's network rules allow the loopback test sites and it
has no web search provider; globex has no network rules and uses a SearXNG instance on loopback,
which the platform's outbound allow list names; initech's provider is on a loopback port the
allow list does not name.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
import uvicorn
from mcp import Client
from mcp.client.stdio import StdioServerParameters, stdio_client

from agentmesh.settings import Settings, load_settings
from mcp_servers.common.bootstrap import ServeOptions
from mcp_servers.common.errors import error_code
from mcp_servers.search.network_rules import NetworkRules
from mcp_servers.search.server import build_server
from tests.mcp_servers.search.company_site import company_site
from tests.mcp_servers.search.provider_apis import ProviderApis
from tests.mcp_servers.search.sites import serve
from tests.support.mcp import http_client, mesh_token
from tests.support.processes import free_port, running_server
from tests.support.resolver import StaticResolver

TOOLS = ["fetch_page", "search", "crawl", "web_search"]


@pytest.fixture(scope="module")
def searxng() -> Iterator[tuple[ProviderApis, str]]:
    apis = ProviderApis()
    with serve(apis.app()) as base_url:
        yield apis, base_url


@pytest.fixture(scope="module")
def company() -> Iterator[str]:
    with serve(company_site()) as base_url:
        yield base_url


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("search-server")


@pytest.fixture(scope="module")
def server_settings(data_dir: Path) -> Settings:
    return load_settings(AGENTMESH_DATA_DIR=data_dir)


@pytest.fixture(scope="module")
def server_url(data_dir: Path, searxng: tuple[ProviderApis, str]) -> Iterator[str]:
    rules = data_dir / "network_rules.yaml"
    rules.write_text("tenants:\n  acme:\n    allowed_hosts: ['127.0.0.1']\n")
    providers = data_dir / "providers.yaml"
    unlisted = f"http://127.0.0.1:{free_port()}"
    providers.write_text(
        "tenants:\n"
        f"  globex: {{provider: searxng, base_url: '{searxng[1]}'}}\n"
        f"  initech: {{provider: searxng, base_url: '{unlisted}'}}\n"
    )
    with running_server(
        "search",
        data_dir,
        AGENTMESH_SEARCH_NETWORK_RULES_FILE=str(rules),
        AGENTMESH_SEARCH_PROVIDERS_FILE=str(providers),
        AGENTMESH_OUTBOUND_ALLOW=searxng[1].removeprefix("http://"),
    ) as url:
        yield url


async def call(
    settings: Settings, url: str, tenant: str, tool: str, arguments: dict[str, Any], grant: list[str] = TOOLS
) -> Any:
    token = mesh_token(settings, "search", tenant=tenant, tools=grant)
    async with http_client(url, token) as client:
        return await client.call_tool(tool, arguments)


async def test_the_server_lists_its_four_tools_with_hints_and_schemas(
    server_settings: Settings, server_url: str
) -> None:
    async with http_client(server_url, mesh_token(server_settings, "search", tools=TOOLS)) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    assert set(tools) == set(TOOLS)
    assert tools["search"].annotations.read_only_hint is True
    assert tools["web_search"].annotations.open_world_hint is True
    assert tools["fetch_page"].annotations.read_only_hint is False
    assert tools["fetch_page"].annotations.idempotent_hint is True
    assert "citation" in tools["fetch_page"].output_schema["properties"]


async def test_fetch_page_reads_an_allowed_page_with_its_citation(
    server_settings: Settings, server_url: str, company: str
) -> None:
    result = await call(server_settings, server_url, "acme", "fetch_page", {"url": f"{company}/old"})
    assert not result.is_error, result.content[0].text
    page = result.structured_content
    assert page["citation"]["url"] == f"{company}/old"
    assert page["citation"]["final_url"] == f"{company}/gioi-thieu"
    assert page["citation"]["title"] == "Giới thiệu"
    assert page["citation"]["fetched_at"]
    assert "thành lập năm 2005" in page["text"]
    assert page["indexed"] is True
    assert result.content[0].text.startswith("Giới thiệu\n" + f"{company}/gioi-thieu")


async def test_the_same_host_is_refused_for_a_tenant_without_the_rule(
    server_settings: Settings, server_url: str, company: str
) -> None:
    result = await call(server_settings, server_url, "globex", "fetch_page", {"url": f"{company}/gioi-thieu"})
    assert result.is_error
    assert "127.0.0.1 is a loopback address" in result.content[0].text
    assert error_code(result) == "blocked_destination"


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://169.254.169.254/latest/meta-data/iam/", "cloud metadata"),
        ("http://10.0.0.1/", "private"),
        ("http://[::1]:8080/", "loopback"),
        ("http://localhost/admin", "localhost resolves to"),
        ("http://2130706433/", "written as 2130706433"),
        ("file:///etc/passwd", "not an http:// or https:// URL"),
    ],
)
async def test_fetch_page_refuses_internal_destinations(
    server_settings: Settings, server_url: str, url: str, reason: str
) -> None:
    result = await call(server_settings, server_url, "globex", "fetch_page", {"url": url})
    assert result.is_error
    assert reason in result.content[0].text
    assert "Traceback" not in result.content[0].text


async def test_search_finds_fetched_pages_of_the_calling_tenant_only(
    server_settings: Settings, server_url: str, company: str
) -> None:
    fetched = await call(server_settings, server_url, "acme", "fetch_page", {"url": f"{company}/lien-he"})
    assert not fetched.is_error
    mine = await call(
        server_settings, server_url, "acme", "search", {"query": "dien thoai ho tro", "top_k": 3}
    )
    assert mine.structured_content["hits"][0]["url"] == f"{company}/lien-he"
    assert "**Điện** **thoại**" in mine.structured_content["hits"][0]["snippet"]
    theirs = await call(server_settings, server_url, "globex", "search", {"query": "dien thoai ho tro"})
    assert theirs.structured_content["hits"] == []
    assert theirs.structured_content["indexed_pages"] == 0


async def test_crawl_indexes_a_site_for_search(
    server_settings: Settings, server_url: str, company: str
) -> None:
    crawled = await call(
        server_settings,
        server_url,
        "acme",
        "crawl",
        {"url": f"{company}/san-pham", "depth": 1, "max_pages": 5},
    )
    assert not crawled.is_error, crawled.content[0].text
    assert [page["url"] for page in crawled.structured_content["pages"]] == [
        f"{company}/san-pham",
        f"{company}/san-pham/may-loc-nuoc",
    ]
    found = await call(server_settings, server_url, "acme", "search", {"query": "may loc nuoc RO"})
    assert found.structured_content["hits"][0]["title"] == "Máy lọc nước RO"


async def test_web_search_without_a_provider_falls_back_to_the_local_index_and_says_so(
    server_settings: Settings, server_url: str, company: str
) -> None:
    await call(server_settings, server_url, "acme", "fetch_page", {"url": f"{company}/"})
    result = await call(server_settings, server_url, "acme", "web_search", {"query": "cong ty loc nuoc"})
    assert not result.is_error, result.content[0].text
    assert result.structured_content["source"] == "local_index"
    assert result.structured_content["provider"] is None
    assert "No web search provider is configured" in result.structured_content["note"]
    assert result.structured_content["hits"][0]["url"] == f"{company}/"


async def test_web_search_uses_the_tenant_s_provider(
    server_settings: Settings, server_url: str, searxng: tuple[ProviderApis, str]
) -> None:
    apis, _ = searxng
    result = await call(
        server_settings, server_url, "globex", "web_search", {"query": "python docs", "top_k": 2}
    )
    assert not result.is_error, result.content[0].text
    assert result.structured_content["source"] == "provider"
    assert result.structured_content["provider"] == "searxng"
    assert [hit["url"] for hit in result.structured_content["hits"]] == [
        "https://www.python.org/",
        "https://docs.python.org/3/",
    ]
    assert apis.last.params == {"q": "python docs", "format": "json", "pageno": "1"}


async def test_a_provider_the_platform_does_not_allow_is_refused_when_called(
    server_settings: Settings, server_url: str
) -> None:
    result = await call(server_settings, server_url, "initech", "web_search", {"query": "python docs"})
    assert result.is_error
    assert error_code(result) == "blocked_destination"
    assert "127.0.0.1 is a loopback address, which this platform does not call for tenants" in (
        result.content[0].text
    )


async def test_bad_arguments_get_a_readable_error(server_settings: Settings, server_url: str) -> None:
    result = await call(server_settings, server_url, "acme", "search", {"query": "x", "top_k": 500})
    assert result.is_error
    assert "less than or equal to 20" in result.content[0].text
    assert error_code(result) == "invalid_arguments"
    result = await call(server_settings, server_url, "acme", "search", {"query": "?!"})
    assert result.is_error
    assert result.content[0].text.endswith("the query has no words to search for")
    assert error_code(result) == "invalid_query"


async def test_a_tool_the_token_does_not_grant_is_refused(server_settings: Settings, server_url: str) -> None:
    result = await call(server_settings, server_url, "acme", "crawl", {"url": "http://x/"}, grant=["search"])
    assert result.is_error
    assert "not granted" in result.content[0].text
    assert error_code(result) == "tool_not_granted"


async def test_the_server_runs_over_stdio_for_one_tenant(tmp_path: Path) -> None:
    parameters = StdioServerParameters(
        command=sys.executable,
        args=["-m", "agentmesh.cli", "serve", "search", "--transport", "stdio", "--tenant", "acme"],
        env={"AGENTMESH_DATA_DIR": str(tmp_path), "AGENTMESH_LOG_LEVEL": "WARNING"},
    )
    async with Client(stdio_client(parameters)) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
        result = await client.call_tool("search", {"query": "anything"})
    assert names == set(TOOLS)
    assert result.structured_content == {"query": "anything", "match": "none", "hits": [], "indexed_pages": 0}


class PolicyRules:
    """Network rules as the policy package will supply them: computed, not read from a file."""

    def network_rules_for(self, tenant_id: str) -> NetworkRules:
        return NetworkRules(allowed_hosts=("intranet.acme.test",)) if tenant_id == "acme" else NetworkRules()


@contextlib.asynccontextmanager
async def in_process_server(settings: Settings, resolver: StaticResolver) -> AsyncIterator[str]:
    port = free_port()
    server = build_server(settings, ServeOptions(port=port), resolver=resolver, network_rules=PolicyRules())
    app = server.streamable_http_app(streamable_http_path="/mcp", host="127.0.0.1")
    uv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    async with anyio.create_task_group() as group:
        group.start_soon(uv.serve)
        while not uv.started:
            await anyio.sleep(0.05)
        yield f"http://127.0.0.1:{port}/mcp"
        uv.should_exit = True


async def test_network_rules_and_resolver_can_be_supplied_by_the_caller(
    settings: Settings, company: str
) -> None:
    port = company.rsplit(":", 1)[1]
    resolver = StaticResolver({"intranet.acme.test": ["127.0.0.1"]})
    async with in_process_server(settings, resolver) as url:
        allowed = await call(
            settings, url, "acme", "fetch_page", {"url": f"http://intranet.acme.test:{port}/"}
        )
        refused = await call(
            settings, url, "globex", "fetch_page", {"url": f"http://intranet.acme.test:{port}/"}
        )
    assert not allowed.is_error, allowed.content[0].text
    assert allowed.structured_content["citation"]["title"] == "Công ty Nước Sạch Miền Nam"
    assert refused.is_error
    assert "intranet.acme.test resolves to 127.0.0.1, a loopback address" in refused.content[0].text
