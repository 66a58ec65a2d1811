"""A fetched page and its citation: what `fetch_page` returns and what the local index stores."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import anyio
from pydantic import BaseModel, Field

from mcp_servers.search.extraction import PageKind, read
from mcp_servers.search.fetcher import PageFetcher
from mcp_servers.search.network_rules import NetworkRules

TEXT_LIMIT = 40_000
"""Characters of page text a tool result carries; the index keeps the whole text."""


@dataclass(frozen=True)
class Page:
    """One page as read: where it came from, when, and its readable text."""

    url: str
    final_url: str
    title: str
    fetched_at: datetime
    kind: PageKind
    text: str
    links: tuple[str, ...] = ()
    redirects: tuple[str, ...] = ()


async def fetch_page(fetcher: PageFetcher, url: str, rules: NetworkRules) -> Page:
    """Download `url` under `rules` and extract its readable text (off the event loop)."""
    download = await fetcher.download(url, rules)
    readable = await anyio.to_thread.run_sync(read, download)
    return Page(
        url=download.requested_url,
        final_url=download.final_url,
        title=readable.title or download.final_url,
        fetched_at=download.fetched_at,
        kind=readable.kind,
        text=readable.text,
        links=readable.links,
        redirects=download.redirects,
    )


class Citation(BaseModel):
    """Where a piece of text came from, for the answer to cite."""

    url: str = Field(description="the URL that was asked for")
    final_url: str = Field(description="the URL the text came from, after redirects")
    title: str
    fetched_at: datetime


class FetchedPage(BaseModel):
    """The result of `fetch_page`: the page's readable text with its citation."""

    citation: Citation
    kind: PageKind = Field(description="html, pdf or text")
    text: str
    characters: int = Field(description="length of the whole readable text")
    truncated: bool = Field(description="whether `text` was cut to the result size limit")
    redirects: list[str] = Field(default_factory=list, description="each URL redirected to, in order")
    indexed: bool = Field(description="whether the page was added to the tenant's local index")

    @classmethod
    def of(cls, page: Page, *, indexed: bool, limit: int = TEXT_LIMIT) -> FetchedPage:
        return cls(
            citation=citation_of(page),
            kind=page.kind,
            text=page.text[:limit],
            characters=len(page.text),
            truncated=len(page.text) > limit,
            redirects=list(page.redirects),
            indexed=indexed,
        )


def citation_of(page: Page) -> Citation:
    return Citation(url=page.url, final_url=page.final_url, title=page.title, fetched_at=page.fetched_at)
