"""What the gateway's `/mcp` adds to a tool call: the same `tools/call` through the gateway and
straight to the ERP server, on loopback, at several concurrencies.

    python bench/gateway_mcp_overhead.py [--rounds 5] [--slice 2] [--concurrency 1 16 64]

Both sides run as their own processes, as deployed: `agentmesh serve erp` (with its embedded demo
ERP API, so every call is a real HTTP call to the ERP) and `agentmesh gateway` in front of it.
The client sends protocol 2026-07-28 requests (one self-contained POST per call) with a
keep-alive connection per worker, and checks every answer is a successful result with
structured content. Direct calls carry a mesh token minted for the ERP server (as the host
would); gateway calls carry an end-user token, so the gateway pays for what it does in
production: token verification, the rate limit, the tenant's catalog and policy decision, the
audit event, the mesh token and the call over its long-lived client to the server. The tenant's
rate limits are raised for the run, so no call is refused. The two paths are measured in
alternating slices (direct, gateway, direct, ...) and each path's slices pooled, so a change in
the machine's load during the run weighs on both alike.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agentmesh.dev_tokens import issue_dev_token
from agentmesh.keys import dev_user_key, mesh_key
from agentmesh.mesh_tokens import mint_server_token
from agentmesh.settings import Settings, load_settings
from tests.support.processes import free_port, stop, wait_healthy

PROTOCOL = "2026-07-28"
ACME_MST = "3428557611"
UNLIMITED = 1_000_000_000


@dataclass
class Run:
    target: str
    concurrency: int
    latencies_ms: list[float]
    errors: int
    seconds: float

    @property
    def calls_per_second(self) -> float:
        return len(self.latencies_ms) / self.seconds

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _start(args: list[str], env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "agentmesh.cli", *args, "--port", str(port)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=log.open("wb"))
    wait_healthy(f"http://127.0.0.1:{port}/healthz", process, timeout=180)
    return process


def _body(call_id: int, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    meta = {
        "io.modelcontextprotocol/protocolVersion": PROTOCOL,
        "io.modelcontextprotocol/clientInfo": {"name": "gateway-mcp-overhead", "version": "1"},
        "io.modelcontextprotocol/clientCapabilities": {},
    }
    return {
        "jsonrpc": "2.0",
        "id": call_id,
        "method": "tools/call",
        "params": {"name": tool, "arguments": arguments, "_meta": meta},
    }


async def _measure(
    url: str,
    token: str,
    tool: str,
    arguments: dict[str, Any],
    *,
    concurrency: int,
    seconds: float,
    target: str,
) -> Run:
    headers = {
        "Authorization": f"Bearer {token}",
        "Accept": "application/json, text/event-stream",
        "Content-Type": "application/json",
        "MCP-Protocol-Version": PROTOCOL,
        "Mcp-Method": "tools/call",
        "Mcp-Name": tool,
    }
    latencies: list[float] = []
    errors = 0
    ids = itertools.count(1)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(headers=headers, timeout=60, limits=limits) as http:
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                try:
                    response = await http.post(url, json=_body(next(ids), tool, arguments))
                except httpx.TransportError:
                    errors += 1
                    continue
                elapsed = (time.perf_counter() - started) * 1000
                result = response.json().get("result", {}) if response.status_code == 200 else {}
                if result.get("isError") is False and result.get("structuredContent"):
                    latencies.append(elapsed)
                else:
                    errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return Run(target, concurrency, latencies, errors, elapsed)


def _raise_limits(gateway: str, settings: Settings) -> None:
    admin = issue_dev_token(settings, tenant_id="platform", user="bench", roles=["platform_admin"])
    # The highest limits a policy may set (the policy's own bounds refuse more).
    policy = {"tenant": "acme", "limits": {"requests_per_minute": 1_000_000, "tokens_per_minute": 10**12}}
    response = httpx.put(
        f"{gateway}/api/admin/tenants/acme/policy",
        json=policy,
        headers={"Authorization": f"Bearer {admin}"},
        timeout=30,
    )
    response.raise_for_status()


async def _benchmark(args: argparse.Namespace, erp: str, gateway: str, settings: Settings) -> list[Run]:
    arguments = {"mst": ACME_MST}
    user_token = issue_dev_token(settings, tenant_id="acme", user="bench")
    runs: list[Run] = []
    for concurrency in args.concurrency:
        pooled = {target: Run(target, concurrency, [], 0, 0.0) for target in ("direct", "gateway")}
        for round_number in range(args.rounds):
            # Mesh tokens live at most 60 s: mint one per round, as the host mints per call.
            mesh_token = mint_server_token(
                mesh_key(settings.keys_dir),
                issuer=settings.mesh_issuer,
                server="erp",
                tenant_id="acme",
                subject="bench",
                tools=[args.tool],
                ttl_seconds=60,
            )
            targets = [
                ("direct", f"{erp}/mcp", mesh_token, args.tool),
                ("gateway", f"{gateway}/mcp", user_token, f"erp__{args.tool}"),
            ]
            for target, url, token, tool in targets:
                measure = {"concurrency": concurrency, "target": target}
                if round_number == 0:
                    await _measure(url, token, tool, arguments, seconds=args.warmup, **measure)
                run = await _measure(url, token, tool, arguments, seconds=args.slice, **measure)
                pooled[target].latencies_ms.extend(run.latencies_ms)
                pooled[target].errors += run.errors
                pooled[target].seconds += run.seconds
        for run in pooled.values():
            runs.append(run)
            print(
                f"  {run.target:7} c={concurrency:<3} calls={len(run.latencies_ms):<6} errors={run.errors} "
                f"p50={run.percentile(0.5):.2f} ms p99={run.percentile(0.99):.2f} ms "
                f"{run.calls_per_second:.0f} calls/s",
                flush=True,
            )
    return runs


def _report(runs: list[Run]) -> None:
    print("\n| concurrency | path | p50 ms | p99 ms | calls/s | errors |")
    print("| --- | --- | --- | --- | --- | --- |")
    for run in runs:
        print(
            f"| {run.concurrency} | {run.target} | {run.percentile(0.5):.2f} | {run.percentile(0.99):.2f} "
            f"| {run.calls_per_second:.0f} | {run.errors} |"
        )
    print("\n| concurrency | added p50 ms | added p99 ms | gateway throughput vs direct |")
    print("| --- | --- | --- | --- |")
    by_key = {(run.concurrency, run.target): run for run in runs}
    for concurrency in sorted({run.concurrency for run in runs}):
        direct, gateway = by_key[(concurrency, "direct")], by_key[(concurrency, "gateway")]
        print(
            f"| {concurrency} | {gateway.percentile(0.5) - direct.percentile(0.5):.2f} "
            f"| {gateway.percentile(0.99) - direct.percentile(0.99):.2f} "
            f"| {gateway.calls_per_second / direct.calls_per_second:.0%} |"
        )
    mean_direct = statistics.mean(r.percentile(0.5) for r in runs if r.target == "direct")
    print(f"\nmean direct p50 over the concurrencies: {mean_direct:.2f} ms")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="alternating slices per path and concurrency")
    parser.add_argument("--slice", type=float, default=2.0, help="measured seconds per slice")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds before the first slice")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument("--tool", default="get_customer_debt", help="a read-only ERP tool taking an MST")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="gateway-mcp-overhead-") as tmp:
        data_dir = Path(tmp)
        settings = load_settings(AGENTMESH_DATA_DIR=data_dir)
        mesh_key(settings.keys_dir)
        dev_user_key(settings.keys_dir)
        env = {
            **{k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "QDRANT_URL"}},
            "AGENTMESH_DATA_DIR": str(data_dir),
            "AGENTMESH_LOG_LEVEL": "WARNING",
            "AGENTMESH_USER_RATE_LIMIT_RPM": str(UNLIMITED),
            "AGENTMESH_USER_RATE_LIMIT_TPM": str(UNLIMITED),
        }
        erp_port, gateway_port = free_port(), free_port()
        erp_process = _start(["serve", "erp", "--transport", "http"], env, erp_port, data_dir / "erp.log")
        erp = f"http://127.0.0.1:{erp_port}"
        gateway_env = {**env, "AGENTMESH_ERP_URL": f"{erp}/mcp"}
        gateway_process = _start(["gateway"], gateway_env, gateway_port, data_dir / "gateway.log")
        gateway = f"http://127.0.0.1:{gateway_port}"
        try:
            _raise_limits(gateway, settings)
            print(
                f"tool erp:{args.tool}: {args.rounds} alternating slices of {args.slice:g} s per path "
                f"and concurrency, after {args.warmup:g} s warm-up",
                flush=True,
            )
            runs = asyncio.run(_benchmark(args, erp, gateway, settings))
        finally:
            stop(gateway_process)
            stop(erp_process)
    _report(runs)
    return 0 if all(run.errors == 0 for run in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
