"""Time from launching `agentmesh serve DOMAIN --transport stdio` to its `initialize` answer.

    python bench/stdio_start.py [--runs 3] [--domains erp rag ocr search] [--first-call]

This is what a desktop assistant (or the MCP Inspector, which gives up after 15 s) waits for:
the process starts, then the client sends `initialize` and waits for the result. Each run
launches the server with the MCP SDK's own stdio client on a fresh data directory (the first
start of a new install, the slowest case) and times `initialize` from the launch. It also reads
the CPU time the server process had used when `initialize` returned (Linux `/proc`): on a
machine shared with other work the wall time grows with the load, the CPU time hardly does, and
on an idle machine the two are close. With `--first-call`, it also times the first `tools/call`
after `initialize` (a call that needs the models or stores that load in the background, so it
waits for them).
"""

from __future__ import annotations

import argparse
import base64
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import anyio
from mcp import Client, StdioServerParameters

DOMAINS = ("erp", "rag", "ocr", "search")

# One cheap call per server that needs what loads in the background (stores, models).
FIRST_CALLS: dict[str, tuple[str, dict[str, object]]] = {
    "erp": ("track_shipment", {"shipment_id": "SH-1042"}),
    "rag": ("search", {"query": "return window", "top_k": 1}),
    "ocr": ("ocr_image", {"image": ""}),  # the image is drawn in `first_call_arguments`
    "search": ("search", {"query": "return policy"}),
}


def first_call_arguments(domain: str) -> dict[str, object]:
    arguments = FIRST_CALLS[domain][1]
    if domain != "ocr":
        return arguments
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (240, 60), "white")
    ImageDraw.Draw(image).text((10, 20), "TOTAL 42.00", fill="black")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return {"image": base64.b64encode(buffer.getvalue()).decode()}


def server_parameters(domain: str, data_dir: Path) -> StdioServerParameters:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "QDRANT_URL"}}
    env.update({"AGENTMESH_DATA_DIR": str(data_dir), "AGENTMESH_LOG_LEVEL": "WARNING"})
    return StdioServerParameters(
        command=sys.executable,
        args=["-m", "agentmesh.cli", "serve", domain, "--transport", "stdio"],
        env=env,
    )


def child_cpu_seconds() -> float:
    """User + system CPU seconds of this process's children so far (the one server running)."""
    me = str(os.getpid())
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # a process that ended while we looked
        if fields[1] == me:  # fields[1] is the parent pid; [11] and [12] are utime and stime
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


async def time_start(domain: str, data_dir: Path, first_call: bool) -> tuple[float, float, float | None]:
    """Seconds from launch to the `initialize` result, the server's CPU seconds by then, and the
    seconds to the first call's result if asked."""
    started = time.perf_counter()
    # `legacy` mode: the `initialize` handshake, as desktop assistants and the Inspector send it.
    async with Client(server_parameters(domain, data_dir), mode="legacy") as client:
        initialized = time.perf_counter() - started
        cpu = child_cpu_seconds()
        if not first_call:
            return initialized, cpu, None
        tool = FIRST_CALLS[domain][0]
        result = await client.call_tool(tool, first_call_arguments(domain))
        called = time.perf_counter() - started
        if result.is_error:
            raise RuntimeError(f"{domain}: first call {tool} failed: {result.content}")
        return initialized, cpu, called


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--domains", nargs="+", choices=DOMAINS, default=list(DOMAINS))
    parser.add_argument("--first-call", action="store_true", help="also time the first tool call")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f}; {args.runs} run(s) per server, fresh data dir each")
    for domain in args.domains:
        starts: list[float] = []
        cpus: list[float] = []
        calls: list[float] = []
        for _ in range(args.runs):
            with tempfile.TemporaryDirectory(prefix=f"stdio-{domain}-") as data_dir:
                initialized, cpu, called = await time_start(domain, Path(data_dir), args.first_call)
            starts.append(initialized)
            cpus.append(cpu)
            if called is not None:
                calls.append(called)
        line = (
            f"{domain:7s} initialize: median {statistics.median(starts):5.2f} s, max {max(starts):5.2f} s"
            f" (server CPU by then: median {statistics.median(cpus):4.2f} s)"
        )
        if calls:
            line += f"; first {FIRST_CALLS[domain][0]}: median {statistics.median(calls):5.2f} s"
        print(line, flush=True)


if __name__ == "__main__":
    anyio.run(main)
