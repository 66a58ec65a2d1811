"""`web_search`: the tenant's configured provider, or its local index when it has none."""

from __future__ import annotations

from typing import Literal

import httpx2
from pydantic import BaseModel, Field

from mcp_servers.search.index import PageIndex
from mcp_servers.search.provider_configs import ProviderConfigStore
from mcp_servers.search.providers import WebHit, provider_for

LOCAL_INDEX_NOTE = (
    "No web search provider is configured for this tenant, so these results come from its local "
    "index of pages fetched with fetch_page or crawl, not from the live web."
)


class WebSearchResult(BaseModel):
    """The result of `web_search`, saying where the hits came from."""

    query: str
    source: Literal["provider", "local_index"]
    provider: str | None = Field(description="the provider that answered, when source is provider")
    note: str | None = Field(default=None, description="what the caller should know about these results")
    hits: list[WebHit]


class WebSearch:
    """Answers web searches for any tenant with that tenant's provider."""

    def __init__(self, configs: ProviderConfigStore, index: PageIndex, http: httpx2.AsyncClient) -> None:
        self._configs = configs
        self._index = index
        self._http = http

    async def search(self, tenant_id: str, query: str, top_k: int) -> WebSearchResult:
        config = await self._configs.get(tenant_id)
        if config is None:
            return await self._local(tenant_id, query, top_k)
        provider = provider_for(
            config.provider,
            self._http,
            base_url=config.base_url,
            api_key=config.api_key.get_secret_value() if config.api_key else None,
        )
        hits = await provider.search(query, top_k)
        return WebSearchResult(query=query, source="provider", provider=provider.name, hits=hits)

    async def _local(self, tenant_id: str, query: str, top_k: int) -> WebSearchResult:
        found = await self._index.search(tenant_id, query, top_k)
        hits = [
            WebHit(title=hit.title, url=hit.url, snippet=hit.snippet, score=hit.score) for hit in found.hits
        ]
        return WebSearchResult(
            query=query, source="local_index", provider=None, note=LOCAL_INDEX_NOTE, hits=hits
        )
