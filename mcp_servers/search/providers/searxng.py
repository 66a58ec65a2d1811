"""SearXNG, the self-hosted metasearch engine: `GET /search?q=…&format=json`.

The JSON format must be enabled in the instance's `settings.yml` (`search.formats`); an
instance without it answers 403. SearXNG needs no key; one configured is sent as a bearer
token for instances behind an authenticating proxy.
"""

from __future__ import annotations

from typing import ClassVar

import httpx2
from pydantic import BaseModel, Field

from mcp_servers.search.providers.base import WebHit, call, clip, parse


class _Result(BaseModel):
    url: str
    title: str = ""
    content: str | None = None
    score: float | None = None
    published_date: str | None = Field(default=None, alias="publishedDate")


class _Response(BaseModel):
    query: str | None = None
    results: list[_Result] = Field(default_factory=list)


class SearxngSearch:
    name: ClassVar[str] = "searxng"

    def __init__(self, http: httpx2.AsyncClient, *, base_url: str, api_key: str | None = None) -> None:
        self._http = http
        self._base_url = base_url.rstrip("/")
        self._api_key = api_key

    async def search(self, query: str, top_k: int) -> list[WebHit]:
        headers = {"Accept": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        request = self._http.build_request(
            "GET",
            f"{self._base_url}/search",
            params={"q": query, "format": "json", "pageno": 1},
            headers=headers,
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
