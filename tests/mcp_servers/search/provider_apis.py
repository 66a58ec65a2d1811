"""A loopback stand-in for the four providers' APIs, answering in each one's documented format.

Formats follow the providers' documentation: SearXNG's `/search?format=json`, Brave's
`/res/v1/web/search` (`X-Subscription-Token`), Tavily's `POST /search` (bearer key) and
Firecrawl's `POST /v2/search` and `/v1/search` (bearer key). Every request is recorded so a
test can assert what the provider client sent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

API_KEY = "test-key-123"


@dataclass
class Recorded:
    method: str
    path: str
    params: dict[str, str]
    headers: dict[str, str]
    body: Any


@dataclass
class ProviderApis:
    requests: list[Recorded] = field(default_factory=list)

    @property
    def last(self) -> Recorded:
        return self.requests[-1]

    async def _record(self, request: Request) -> Recorded:
        body = await request.json() if request.method == "POST" else None
        recorded = Recorded(
            method=request.method,
            path=request.url.path,
            params=dict(request.query_params),
            headers={key.lower(): value for key, value in request.headers.items()},
            body=body,
        )
        self.requests.append(recorded)
        return recorded

    async def searxng_or_tavily(self, request: Request) -> Response:
        recorded = await self._record(request)
        if request.method == "GET":
            if recorded.params.get("format") != "json":
                return HTMLResponse("<html>results page</html>")
            return JSONResponse(searxng_answer(recorded.params["q"]))
        if recorded.headers.get("authorization") != f"Bearer {API_KEY}":
            return JSONResponse({"detail": {"error": "Unauthorized: missing or invalid API key."}}, 401)
        return JSONResponse(tavily_answer(recorded.body["query"]))

    async def brave(self, request: Request) -> Response:
        recorded = await self._record(request)
        if recorded.headers.get("x-subscription-token") != API_KEY:
            error = {
                "id": "c1b4a2f0-0000-4000-8000-000000000000",
                "status": 422,
                "code": "SUBSCRIPTION_TOKEN_INVALID",
                "detail": "The provided subscription token is invalid.",
                "meta": {"component": "authentication"},
            }
            return JSONResponse({"type": "ErrorResponse", "error": error, "time": 1771000000}, 422)
        return JSONResponse(brave_answer(recorded.params["q"]))

    async def firecrawl_v2(self, request: Request) -> Response:
        recorded = await self._record(request)
        if recorded.headers.get("authorization") != f"Bearer {API_KEY}":
            return JSONResponse({"success": False, "error": "Unauthorized: Invalid token"}, 401)
        return JSONResponse(firecrawl_v2_answer(recorded.body["query"], recorded.body["limit"]))

    async def firecrawl_v1(self, request: Request) -> Response:
        recorded = await self._record(request)
        return JSONResponse(
            {
                "success": True,
                "data": [
                    {
                        "url": "https://docs.firecrawl.dev/",
                        "title": f"v1: {recorded.body['query']}",
                        "description": "Firecrawl v1 search result",
                        "markdown": None,
                    }
                ],
            }
        )

    async def status(self, request: Request) -> Response:
        await self._record(request)
        code = int(request.path_params["code"])
        return JSONResponse({"error": "simulated"}, code)

    async def not_json(self, request: Request) -> Response:
        await self._record(request)
        return HTMLResponse("<html>maintenance</html>")

    async def wrong_shape(self, request: Request) -> Response:
        await self._record(request)
        return JSONResponse({"success": True, "results": "not a list", "data": {"web": "nope"}, "web": []})

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/search", self.searxng_or_tavily, methods=["GET", "POST"]),
                Route("/res/v1/web/search", self.brave, methods=["GET"]),
                Route("/v2/search", self.firecrawl_v2, methods=["POST"]),
                Route("/v1/search", self.firecrawl_v1, methods=["POST"]),
                Route("/status/{code:int}/{rest:path}", self.status, methods=["GET", "POST"]),
                Route("/not-json/{rest:path}", self.not_json, methods=["GET", "POST"]),
                Route("/wrong-shape/{rest:path}", self.wrong_shape, methods=["GET", "POST"]),
            ]
        )


def searxng_answer(query: str) -> dict[str, Any]:
    return {
        "query": query,
        "number_of_results": 0,
        "results": [
            {
                "url": "https://www.python.org/",
                "title": "Welcome to Python.org",
                "content": "The official home of the Python Programming Language.",
                "engine": "duckduckgo",
                "parsed_url": ["https", "www.python.org", "/", "", "", ""],
                "template": "default.html",
                "engines": ["duckduckgo", "google"],
                "positions": [1, 1],
                "score": 4.0,
                "category": "general",
                "publishedDate": None,
            },
            {
                "url": "https://docs.python.org/3/",
                "title": "Python 3 documentation",
                "content": "Tutorial, library reference, language reference.",
                "engine": "google",
                "parsed_url": ["https", "docs.python.org", "/3/", "", "", ""],
                "template": "default.html",
                "engines": ["google"],
                "positions": [2],
                "score": 1.5,
                "category": "general",
                "publishedDate": "2026-01-05T00:00:00",
            },
            {
                "url": "https://pypi.org/",
                "title": "PyPI",
                "content": "Find, install and publish Python packages.",
                "engine": "bing",
                "engines": ["bing"],
                "positions": [3],
                "score": 0.5,
                "category": "general",
            },
        ],
        "answers": [],
        "corrections": [],
        "infoboxes": [],
        "suggestions": ["python tutorial"],
        "unresponsive_engines": [],
    }


def brave_answer(query: str) -> dict[str, Any]:
    return {
        "type": "search",
        "query": {"original": query, "more_results_available": True},
        "mixed": {"type": "mixed", "main": [{"type": "web", "index": 0, "all": False}]},
        "web": {
            "type": "search",
            "results": [
                {
                    "title": "Brave Search API",
                    "url": "https://brave.com/search/api/",
                    "is_source_local": False,
                    "description": "Power your search and AI apps with the <strong>Brave</strong> index.",
                    "page_age": "2026-02-01T10:00:00",
                    "age": "February 1, 2026",
                    "language": "en",
                    "family_friendly": True,
                    "type": "search_result",
                    "subtype": "generic",
                    "profile": {"name": "Brave", "url": "https://brave.com/search/api/"},
                    "meta_url": {"scheme": "https", "netloc": "brave.com", "hostname": "brave.com"},
                    "extra_snippets": ["Independent index of the web."],
                },
                {
                    "title": "Get started",
                    "url": "https://api-dashboard.search.brave.com/app/documentation/web-search/get-started",
                    "description": "Authentication, endpoints, parameters and response schemas.",
                    "type": "search_result",
                },
            ],
            "family_friendly": True,
        },
    }


def tavily_answer(query: str) -> dict[str, Any]:
    return {
        "query": query,
        "follow_up_questions": None,
        "answer": None,
        "images": [],
        "results": [
            {
                "title": "Lionel Messi - Wikipedia",
                "url": "https://en.wikipedia.org/wiki/Lionel_Messi",
                "content": "Lionel Andrés Messi is an Argentine professional footballer.",
                "score": 0.98,
                "raw_content": None,
            },
            {
                "title": "Messi stats",
                "url": "https://www.espn.com/soccer/player/_/id/45843/lionel-messi",
                "content": "Career statistics.",
                "score": 0.71,
                "raw_content": None,
            },
        ],
        "response_time": 1.09,
        "request_id": "123e4567-e89b-12d3-a456-426614174111",
    }


def firecrawl_v2_answer(query: str, limit: int) -> dict[str, Any]:
    web = [
        {
            "url": "https://www.firecrawl.dev/",
            "title": "Firecrawl - The Web Data API for AI",
            "description": "The web crawling, scraping, and search API for AI.",
            "position": 1,
        },
        {
            "url": "https://github.com/mendableai/firecrawl",
            "title": "mendableai/firecrawl",
            "description": f"Turn entire websites into LLM-ready markdown ({query}).",
            "position": 2,
        },
    ]
    return {"success": True, "data": {"web": web[:limit], "images": [], "news": []}, "creditsUsed": 2}
