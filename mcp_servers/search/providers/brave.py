"""Brave Search API: `GET /res/v1/web/search?q=…&count=…` with an `X-Subscription-Token` header."""

from __future__ import annotations

from typing import ClassVar

import httpx2
from pydantic import BaseModel, Field

from mcp_servers.search.providers.base import WebHit, call, clip, parse

DEFAULT_BASE_URL = "https://api.search.brave.com"
MAX_COUNT = 20  # the API's own cap on `count`


class _Result(BaseModel):
    title: str = ""
    url: str
    description: str | None = None
    page_age: str | None = None
    age: str | None = None


class _Web(BaseModel):
    results: list[_Result] = Field(default_factory=list)


class _Response(BaseModel):
    type: str | None = None
    web: _Web | None = None


class BraveSearch:
    name: ClassVar[str] = "brave"

    def __init__(self, http: httpx2.AsyncClient, *, api_key: str, base_url: str | None = None) -> None:
        self._http = http
        self._base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")
        self._api_key = api_key

    async def search(self, query: str, top_k: int) -> list[WebHit]:
        request = self._http.build_request(
            "GET",
            f"{self._base_url}/res/v1/web/search",
            params={"q": query, "count": min(top_k, MAX_COUNT)},
            headers={"Accept": "application/json", "X-Subscription-Token": self._api_key},
        )
        body = parse(self.name, _Response, await call(self.name, self._http, request))
        results = body.web.results if body.web else []
        return [
            WebHit(
                title=result.title or result.url,
                url=result.url,
                snippet=clip(result.description),
                published=result.page_age or result.age,
            )
            for result in results[:top_k]
        ]
