"""What every web search provider shares: the hit it returns and how its HTTP answers are read."""

from __future__ import annotations

from typing import Any, ClassVar, Protocol, TypeVar

import httpx
from pydantic import BaseModel, Field, ValidationError

from mcp_servers.search.errors import ProviderFailure

SNIPPET_LIMIT = 600

Response = TypeVar("Response", bound=BaseModel)


class WebHit(BaseModel):
    """One web search result."""

    title: str
    url: str
    snippet: str = ""
    score: float | None = Field(default=None, description="the provider's relevance score, if it gives one")
    published: str | None = Field(default=None, description="publication date as the provider reports it")


class SearchProvider(Protocol):
    """A web search API answering a query with ranked hits."""

    name: ClassVar[str]

    async def search(self, query: str, top_k: int) -> list[WebHit]: ...


async def call(provider: str, http: httpx.AsyncClient, request: httpx.Request) -> Any:
    """Send `request` and return its JSON body, turning every failure into a `ProviderFailure`."""
    try:
        response = await http.send(request)
    except httpx.TimeoutException as exc:
        raise ProviderFailure(f"{provider} did not answer in time") from exc
    except httpx.HTTPError as exc:
        raise ProviderFailure(f"{provider} could not be reached: {exc or type(exc).__name__}") from exc
    if response.status_code in (401, 403):
        raise ProviderFailure(
            f"{provider} refused the request (HTTP {response.status_code}); "
            "check the tenant's API key or the provider's access settings"
        )
    if response.status_code == 429:
        raise ProviderFailure(f"{provider} is rate limiting this tenant (HTTP 429); try again later")
    if response.status_code >= 400:
        raise ProviderFailure(f"{provider} answered HTTP {response.status_code}")
    try:
        return response.json()
    except ValueError as exc:
        raise ProviderFailure(f"{provider} answered with something that is not JSON") from exc


def parse(provider: str, model: type[Response], body: Any) -> Response:
    """`body` read as the provider's documented response format."""
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise ProviderFailure(
            f"{provider} answered in an unexpected format ({exc.error_count()} problems)"
        ) from exc


def clip(text: str | None) -> str:
    """A snippet no longer than `SNIPPET_LIMIT` characters, on one line."""
    flat = " ".join((text or "").split())
    return flat if len(flat) <= SNIPPET_LIMIT else flat[: SNIPPET_LIMIT - 1] + "…"
