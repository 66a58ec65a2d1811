"""The agent host's own time per turn, next to calling the same MCP tool directly.

    python bench/host_overhead.py [--turns 400] [--concurrency 1 10 100] [--tenants 100]

A trivial MCP server (`bench`, one read-only `lookup` tool with a structured result) runs in its
own process over Streamable HTTP. The host is the real one, wired as the gateway wires it
(`build_agent_host`) on a fresh SQLite database: stored agents with the per-turn version check,
100 tenants' policies, tool pinning, the audit trail, the local planner. Three ways of getting the
same answer are timed at each concurrency, spread over the tenants:

- **direct**: `mcp.Client.call_tool` on one long-lived client with a mesh token (the floor);
- **turn, agent named**: `AgentHost.run_turn` with the agent given (no routing): the host's
  machinery, the local planner's argument filling and answer, and the same tool call;
- **turn, routed**: the same with the supervisor routing the message (one MiniLM encoder call).

The host's overhead is a turn's latency minus the direct call's at the same concurrency; its CPU
per turn is this process's CPU time per turn minus per direct call (the tool server is another
process, so that figure does not move with the machine's load the way latencies do).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Generator
from pathlib import Path
from typing import Annotated

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import anyio
import httpx
import httpx2
import torch
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp_types import CallToolResult, ToolAnnotations
from pydantic import BaseModel, Field

from agentmesh.db import create_engine, session_factory, upgrade_database
from agentmesh.keys import mesh_key
from agentmesh.logging import configure_logging
from agentmesh.mesh_tokens import mint_server_token
from agentmesh.outbound import OutboundGuard
from agentmesh.secrets import secret_box
from agentmesh.settings import Settings, load_settings
from host.agents import AgentConfig
from host.caller import Caller
from host.composition import HostStores, build_agent_host
from host.events import FinalEvent
from host.turn import TurnInput
from mcp_servers.common.bootstrap import ServeOptions, new_server, run
from mcp_servers.common.results import render_meta, structured_result
from policies.loader import PolicySet
from policies.model import TenantPolicy

SERVER = "bench"
MESSAGE = "What is the balance of customer 0123456789?"
AGENTS = [
    AgentConfig(
        name="balances",
        description="Customer balances: what a customer owes, by MST tax code.",
        examples=["What is the balance of customer 0312345678?", "How much does MST 0101234567 owe?"],
        keywords=["balance", "owe", "mst"],
        tools=[f"{SERVER}:lookup"],
        model="local",
    ),
    AgentConfig(
        name="shipments",
        description="Where a shipment is and whether it was delivered, by shipment id.",
        examples=["Where is shipment SH-1042?", "Has SH-1001 been delivered?"],
        keywords=["shipment", "delivery"],
        tools=[f"{SERVER}:lookup"],
        model="local",
    ),
    AgentConfig(
        name="policies",
        description="Company policies: returns, refunds, payment terms.",
        examples=["What is our return policy?", "What are the payment terms?"],
        keywords=["policy", "refund"],
        tools=[f"{SERVER}:lookup"],
        model="local",
    ),
]


class Balance(BaseModel):
    mst: str
    outstanding: int


def serve(settings: Settings, port: int) -> None:
    """The trivial tool server (run in its own process)."""
    server, _ = new_server(SERVER, settings, ServeOptions(port=port), instructions="Benchmark tool.")

    @server.tool(annotations=ToolAnnotations(read_only_hint=True), meta=render_meta("summary_text"))
    def lookup(mst: Annotated[str, Field(pattern=r"^[0-9]{10}$")]) -> Annotated[CallToolResult, Balance]:
        """A customer's balance by MST tax code."""
        balance = Balance(mst=mst, outstanding=int(mst[-4:]) * 1000)
        return structured_result(balance, f"Customer {mst} owes {balance.outstanding:,} VND.")

    run(server, settings, ServeOptions(port=port))


def tenants(count: int) -> list[str]:
    return [f"tenant-{index:03d}" for index in range(count)]


def policy_set(names: list[str]) -> PolicySet:
    documents = [TenantPolicy.model_validate({"tenant": "*", "models": {"allow": ["local"]}})]
    documents += [
        TenantPolicy.model_validate({"tenant": name, "agents": ["*"], "tools": {"allow": [f"{SERVER}:*"]}})
        for name in names
    ]
    return PolicySet(documents)


class Timings:
    def __init__(self) -> None:
        self.latencies_ms: list[float] = []
        self.wall_seconds = 0.0
        self.cpu_seconds = 0.0

    def summary(self) -> dict[str, float]:
        ordered = sorted(self.latencies_ms)
        return {
            "p50": statistics.median(ordered),
            "p99": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
            "per_second": len(ordered) / self.wall_seconds,
            "cpu_ms": self.cpu_seconds * 1000 / len(ordered),
        }


async def measure(total: int, concurrency: int, once: Callable[[int], Awaitable[None]]) -> Timings:
    """Run `total` operations with `concurrency` workers; record each one's latency."""
    timings = Timings()
    counter = iter(range(total))

    async def worker() -> None:
        for index in counter:
            started = time.perf_counter()
            await once(index)
            timings.latencies_ms.append((time.perf_counter() - started) * 1000)

    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    timings.wall_seconds = time.perf_counter() - started
    timings.cpu_seconds = time.process_time() - cpu  # this process only: the tool server runs apart
    return timings


