"""Latency of the search server's tools over Streamable HTTP, against a site on loopback.

    python -m tests.mcp_servers.search.bench_fetch [--calls 50]

Starts `agentmesh serve search --transport http` with network rules allowing the loopback site for
one tenant, then times `fetch_page` (SSRF check, HTTP fetch, trafilatura, index write) and `search`
end to end as a client sees them, both with a new MCP session per call and within one long-lived
session (as the host's client pool does), and the guarded download alone in-process.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio

from agentmesh.settings import load_settings
from mcp_servers.search.fetcher import FetchLimits, PageFetcher
from mcp_servers.search.network_rules import NetworkRules
from tests.mcp_servers.search.company_site import company_site
from tests.mcp_servers.search.sites import serve
from tests.support.mcp import http_client, mesh_token
from tests.support.processes import running_server

TOOLS = ["fetch_page", "search"]


async def _timed(calls: int, action: Callable[[int], Awaitable[None]]) -> list[float]:
    durations = []
    for number in range(calls):
        started = time.perf_counter()
        await action(number)
        durations.append((time.perf_counter() - started) * 1000)
    return sorted(durations)


def _report(name: str, durations: list[float]) -> None:
    p95 = durations[min(len(durations) - 1, int(len(durations) * 0.95))]
    print(f"{name:<27} p50 {statistics.median(durations):7.1f} ms   p95 {p95:7.1f} ms   (n={len(durations)})")


async def main(calls: int) -> None:
    with tempfile.TemporaryDirectory() as directory, serve(company_site()) as site:
        data_dir = Path(directory)
        rules = data_dir / "rules.yaml"
        rules.write_text("tenants:\n  acme:\n    allowed_hosts: ['127.0.0.1']\n")
        settings = load_settings(AGENTMESH_DATA_DIR=data_dir)
        pages = ["/", "/gioi-thieu", "/san-pham", "/lien-he", "/san-pham/may-loc-nuoc"]

        fetcher = PageFetcher(FetchLimits.from_settings(settings))
        allowed = NetworkRules(allowed_hosts=("127.0.0.1",))

        async def download(number: int) -> None:
            await fetcher.download(f"{site}{pages[number % len(pages)]}", allowed)

        _report("guarded download (in-proc)", await _timed(calls, download))

        with running_server("search", data_dir, AGENTMESH_SEARCH_NETWORK_RULES_FILE=str(rules)) as url:

            async def fetch_page(number: int) -> None:
                async with http_client(url, mesh_token(settings, "search", tools=TOOLS)) as client:
                    result = await client.call_tool(
                        "fetch_page", {"url": f"{site}{pages[number % len(pages)]}"}
                    )
                assert not result.is_error, result.content

            async def search(number: int) -> None:
                async with http_client(url, mesh_token(settings, "search", tools=TOOLS)) as client:
                    result = await client.call_tool("search", {"query": "may loc nuoc", "top_k": 5})
                assert result.structured_content["hits"], result.content

            _report("fetch_page, new session", await _timed(calls, fetch_page))
            _report("search, new session", await _timed(calls, search))
            async with http_client(url, mesh_token(settings, "search", tools=TOOLS)) as client:

                async def fetch_in_session(number: int) -> None:
                    result = await client.call_tool(
                        "fetch_page", {"url": f"{site}{pages[number % len(pages)]}"}
                    )
                    assert not result.is_error, result.content

                async def search_in_session(number: int) -> None:
                    result = await client.call_tool("search", {"query": "may loc nuoc", "top_k": 5})
                    assert result.structured_content["hits"], result.content

                _report("fetch_page, one session", await _timed(calls, fetch_in_session))
                _report("search, one session", await _timed(calls, search_in_session))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=50)
    anyio.run(main, parser.parse_args().calls)
