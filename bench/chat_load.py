"""Chat turns under load: many tenants, each with concurrent users, through the real gateway and servers.

    python bench/chat_load.py [--tenants 100] [--users 1] [--turns 8] [--warmup 2] [--redis] [--postgres]

Processes, as deployed on one machine: the demo ERP REST API (`agentmesh demo-erp`), the ERP MCP
server in front of it (`agentmesh serve erp`) and the gateway with the agent host inside
(`agentmesh gateway`), all on loopback. Answers come from the local planner (no LLM key), so no
model time hides the platform's own.

The tenants are created through the admin API as an operator would: each gets a policy override
granting the debt and shipment agents and the ERP's read tools, and a `demo-erp` service
credential. The demo ERP holds data for its two demo tenants only, so every bench tenant's
credential is the demo ERP key of `acme`: each bench tenant sees the same ERP data set through its
own account. Rate limits are raised for the run so no turn is refused.

Every user is one client holding one session: it sends its turns one after another (a debt
question, a follow-up that relies on the session's memory, a shipment question, the overdue
list), and all users of all tenants run at once. Reported: turns per second, end-to-end latency
percentiles, errors (any non-200 answer or an `error` outcome), and where the time went per turn:
routing, the tool calls (the ERP server and the demo ERP behind it), and the rest (the gateway and
the host's own work, HTTP included). `--redis` and `--postgres` run the gateway on the real
backends (`REDIS_URL`, a fresh PostgreSQL database) instead of the embedded ones.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agentmesh.db import create_engine, session_factory
from agentmesh.dev_tokens import issue_dev_token
from agentmesh.secrets import secret_box
from agentmesh.settings import Settings, load_settings
from mcp_servers.erp.credentials import ServiceCredentialStore
from tests.support.processes import free_port, stop, wait_healthy

POSTGRES_ADMIN_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
REDIS_URL = "redis://127.0.0.1:6379/0"
# The highest limits a policy may set: no bench turn is refused.
MAX_REQUESTS_PER_MINUTE = 1_000_000
MAX_TOKENS_PER_MINUTE = 10**12
CONVERSATION = (
    "What is the debt for customer MST 3428557611?",
    "And what is its payment history?",
    "Where is shipment SH-1042?",
    "Which customers are overdue?",
)
TENANT_POLICY = {
    "agents": {"allow": ["debt", "shipment"]},
    "tools": {"allow": ["erp:get_*", "erp:list_*", "erp:track_shipment"]},
    "limits": {
        "requests_per_minute": MAX_REQUESTS_PER_MINUTE,
        "tokens_per_minute": MAX_TOKENS_PER_MINUTE,
        "max_concurrent_turns": 1000,
    },
}


@dataclass
class Turn:
    latency_ms: float
    ok: bool
    route_ms: float = 0.0
    tool_ms: float = 0.0
    tool_calls: int = 0
    outcome: str = ""


@dataclass
class Mesh:
    url: str
    settings: Settings
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def stop(self) -> None:
        for process in reversed(self.processes):
            stop(process)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def _start(
    args: list[str], env: dict[str, str], logs: Path, name: str
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    command = [sys.executable, "-m", "agentmesh.cli", *args, "--port", str(port)]
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=(logs / f"{name}.log").open("wb")
    )
    url = f"http://127.0.0.1:{port}"
    wait_healthy(f"{url}/healthz", process, timeout=240)
    return process, url


async def _create_database() -> str:
    name = f"agentmesh_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    await admin.dispose()
    return f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"


async def _drop_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    await admin.dispose()


def start_mesh(data_dir: Path, args: argparse.Namespace, database_url: str | None) -> Mesh:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "QDRANT_URL"}}
    env.update(AGENTMESH_DATA_DIR=str(data_dir), AGENTMESH_LOG_LEVEL=args.log_level)
    if database_url:
        env["DATABASE_URL"] = database_url
    settings = load_settings(AGENTMESH_DATA_DIR=data_dir, DATABASE_URL=database_url)
    mesh = Mesh(url="", settings=settings)
    try:
        demo_erp, erp_api = _start(["demo-erp"], env, data_dir, "demo-erp")
        mesh.processes.append(demo_erp)
        erp, erp_url = _start(
            ["serve", "erp", "--transport", "http"],
            {**env, "AGENTMESH_ERP_API_URL": erp_api},
            data_dir,
            "erp",
        )
        mesh.processes.append(erp)
        gateway_env = {
            **env,
            "AGENTMESH_ERP_URL": f"{erp_url}/mcp",
            "AGENTMESH_RATE_LIMIT_RPM": str(MAX_REQUESTS_PER_MINUTE),
            "AGENTMESH_RATE_LIMIT_TPM": str(MAX_TOKENS_PER_MINUTE),
            "AGENTMESH_USER_RATE_LIMIT_RPM": str(MAX_REQUESTS_PER_MINUTE),
            "AGENTMESH_USER_RATE_LIMIT_TPM": str(MAX_TOKENS_PER_MINUTE),
            "AGENTMESH_MAX_CONCURRENT_TURNS": "1000",
        }
        if args.redis:
            gateway_env.update(REDIS_URL=REDIS_URL, AGENTMESH_REDIS_PREFIX=f"bench-{uuid.uuid4().hex[:8]}")
        gateway, mesh.url = _start(["gateway"], gateway_env, data_dir, "gateway")
        mesh.processes.append(gateway)
    except BaseException:
        mesh.stop()
        raise
    return mesh


async def acme_erp_key(settings: Settings) -> str:
    engine = create_engine(settings.resolved_database_url)
    try:
        key = await ServiceCredentialStore(session_factory(engine), secret_box(settings)).reveal(
            "acme", "demo-erp"
        )
    finally:
        await engine.dispose()
    if key is None:
        raise RuntimeError("the demo ERP did not provision a key for acme")
    return key


async def provision(mesh: Mesh, tenants: list[str]) -> None:
    """Create the bench tenants through the admin API, as a platform admin."""
    admin = issue_dev_token(mesh.settings, tenant_id="acme", user="bench-admin", roles=["platform_admin"])
    key = await acme_erp_key(mesh.settings)
    headers = {"Authorization": f"Bearer {admin}"}
    async with httpx.AsyncClient(base_url=mesh.url, headers=headers, timeout=60) as client:

        async def one(tenant: str) -> None:
            steps = [
                client.post("/api/admin/tenants", json={"id": tenant, "name": f"Bench tenant {tenant}"}),
                client.put(f"/api/admin/tenants/{tenant}/policy", json={"tenant": tenant, **TENANT_POLICY}),
                client.put(f"/api/admin/tenants/{tenant}/erp/credentials/demo-erp", json={"secret": key}),
            ]
            for step in steps:
                response = await step
                if response.status_code >= 300:
                    raise RuntimeError(f"provisioning {tenant}: {response.status_code} {response.text}")

        for start in range(0, len(tenants), 10):
            await asyncio.gather(*(one(tenant) for tenant in tenants[start : start + 10]))
    # Policy overrides reach the gateway's in-process view within about a second.
    await asyncio.sleep(2.5)


def _turn_of(status: int, body: dict[str, Any], latency_ms: float) -> Turn:
    if status != 200:
        return Turn(latency_ms=latency_ms, ok=False, outcome=f"http {status}")
    steps = body["steps"]
    route_ms = sum(step["duration_ms"] or 0.0 for step in steps if step["type"] == "route")
    tool_steps = [step for step in steps if step["type"] == "tool_result"]
    return Turn(
        latency_ms=latency_ms,
        ok=body["outcome"] != "error" and not any(step["is_error"] for step in tool_steps),
        route_ms=route_ms,
        tool_ms=sum(step["duration_ms"] or 0.0 for step in tool_steps),
        tool_calls=len(tool_steps),
        outcome=body["outcome"],
    )


async def user_session(
    client: aiohttp.ClientSession, tenant: str, token: str, turns: int, think: float
) -> list[Turn]:
    """One user: a session of `turns` turns, each sent `think` seconds after the previous answer."""
    results: list[Turn] = []
    session_id: str | None = None
    headers = {"Authorization": f"Bearer {token}"}
    if think:
        await asyncio.sleep(random.uniform(0, think))  # users arrive spread out, not all at once
    for n in range(turns):
        if n and think:
            await asyncio.sleep(random.uniform(0.5 * think, 1.5 * think))
        body: dict[str, Any] = {"message": CONVERSATION[n % len(CONVERSATION)]}
        if session_id:
            body["session_id"] = session_id
        started = time.perf_counter()
        try:
            async with client.post(f"/api/{tenant}/chat", json=body, headers=headers) as response:
                answer: dict[str, Any] = await response.json() if response.status == 200 else {}
                status = response.status
        except aiohttp.ClientError as exc:
            results.append(
                Turn(
                    latency_ms=(time.perf_counter() - started) * 1000,
                    ok=False,
                    outcome=f"{type(exc).__name__}: {exc}",
                )
            )
            continue
        turn = _turn_of(status, answer, (time.perf_counter() - started) * 1000)
        if status == 200:
            session_id = answer["session_id"]
        results.append(turn)
    return results


def server_means(metrics_text: str) -> dict[str, float]:
    """Mean seconds per chat request and per turn, from the gateway's own histograms."""
    sums: dict[str, float] = {}
    for family in text_string_to_metric_families(metrics_text):
        for sample in family.samples:
            labels = sample.labels
            if (
                sample.name.startswith("agentmesh_http_request_duration_seconds")
                and labels.get("route") == "/api/{tenant_id}/chat"
            ):
                sums[sample.name.rsplit("_", 1)[1] + "_request"] = (
                    sums.get(sample.name.rsplit("_", 1)[1] + "_request", 0.0) + sample.value
                )
            if sample.name.startswith("agentmesh_turn_duration_seconds"):
                key = sample.name.rsplit("_", 1)[1] + "_turn"
                sums[key] = sums.get(key, 0.0) + sample.value
    return sums


