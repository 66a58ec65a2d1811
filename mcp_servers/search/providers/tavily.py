"""Tavily: `POST /search` with a JSON body and `Authorization: Bearer tvly-…`."""

from __future__ import annotations

from typing import ClassVar

import httpx2
from pydantic import BaseModel, Field

from mcp_servers.search.providers.base import WebHit, call, clip, parse

DEFAULT_BASE_URL = "https://api.tavily.com"
MAX_RESULTS = 20  # the API's own cap on `max_results`


class _Result(BaseModel):
    title: str = ""
    url: str
    content: str | None = None
    score: float | None = None
    published_date: str | None = None


class _Response(BaseModel):
    query: str | None = None
    results: list[_Result] = Field(default_factory=list)


class TavilySearch:
    name: ClassVar[str] = "tavily"

    def __init__(self, http: httpx2.AsyncClient, *, api_key: str, base_url: str | None = None) -> None:
        self._http = http
        self._base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")
        self._api_key = api_key

    async def search(self, query: str, top_k: int) -> list[WebHit]:
        request = self._http.build_request(
            "POST",
            f"{self._base_url}/search",
            json={"query": query, "max_results": min(top_k, MAX_RESULTS), "search_depth": "basic"},
            headers={"Authorization": f"Bearer {self._api_key}", "Accept": "application/json"},
        )
        body = parse(self.name, _Response, await call(self.name, self._http, request))
        return [
            WebHit(
                title=result.title or result.url,
                url=result.url,
                snippet=clip(result.content),
                score=result.score,
                published=result.published_date,
            )
            for result in body.results[:top_k]
        ]