class FreshToken(httpx2.Auth):
    """The direct client's mesh token, minted again before it expires: mesh tokens live 60 s and a
    run at three concurrencies lasts longer."""

    _REFRESH_AFTER_SECONDS = 30.0

    def __init__(self, mint: Callable[[], str]) -> None:
        self._mint = mint
        self._token = mint()
        self._minted = time.monotonic()

    def auth_flow(self, request: httpx2.Request) -> Generator[httpx2.Request, httpx2.Response, None]:
        if time.monotonic() - self._minted > self._REFRESH_AFTER_SECONDS:
            self._token, self._minted = self._mint(), time.monotonic()
        request.headers["Authorization"] = f"Bearer {self._token}"
        yield request


async def bench(args: argparse.Namespace, settings: Settings, url: str) -> None:
    names = tenants(args.tenants)
    engine = create_engine(settings.resolved_database_url)
    await upgrade_database(engine)
    outbound = OutboundGuard.from_settings(settings)
    stores = HostStores.open(session_factory(engine), secret_box(settings), outbound=outbound)
    host = build_agent_host(
        settings, {SERVER: url}, stores=stores, policies=policy_set(names), agents=AGENTS, outbound=outbound
    )
    key = mesh_key(settings.keys_dir)

    def token() -> str:
        return mint_server_token(
            key,
            issuer=settings.mesh_issuer,
            server=SERVER,
            tenant_id=names[0],
            subject="bench",
            tools=["lookup"],
        )

    async with (
        httpx2.AsyncClient(auth=FreshToken(token), timeout=60) as http,
        Client(streamable_http_client(url, http_client=http)) as direct,
        anyio.create_task_group() as task_group,
    ):
        await host.start(task_group)
        await host.pool.wait_ready(30)
        await host.catalog.refresh_all()

        async def direct_call(index: int) -> None:
            result = await direct.call_tool("lookup", {"mst": "0123456789"})
            assert not result.is_error

        def turn(agent: str | None) -> Callable[[int], Awaitable[None]]:
            async def once(index: int) -> None:
                tenant = names[index % len(names)]
                caller = Caller(tenant_id=tenant, subject=f"user-{tenant}", session_id=f"s-{tenant}")
                events = [
                    e async for e in host.run_turn(TurnInput(caller=caller, message=MESSAGE, agent=agent))
                ]
                final = events[-1]
                assert isinstance(final, FinalEvent) and final.outcome == "answered", final

            return once

        for warm in (direct_call, turn("balances"), turn(None)):  # connections, tokens, router, caches
            await measure(min(len(names), 100), 10, warm)

        rows = []
        for concurrency in args.concurrency:
            figures = {}
            for label, operation in (
                ("direct", direct_call),
                ("named", turn("balances")),
                ("routed", turn(None)),
            ):
                figures[label] = (await measure(args.turns, concurrency, operation)).summary()
            rows.append((concurrency, figures))
            print(f"concurrency {concurrency} done", file=sys.stderr)
        await host.aclose()
    await engine.dispose()
    report(rows, args)


def report(rows: list[tuple[int, dict[str, dict[str, float]]]], args: argparse.Namespace) -> None:
    print(f"{args.turns} operations per row, {args.tenants} tenants, torch threads {torch.get_num_threads()}")
    print(
        "| concurrency | direct call p50 / p99 ms | calls/s | turn, agent named: p50 / p99 ms | turns/s "
        "| turn, routed: p50 / p99 ms | turns/s | host overhead p50 ms, named / routed "
        "| host CPU per turn ms, named / routed |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for concurrency, figures in rows:
        direct, named, routed = figures["direct"], figures["named"], figures["routed"]
        print(
            f"| {concurrency} | {direct['p50']:.2f} / {direct['p99']:.2f} | {direct['per_second']:.0f} "
            f"| {named['p50']:.2f} / {named['p99']:.2f} | {named['per_second']:.0f} "
            f"| {routed['p50']:.2f} / {routed['p99']:.2f} | {routed['per_second']:.0f} "
            f"| {named['p50'] - direct['p50']:.2f} / {routed['p50'] - direct['p50']:.2f} "
            f"| {named['cpu_ms'] - direct['cpu_ms']:.2f} / {routed['cpu_ms'] - direct['cpu_ms']:.2f} |"
        )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_healthy(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("the benchmark tool server exited")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit("the benchmark tool server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--turns", type=int, default=400, help="operations per measurement")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 10, 100])
    parser.add_argument("--tenants", type=int, default=100)
    parser.add_argument("--threads", type=int, default=1, help="torch threads for the MiniLM encoder")
    parser.add_argument("--serve", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(load_settings(), args.serve)
        return
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as data_dir:
        settings = load_settings(
            AGENTMESH_DATA_DIR=Path(data_dir), AGENTMESH_LOG_LEVEL="WARNING", DATABASE_URL=None
        )
        mesh_key(settings.keys_dir)  # created before the server reads it
        port = free_port()
        env = {**os.environ, "AGENTMESH_DATA_DIR": data_dir, "AGENTMESH_LOG_LEVEL": "WARNING"}
        server = subprocess.Popen([sys.executable, __file__, "--serve", str(port)], env=env)
        try:
            wait_healthy(f"http://127.0.0.1:{port}/healthz", server)
            configure_logging(settings)
            asyncio.run(bench(args, settings, f"http://127.0.0.1:{port}/mcp"))
        finally:
            server.terminate()
            server.wait(10)


if __name__ == "__main__":
    main()
