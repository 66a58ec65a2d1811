"""Start real agentmesh processes on free loopback ports and wait until they answer."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_healthy(url: str, process: subprocess.Popen[bytes] | None = None, timeout: float = 180.0) -> None:
    """Poll `url` until it answers 200, failing early if `process` exits (generous: a loaded 2-core
    machine starting several model-loading servers at once takes minutes)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before {url} was healthy")
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} not healthy after {timeout}s")


def child_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {**os.environ, "AGENTMESH_DATA_DIR": str(data_dir), "AGENTMESH_LOG_LEVEL": "WARNING"}
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    env.update(extra)
    return env


@contextlib.contextmanager
def running_server(domain: str, data_dir: Path, **env: str) -> Iterator[str]:
    """Run `agentmesh serve DOMAIN --transport http` and yield its MCP URL."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "agentmesh.cli", "serve", domain, "--transport", "http", "--port", str(port)],
        env=child_env(data_dir, **env),
    )
    try:
        wait_healthy(f"http://127.0.0.1:{port}/healthz", process)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        stop(process)


def stop(process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
