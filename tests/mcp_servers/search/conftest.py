"""Fixtures of the search server tests: a loopback site and fetchers with small caps."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import anyio
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from mcp_servers.search.fetcher import FetchLimits, PageFetcher
from mcp_servers.search.network_rules import NetworkRules
from tests.mcp_servers.search.documents import RETURN_POLICY, blank_pdf, pdf_document
from tests.mcp_servers.search.sites import serve

LOOPBACK_ALLOWED = NetworkRules(allowed_hosts=("127.0.0.1",))
"""A tenant whose network rules allow the loopback test site."""

SMALL_LIMITS = FetchLimits(max_bytes=64 * 1024, timeout_seconds=1.5, max_redirects=3)


async def _drip(request: Request) -> AsyncIterator[bytes]:
    for _ in range(100):
        yield b"x" * 10
        await anyio.sleep(0.1)


async def _late(request: Request) -> Response:
    await anyio.sleep(4)
    return PlainTextResponse("too late")


async def _chunks(request: Request) -> AsyncIterator[bytes]:
    for _ in range(200):
        yield b"y" * 1024


def _redirect_chain(request: Request) -> Response:
    remaining = int(request.path_params["n"])
    target = f"/redirect/{remaining - 1}" if remaining > 0 else "/page.html"
    return RedirectResponse(target, status_code=302)


def fetch_site() -> Starlette:
    """Every kind of answer a fetch must cope with."""
    return Starlette(
        routes=[
            Route("/page.html", lambda r: HTMLResponse(RETURN_POLICY)),
            Route(
                "/report.pdf",
                lambda r: Response(
                    pdf_document(["Revenue grew 12 percent in Q3", "Net margin (adjusted) reached 8.5%"]),
                    media_type="application/pdf",
                ),
            ),
            Route("/scan.pdf", lambda r: Response(blank_pdf(), media_type="application/pdf")),
            Route(
                "/notes.txt",
                lambda r: Response(
                    "Menu: café crème brûlée\nPrix: 7 €".encode("iso-8859-15"),
                    media_type="text/plain; charset=iso-8859-15",
                ),
            ),
            Route("/big.txt", lambda r: PlainTextResponse("z" * 200_000)),
            Route("/chunked.txt", lambda r: StreamingResponse(_chunks(r), media_type="text/plain")),
            Route("/drip.txt", lambda r: StreamingResponse(_drip(r), media_type="text/plain")),
            Route("/late.txt", _late),
            Route("/redirect/{n:int}", _redirect_chain),
            Route("/loop", lambda r: RedirectResponse("/loop", status_code=302)),
            Route("/to", lambda r: RedirectResponse(r.query_params["url"], status_code=302)),
            Route("/image.png", lambda r: Response(b"\x89PNG\r\n\x1a\n" + bytes(64), media_type="image/png")),
            Route("/blob", lambda r: Response(b"\x00\x01binary" * 10, media_type="application/octet-stream")),
            Route("/missing", lambda r: PlainTextResponse("gone", status_code=404)),
            Route("/host", lambda r: PlainTextResponse(f"host header: {r.headers['host']}")),
        ]
    )


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    with serve(fetch_site()) as base_url:
        yield base_url


@pytest.fixture
def fetcher() -> PageFetcher:
    return PageFetcher(SMALL_LIMITS)
