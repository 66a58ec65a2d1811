"""What every web search provider shares: the hit it returns and how its HTTP answers are read."""

from __future__ import annotations

from typing import Any, ClassVar, Protocol, TypeVar

import httpx2
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


async def call(provider: str, http: httpx2.AsyncClient, request: httpx2.Request) -> Any:
    """Send `request` and return its JSON body, turning every failure into a `ProviderFailure`."""
    try:
        response = await http.send(request)
    except httpx2.TimeoutException as exc:
        raise ProviderFailure(f"{provider} did not answer in time") from exc
    except httpx2.HTTPError as exc:
        raise ProviderFailure(f"{provider} could not be reached: {exc or type(exc).__name__}") from exc
    if response.status_code >= 400:
        raise ProviderFailure(_status_message(provider, response))
    try:
        return response.json()
    except ValueError as exc:
        raise ProviderFailure(f"{provider} answered with something that is not JSON") from exc


def _status_message(provider: str, response: httpx2.Response) -> str:
    status = response.status_code
    detail = _error_detail(response)
    said = f": {detail}" if detail else ""
    if status in (401, 403):
        return f"{provider} refused the request (HTTP {status}{said}); check the tenant's API key"
    if status == 429:
        return f"{provider} is rate limiting this tenant (HTTP 429); try again later"
    if status >= 500:
        return f"{provider} failed (HTTP {status}{said}); try again later"
    return f"{provider} answered HTTP {status}{said}"


def _error_detail(response: httpx2.Response) -> str:
    """The short reason an API gives in its JSON error body, if it gives one.

    Providers nest it differently (`{"error": "..."}`, `{"detail": {"error": "..."}}`,
    `{"error": {"detail": "..."}}`), so the usual keys are followed a few levels down.
    """
    try:
        found: Any = response.json()
    except ValueError:
        return ""
    for _level in range(3):
        if not isinstance(found, dict):
            break
        found = next((found[key] for key in ("error", "detail", "message", "code") if found.get(key)), None)
    return " ".join(found.split())[:200] if isinstance(found, str) else ""


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