async def run_load(
    mesh: Mesh, tenants: list[str], users: int, turns: int, think: float = 0.0
) -> tuple[list[Turn], float]:
    tokens = {
        (tenant, u): issue_dev_token(mesh.settings, tenant_id=tenant, user=f"user-{u}", ttl_seconds=7200)
        for tenant in tenants
        for u in range(users)
    }
    # aiohttp rather than httpx: the load generator shares the 2 cores with the platform, and
    # httpx spent about a third of all the CPU a turn cost (4.2 s of 14.8 s in one 10 s window).
    connector = aiohttp.TCPConnector(limit=len(tokens) + 10)
    timeout = aiohttp.ClientTimeout(total=300)
    async with aiohttp.ClientSession(mesh.url, connector=connector, timeout=timeout) as client:
        started = time.perf_counter()
        sessions = await asyncio.gather(
            *(user_session(client, tenant, token, turns, think) for (tenant, _), token in tokens.items())
        )
        elapsed = time.perf_counter() - started
    return [turn for session in sessions for turn in session], elapsed


def report(turns: list[Turn], elapsed: float, args: argparse.Namespace, before: str, after: str) -> None:
    ok = [t for t in turns if t.ok]
    errors = len(turns) - len(ok)
    latency = [t.latency_ms for t in ok]
    route = [t.route_ms for t in ok]
    tools = [t.tool_ms for t in ok]
    own = [t.latency_ms - t.route_ms - t.tool_ms for t in ok]
    outcomes: dict[str, int] = {}
    for turn in turns:
        outcomes[turn.outcome] = outcomes.get(turn.outcome, 0) + 1
    users = args.tenants * args.users
    backends = (
        ("Redis" if args.redis else "in-process") + " + " + ("PostgreSQL" if args.postgres else "SQLite")
    )
    print(
        f"\n{args.tenants} tenants x {args.users} user(s) = {users} concurrent users,"
        f" {args.turns} turns each, think time {args.think:g} s"
    )
    print(f"backends: {backends}; outcomes: {outcomes}")
    print(f"turns: {len(turns)} in {elapsed:.1f} s = {len(turns) / elapsed:.1f} turns/s; errors: {errors}")
    print("latency ms (client, end to end):")
    for name, values in (("turn", latency), ("route", route), ("tool calls", tools), ("own", own)):
        print(
            f"  {name:<11} p50 {percentile(values, 0.50):8.1f}  p95 {percentile(values, 0.95):8.1f}"
            f"  p99 {percentile(values, 0.99):8.1f}  mean {statistics.fmean(values) if values else 0:8.1f}"
        )
    print(f"  tool calls per turn: {statistics.fmean(t.tool_calls for t in ok):.2f}")
    start, end = server_means(before), server_means(after)
    count = end.get("count_request", 0) - start.get("count_request", 0)
    if count:
        request_ms = (end["sum_request"] - start.get("sum_request", 0)) / count * 1000
        turn_ms = (end["sum_turn"] - start.get("sum_turn", 0)) / count * 1000
        print(f"gateway histograms, mean per chat request {request_ms:.1f} ms, host turn {turn_ms:.1f} ms,")
        print(f"  the gateway's own share (auth, limits, session, transcript) {request_ms - turn_ms:.2f} ms")


