"""The web search MCP server: read pages safely, crawl a site, search the local index or the web.

Every tool acts for the tenant of the verified mesh token: its network rules decide what may be
fetched, its own index holds what it fetched, and its own provider answers its web searches.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Annotated

import httpx2
import structlog
from mcp.server.mcpserver import MCPServer
from mcp_types import CallToolResult, ToolAnnotations
from pydantic import Field

from agentmesh.db import create_engine, session_factory
from agentmesh.outbound import OutboundGuard, Resolver
from agentmesh.outbound_http import guarded_client
from agentmesh.secrets import secret_box
from agentmesh.settings import Settings
from mcp_servers.common.bootstrap import ServeOptions, new_server
from mcp_servers.common.lifecycle import serve_tenant_lifecycle
from mcp_servers.common.results import FollowUp, render_meta, structured_result
from mcp_servers.common.server import DomainServer
from mcp_servers.search import pages
from mcp_servers.search.crawl import CrawlReport, crawl_site
from mcp_servers.search.fetcher import FetchLimits, PageFetcher
from mcp_servers.search.index import IndexSearch, PageIndex
from mcp_servers.search.network_rules import NetworkRulesFile, NetworkRulesSource, PolicyNetworkRules
from mcp_servers.search.pages import FetchedPage
from mcp_servers.search.provider_configs import ProviderConfigStore
from mcp_servers.search.web_search import WebSearch, WebSearchResult
from policies.loader import PolicySet
from policies.overrides import PolicyOverrideStore

log = structlog.get_logger(__name__)

PROVIDER_TIMEOUT_SECONDS = 15.0

INSTRUCTIONS = (
    "Web access for agents. fetch_page(url) reads one page (HTML, PDF or text) and returns its text "
    "with a citation; crawl(url, depth, max_pages) indexes pages of one site; search(query) searches "
    "the pages this tenant fetched or crawled; web_search(query) asks the tenant's web search "
    "provider. Only public addresses are fetched unless the tenant's network rules allow a host."
)

URL = Annotated[
    str,
    Field(
        min_length=1,
        max_length=2048,
        description="an absolute http:// or https:// URL",
        # Advertised, not enforced here: a planner reads a URL out of a message by this pattern,
        # and the fetcher's own check gives the clearer refusal ("not an http:// or https:// URL").
        json_schema_extra={"pattern": r"^https?://\S+$"},
    ),
]
Query = Annotated[str, Field(min_length=1, max_length=400, description="words to search for")]
TopK = Annotated[int, Field(ge=1, le=20, description="how many results to return (1-20)")]
Depth = Annotated[int, Field(ge=0, le=3, description="how many links away from the start page to go (0-3)")]
MaxPages = Annotated[int, Field(ge=1, le=100, description="the most pages to index (1-100)")]


def _web(title: str) -> ToolAnnotations:
    # The web answers differently from one call to the next: open world, not idempotent.
    return ToolAnnotations(
        title=title, read_only_hint=True, destructive_hint=False, idempotent_hint=False, open_world_hint=True
    )


def _local(title: str) -> ToolAnnotations:
    return ToolAnnotations(
        title=title, read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
    )


def _indexing(title: str) -> ToolAnnotations:
    # Fetching and crawling read the web and add pages to the tenant's index: a write, but a
    # repeatable one (a page fetched again replaces itself).
    return ToolAnnotations(
        title=title, read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=True
    )


def _keeping_fresh(policies: PolicySet) -> Callable[[MCPServer], AbstractAsyncContextManager[PolicySet]]:
    """A server lifespan that loads the policy overrides and keeps them fresh while it runs."""
    return lambda _: policies.refreshing()


_VIETNAMESE_LABELS = {
    "query": "câu tìm kiếm",
    "hits": "Kết quả",
    "title": "Tiêu đề",
    "url": "Địa chỉ",
    "snippet": "Trích đoạn",
    "score": "Điểm",
}
"""Field names as a host shows them to a Vietnamese reader."""


def build_server(
    settings: Settings,
    options: ServeOptions,
    *,
    resolver: Resolver | None = None,
    network_rules: NetworkRulesSource | None = None,
) -> DomainServer:
    """The search server. `resolver` and `network_rules` replace the system resolver (of every
    outbound call) and the tenants' policies (with the rules file) as the source of network rules."""
    engine = create_engine(settings.resolved_database_url)
    rules = network_rules
    lifespan = None
    if rules is None:
        # Each tenant's policy decides which hosts it may fetch; admin changes apply while we run.
        policies = PolicySet.from_directory(overrides=PolicyOverrideStore(session_factory(engine)))
        rules = PolicyNetworkRules(policies, NetworkRulesFile(settings.search_network_rules_file))
        lifespan = _keeping_fresh(policies)
    server, tenants = new_server(
        "search", settings, options, instructions=INSTRUCTIONS, platform_database=True, lifespan=lifespan
    )
    fetcher = PageFetcher(FetchLimits.from_settings(settings), resolver)
    index = PageIndex(settings.resolved_data_dir / "search" / "index")
    # Provider base URLs are configured by tenant admins: the platform's outbound rules apply.
    outbound = OutboundGuard.from_settings(settings, resolver=resolver)
    configs = ProviderConfigStore(
        engine, secret_box(settings), outbound=outbound, seed_file=settings.search_providers_file
    )
    web = WebSearch(configs, index, guarded_client(outbound, timeout=PROVIDER_TIMEOUT_SECONDS))

    @server.tool(
        title="Fetch a page",
        annotations=_indexing("Fetch a page"),
        meta=render_meta("summary_text", fields=["citation", "text"]),
    )
    async def fetch_page(url: URL) -> Annotated[CallToolResult, FetchedPage]:
        """Fetch one web page (HTML, PDF or plain text) and return its readable text with a citation
        (URL, final URL after redirects, title, fetched-at). The page is added to this tenant's local
        index. Private and internal addresses are refused unless the tenant's network rules allow the host.
        Đọc trang web theo địa chỉ URL: lấy nội dung trang."""
        tenant_id = tenants.current().tenant_id
        page = await pages.fetch_page(fetcher, url, rules.network_rules_for(tenant_id))
        await index.add(tenant_id, page)
        result = FetchedPage.of(page, indexed=True)
        log.info("page_fetched", tenant_id=tenant_id, host=httpx2.URL(page.final_url).host, kind=page.kind)
        return structured_result(result, _page_text(result))

    @server.tool(
        title="Search fetched pages",
        annotations=_local("Search fetched pages"),
        meta=render_meta(
            "markdown_table",
            rows="hits",
            fields=["title", "url", "snippet", "score"],
            empty_is_not_found=True,
            translations={
                "en": {"summary": "Searching “{query}” in {indexed_pages} saved pages:"},
                "vi": {
                    "title": "tìm trong các trang đã lưu",
                    "summary": "Tìm “{query}” trong {indexed_pages} trang đã lưu:",
                    "labels": _VIETNAMESE_LABELS,
                },
            },
        ),
    )
    async def search(query: Query, top_k: TopK = 5) -> Annotated[CallToolResult, IndexSearch]:
        """Search only the pages this tenant has already fetched or crawled (its own index, not the
        web): full-text BM25 ranking, accents optional. Each hit has URL, title, snippet and score."""
        tenant_id = tenants.current().tenant_id
        found = await index.search(tenant_id, query, top_k)
        return structured_result(found, _index_text(found))

    @server.tool(
        title="Crawl a site",
        annotations=_indexing("Crawl a site"),
        meta=render_meta("markdown_table", rows="pages", fields=["url", "title", "depth"]),
    )
    async def crawl(
        url: URL, depth: Depth = 1, max_pages: MaxPages = 20
    ) -> Annotated[CallToolResult, CrawlReport]:
        """Crawl one site from `url` into this tenant's local index: same host only, following links
        up to `depth` away, at most `max_pages` pages, honouring robots.txt. Then use `search`."""
        tenant_id = tenants.current().tenant_id
        report = await crawl_site(
            fetcher=fetcher,
            index=index,
            tenant_id=tenant_id,
            rules=rules.network_rules_for(tenant_id),
            start_url=url,
            depth=depth,
            max_pages=max_pages,
        )
        log.info("site_crawled", tenant_id=tenant_id, site=report.site, pages=len(report.pages))
        return structured_result(report, _crawl_text(report))

    @server.tool(
        title="Web search",
        annotations=_web("Web search"),
        # The search agent's primary tool: it searches the web when the tenant has a provider.
        meta=render_meta(
            "markdown_table",
            rows="hits",
            fields=["title", "url", "snippet"],
            priority=1,
            empty_is_not_found=True,
            # Hits from a provider are read with fetch_page, so the answer quotes the pages.
            follow_up=FollowUp(
                tool="fetch_page", argument="url", rows="hits", field="url", when={"source": "provider"}
            ),
            translations={
                "en": {
                    "summary": "Web results for “{query}” ({source}):",
                    "values": {
                        "provider": "from your web search provider",
                        "local_index": (
                            "no web search provider is configured for your organisation, "
                            "so these are results from its saved pages"
                        ),
                    },
                },
                "vi": {
                    "title": "tìm kiếm trên mạng",
                    "summary": "Kết quả tìm kiếm cho “{query}” ({source}):",
                    "labels": _VIETNAMESE_LABELS,
                    "values": {
                        "provider": "từ nhà cung cấp tìm kiếm web",
                        "local_index": (
                            "tổ chức của bạn chưa cấu hình nhà cung cấp tìm kiếm web, "
                            "nên đây là kết quả trong các trang đã lưu"
                        ),
                    },
                },
            },
        ),
    )
    async def web_search(query: Query, top_k: TopK = 5) -> Annotated[CallToolResult, WebSearchResult]:
        """Search the web with this tenant's configured provider (SearXNG, Brave, Tavily or
        Firecrawl). Without a provider, searches the tenant's local index instead and says so.
        Tìm kiếm trên mạng, tra cứu thông tin trên internet."""
        tenant_id = tenants.current().tenant_id
        result = await web.search(tenant_id, query, top_k)
        return structured_result(result, _web_text(result))

    async def delete_tenant(tenant_id: str) -> dict[str, int]:
        return {"pages": await index.delete_tenant(tenant_id)}

    serve_tenant_lifecycle(server, "search", settings, delete=delete_tenant)
    return server


