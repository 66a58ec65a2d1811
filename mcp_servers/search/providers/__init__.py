"""Web search providers, one module each, behind one interface (`SearchProvider`)."""

from __future__ import annotations

from typing import Literal, get_args

import httpx2

from mcp_servers.search.errors import InvalidProviderConfig
from mcp_servers.search.providers.base import SearchProvider, WebHit
from mcp_servers.search.providers.brave import BraveSearch
from mcp_servers.search.providers.firecrawl import FirecrawlSearch
from mcp_servers.search.providers.searxng import SearxngSearch
from mcp_servers.search.providers.tavily import TavilySearch

ProviderName = Literal["searxng", "brave", "tavily", "firecrawl"]
PROVIDER_NAMES: tuple[str, ...] = get_args(ProviderName)
KEYED_PROVIDERS = frozenset({"brave", "tavily", "firecrawl"})
"""Providers that cannot be called without an API key."""

__all__ = ["KEYED_PROVIDERS", "PROVIDER_NAMES", "ProviderName", "SearchProvider", "WebHit", "provider_for"]


def provider_for(
    name: ProviderName, http: httpx2.AsyncClient, *, base_url: str | None, api_key: str | None
) -> SearchProvider:
    """The client of provider `name` at `base_url` (its public API when None) with `api_key`."""
    if name == "searxng":
        if not base_url:
            raise InvalidProviderConfig("searxng needs the base URL of an instance")
        return SearxngSearch(http, base_url=base_url, api_key=api_key)
    if not api_key:
        raise InvalidProviderConfig(f"{name} needs an API key")
    if name == "brave":
        return BraveSearch(http, api_key=api_key, base_url=base_url)
    if name == "tavily":
        return TavilySearch(http, api_key=api_key, base_url=base_url)
    return FirecrawlSearch(http, api_key=api_key, base_url=base_url)