async def main_async(args: argparse.Namespace) -> int:
    database_url = await _create_database() if args.postgres else None
    data_dir = Path(args.data_dir or tempfile.mkdtemp(prefix="agentmesh-chat-load-"))
    print(f"data directory: {data_dir} (process logs there)")
    mesh = await asyncio.to_thread(start_mesh, data_dir, args, database_url)
    try:
        tenants = [f"bench{n:03d}" for n in range(args.tenants)]
        await provision(mesh, tenants)
        warm, _ = await run_load(mesh, tenants[:2], 1, args.warmup)
        if not all(turn.ok for turn in warm):
            print(f"warm-up failed: {[turn.outcome for turn in warm]}", file=sys.stderr)
            return 1
        async with httpx.AsyncClient(base_url=mesh.url) as client:
            before = (await client.get("/metrics")).text
            turns, elapsed = await run_load(mesh, tenants, args.users, args.turns, args.think)
            after = (await client.get("/metrics")).text
        report(turns, elapsed, args, before, after)
        return 0 if all(turn.ok for turn in turns) else 1
    finally:
        await asyncio.to_thread(mesh.stop)
        if database_url:
            await _drop_database(database_url)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tenants", type=int, default=100)
    parser.add_argument("--users", type=int, default=1, help="concurrent users per tenant")
    parser.add_argument("--turns", type=int, default=8, help="turns per user, one session each")
    parser.add_argument("--warmup", type=int, default=2, help="turns per warm-up user (two users)")
    parser.add_argument(
        "--think", type=float, default=0.0, help="mean seconds a user waits between turns (0: none)"
    )
    parser.add_argument(
        "--redis", action="store_true", help=f"rate limits and windows in Redis ({REDIS_URL})"
    )
    parser.add_argument(
        "--postgres", action="store_true", help="a fresh PostgreSQL database instead of SQLite"
    )
    parser.add_argument("--data-dir", default=None)
    parser.add_argument(
        "--log-level", default="WARNING", help="of the mesh's processes (logs in the data dir)"
    )
    return asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
