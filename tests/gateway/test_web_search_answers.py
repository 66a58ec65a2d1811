"""With a web search provider configured, the search agent searches the web, reads the top hits
with `fetch_page`, and answers by quoting the page that answers, with its sources (title and
URL); a hit that cannot be read is skipped. Through the chat API, in English and in Vietnamese.

The web is a loopback site: a SearXNG-compatible `/search` whose hits point at its own pages.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from agentmesh.settings import load_settings
from gateway.app import create_app
from tests.gateway.loopback import serve_in_thread
from tests.gateway.mesh import Mesh
from tests.mcp_servers.search.sites import serve
from tests.support.processes import running_server, wait_healthy

pytestmark = pytest.mark.slow

VAT_PAGE = """<html><head><title>VAT rates in Vietnam 2025</title></head><body>
<h1>VAT rates in Vietnam 2025</h1>
<p>Vietnam applies value added tax to most goods and services sold in the country.</p>
<p>From 1 July 2025 the standard VAT rate is 10%, with a temporary reduction to 8% for many goods
and services until 31 December 2026 under Decree 174/2025.</p>
<p>Exports of goods and services are taxed at 0%, and some essential goods at 5%.</p>
</body></html>"""
INVOICE_PAGE = """<html><head><title>E-invoices for businesses</title></head><body>
<h1>E-invoices for businesses</h1>
<p>Every business in Vietnam must issue electronic invoices that are registered with the tax
authority and carry a verification code.</p>
<p>The invoice shows the seller's tax code, the buyer's tax code and the amount before tax.</p>
</body></html>"""


def searxng(site: str) -> Starlette:
    """A SearXNG-compatible search whose hits are the site's own pages (and one broken link)."""

    async def search(request: Request) -> Response:
        hits = [
            ("VAT rates in Vietnam 2025", "/pages/vat-2025", "Vietnam VAT rate 2025, reduced rate..."),
            ("E-invoices for businesses", "/pages/e-invoices", "Electronic invoices in Vietnam..."),
            ("A page that is gone", "/pages/gone", "This page no longer exists."),
        ]
        results = [
            {"url": f"{site}{path}", "title": title, "content": snippet, "engine": "loopback"}
            for title, path, snippet in hits
        ]
        return JSONResponse({"query": request.query_params["q"], "results": results})

    routes = [
        Route("/search", search),
        Route("/pages/vat-2025", lambda request: HTMLResponse(VAT_PAGE)),
        Route("/pages/e-invoices", lambda request: HTMLResponse(INVOICE_PAGE)),
        Route("/pages/gone", lambda request: PlainTextResponse("not here", status_code=404)),
        Route("/robots.txt", lambda request: PlainTextResponse("User-agent: *\nAllow: /\n")),
    ]
    return Starlette(routes=routes)


class _Site:
    """The site's app, built once its own URL is known (its hits link to itself)."""

    def __init__(self) -> None:
        self.app: Starlette | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        assert self.app is not None
        await self.app(scope, receive, send)


@pytest.fixture(scope="module")
def web_mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mesh]:
    data_dir: Path = tmp_path_factory.mktemp("web-search")
    site = _Site()
    with serve(site) as site_url:
        site.app = searxng(site_url)
        host = site_url.removeprefix("http://")
        rules = data_dir / "network_rules.yaml"
        rules.write_text("tenants:\n  acme:\n    allowed_hosts: ['127.0.0.1']\n")
        providers = data_dir / "providers.yaml"
        providers.write_text(f"tenants:\n  acme: {{provider: searxng, base_url: '{site_url}'}}\n")
        with running_server(
            "search",
            data_dir,
            AGENTMESH_SEARCH_NETWORK_RULES_FILE=str(rules),
            AGENTMESH_SEARCH_PROVIDERS_FILE=str(providers),
            AGENTMESH_OUTBOUND_ALLOW=host,
        ) as search_url:
            settings = load_settings(AGENTMESH_DATA_DIR=data_dir, AGENTMESH_LOG_LEVEL="WARNING")
            app = create_app(settings, servers={"search": search_url})
            with serve_in_thread(app, lifespan="on") as url:
                wait_healthy(f"{url}/healthz")
                yield Mesh(url=url, settings=settings, app=app)


def calls(answer: dict[str, Any]) -> list[tuple[str, object]]:
    return [
        (step["tool"], next(iter(step["arguments"].values()), None))
        for step in answer["steps"]
        if step["type"] == "tool_call"
    ]


@pytest.mark.parametrize(
    ("question", "opening", "heading"),
    [
        (
            "Search the web for the current VAT rate in Vietnam",
            'According to "VAT rates in Vietnam 2025":',
            "Sources",
        ),
        (
            "Tìm kiếm trên mạng thuế suất VAT hiện hành ở Việt Nam",
            "Theo “VAT rates in Vietnam 2025”:",
            "Nguồn",
        ),
        (
            "Tim kiem tren mang thue suat VAT hien hanh o Viet Nam",
            "Theo “VAT rates in Vietnam 2025”:",
            "Nguồn",
        ),
    ],
    ids=["english", "diacritics", "no-diacritics"],
)
def test_the_search_agent_reads_the_top_hits_and_quotes_the_page_that_answers(
    web_mesh: Mesh, question: str, opening: str, heading: str
) -> None:
    response = web_mesh.chat(question)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["agent"] == "search" and answer["outcome"] == "answered", answer
    made = calls(answer)
    assert made[0][0] == "web_search"
    assert sorted(url for tool, url in made[1:] if tool == "fetch_page") == sorted(
        f"{web_mesh_site(answer)}{path}" for path in ("/pages/vat-2025", "/pages/e-invoices", "/pages/gone")
    )
    text = answer["answer"]
    assert text.startswith(opening), text
    assert "the standard VAT rate is 10%" in text
    assert f"{heading}:\n[1] VAT rates in Vietnam 2025 — {web_mesh_site(answer)}/pages/vat-2025" in text
    failed = [step for step in answer["steps"] if step["type"] == "tool_result" and step["is_error"]]
    assert [step["tool"] for step in failed] == ["fetch_page"]  # the broken link, skipped
    assert answer["citations"][0]["url"] == f"{web_mesh_site(answer)}/pages/vat-2025"


def web_mesh_site(answer: dict[str, Any]) -> str:
    """The loopback site's origin, as the search hits named it."""
    [search] = [
        step for step in answer["steps"] if step["type"] == "tool_call" and step["tool"] == "web_search"
    ]
    assert search
    first_fetch = next(step for step in answer["steps"] if step.get("tool") == "fetch_page")
    url: str = first_fetch["arguments"]["url"]
    return url[: url.index("/pages/")]