def _page_text(page: FetchedPage) -> str:
    citation = page.citation
    lines = [
        citation.title,
        f"{citation.final_url} (fetched {citation.fetched_at:%Y-%m-%d %H:%M} UTC)",
        "",
        page.text,
    ]
    if page.truncated:
        lines += ["", f"[text cut at {len(page.text):,} of {page.characters:,} characters]"]
    return "\n".join(lines)


def _index_text(found: IndexSearch) -> str:
    if not found.hits:
        return f"No indexed page matches '{found.query}' ({found.indexed_pages} pages indexed)."
    header = f"{len(found.hits)} indexed pages match '{found.query}'"
    if found.match == "any_terms":
        header += " (no page has every word; these have some)"
    lines = [header + ":"]
    for rank, hit in enumerate(found.hits, 1):
        lines += [f"{rank}. {hit.title} — {hit.url} (score {hit.score:.3f})", f"   {hit.snippet}"]
    return "\n".join(lines)


def _crawl_text(report: CrawlReport) -> str:
    lines = [
        f"Indexed {len(report.pages)} pages of {report.site} ({report.robots}); "
        f"{report.skipped_total} skipped; {report.indexed_pages} pages in the index."
    ]
    lines += [f"- {page.title} — {page.url}" for page in report.pages]
    lines += [f"- skipped {skipped.url}: {skipped.reason}" for skipped in report.skipped[:10]]
    return "\n".join(lines)


def _web_text(result: WebSearchResult) -> str:
    source = f"from {result.provider}" if result.provider else "from the local index"
    lines = [f"{len(result.hits)} results {source} for '{result.query}':"]
    if result.note:
        lines.insert(0, result.note)
    for rank, hit in enumerate(result.hits, 1):
        lines += [f"{rank}. {hit.title} — {hit.url}", f"   {hit.snippet}"]
    return "\n".join(lines)
