"""Firecrawl: `POST /v2/search` with `Authorization: Bearer fc-…`.

v2 answers `{"success": true, "data": {"web": [...]}}`; self-hosted v1 deployments answer
`{"success": true, "data": [...]}` at `/v1/search`. Both shapes are read; the path follows the
configured base URL's version (`…/v1` selects v1, anything else v2).
"""

from __future__ import annotations

from typing import ClassVar

import httpx2
from pydantic import BaseModel, Field

from mcp_servers.search.errors import ProviderFailure
from mcp_servers.search.providers.base import WebHit, call, clip, parse

DEFAULT_BASE_URL = "https://api.firecrawl.dev"


class _Result(BaseModel):
    url: str
    title: str | None = None
    description: str | None = None
    position: int | None = None


class _Sources(BaseModel):
    web: list[_Result] = Field(default_factory=list)


class _Response(BaseModel):
    success: bool
    data: _Sources | list[_Result] = Field(default_factory=_Sources)
    error: str | None = None


class FirecrawlSearch:
    name: ClassVar[str] = "firecrawl"

    def __init__(self, http: httpx2.AsyncClient, *, api_key: str, base_url: str | None = None) -> None:
        self._http = http
        self._base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")
        self._api_key = api_key

    def _endpoint(self) -> str:
        if self._base_url.endswith(("/v1", "/v2")):
            return f"{self._base_url}/search"
        return f"{self._base_url}/v2/search"

    async def search(self, query: str, top_k: int) -> list[WebHit]:
        request = self._http.build_request(
            "POST",
            self._endpoint(),
            json={"query": query, "limit": top_k},
            headers={"Authorization": f"Bearer {self._api_key}", "Accept": "application/json"},
        )
        body = parse(self.name, _Response, await call(self.name, self._http, request))
        if not body.success:
            raise ProviderFailure(f"{self.name} reported a failure: {body.error or 'no reason given'}")
        results = body.data.web if isinstance(body.data, _Sources) else body.data
        return [
            WebHit(title=result.title or result.url, url=result.url, snippet=clip(result.description))
            for result in results[:top_k]
        ]
