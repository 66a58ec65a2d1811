"""Child processes started by `agentmesh up`: each MCP server on its own loopback port.

This process opens each child's listening socket and passes it down (`--listen-fd`), so no
other process can take the port between choosing it and the child's slow start. While the mesh
runs, `ChildProcesses.supervise` restarts a child that exits, on the same socket (the gateway
keeps its URL and reconnects by itself; a request made meanwhile waits in the socket's queue),
after a backoff that doubles while the child keeps failing and starts over once it has stayed
up a minute.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import httpx
import structlog

from agentmesh.listeners import listen_on, port_of
from agentmesh.startup import StartupError

log = structlog.get_logger(__name__)

RESTART_BACKOFF_SECONDS = (1.0, 2.0, 4.0, 8.0, 16.0, 30.0)
STABLE_AFTER_SECONDS = 60.0
_WATCH_INTERVAL_SECONDS = 0.5

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child, before exec: get SIGTERM if the parent dies, even by SIGKILL (Linux)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        return  # not Linux: the parent's `stop_all` remains the only way children are stopped


@dataclass
class Child:
    """One child process and where it answers."""

    name: str
    argv: list[str]
    listener: socket.socket = field(repr=False)
    env: dict[str, str] = field(default_factory=dict, repr=False)
    health_path: str = "/healthz"
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    started_at: float = 0.0
    restarts: int = 0

    @property
    def port(self) -> int:
        return port_of(self.listener)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


class ChildProcesses:
    """Starts children, waits until each answers its health check, and stops them all."""

    def __init__(self, data_dir: Path, env: dict[str, str] | None = None) -> None:
        self._data_dir = data_dir
        self._env = {**os.environ, **(env or {}), "AGENTMESH_DATA_DIR": str(data_dir)}
        self.children: list[Child] = []

    def start(self, name: str, args: list[str], *, extra_env: dict[str, str] | None = None) -> Child:
        listener = listen_on("127.0.0.1", 0)
        argv = [sys.executable, "-m", "agentmesh.cli", *args, "--listen-fd", str(listener.fileno())]
        child = Child(name=name, argv=argv, listener=listener, env={**self._env, **(extra_env or {})})
        self._spawn(child)
        self.children.append(child)
        return child

    @staticmethod
    def _spawn(child: Child) -> None:
        child.process = subprocess.Popen(
            child.argv,
            env=child.env,
            pass_fds=(child.listener.fileno(),),
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        child.started_at = time.monotonic()

    async def supervise(self) -> None:
        """Restart every child that exits, with backoff, until cancelled."""
        async with anyio.create_task_group() as tg:
            for child in self.children:
                tg.start_soon(self._keep_running, child)

    async def _keep_running(self, child: Child) -> None:
        failures = 0
        while True:
            assert child.process is not None
            status = child.process.poll()
            if status is None:
                await anyio.sleep(_WATCH_INTERVAL_SECONDS)
                continue
            stable = time.monotonic() - child.started_at >= STABLE_AFTER_SECONDS
            failures = 0 if stable else failures + 1
            delay = RESTART_BACKOFF_SECONDS[min(failures, len(RESTART_BACKOFF_SECONDS) - 1)]
            log.warning("child_exited", child=child.name, status=status, restart_in_seconds=delay)
            await anyio.sleep(delay)
            await anyio.to_thread.run_sync(self._spawn, child)
            child.restarts += 1
            log.warning("child_restarted", child=child.name, pid=child.process.pid, restarts=child.restarts)

    def wait_healthy(self, child: Child, timeout: float = 180.0) -> None:
        """Return once `child` answers its health check; `StartupError` if it exits or never does.

        A child that fails prints its own one-line reason on the shared stderr first.
        """
        deadline = time.monotonic() + timeout
        url = child.base_url + child.health_path
        while time.monotonic() < deadline:
            assert child.process is not None
            if child.process.poll() is not None:
                raise StartupError(
                    "child_exited",
                    f"{child.name} exited with status {child.process.returncode} while starting "
                    "(its reason is printed above)",
                )
            try:
                if httpx.get(url, timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        raise StartupError(
            "child_timeout", f"{child.name} did not answer {url} within {timeout:.0f} s while starting"
        )

    def stop_all(self, timeout: float = 10.0) -> None:
        """SIGTERM every child, then SIGKILL whatever has not exited within `timeout`; close their sockets."""
        for child in self.children:
            if child.process is not None and child.process.poll() is None:
                child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for child in self.children:
            if child.process is None:
                continue
            try:
                child.process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.process.kill()
                child.process.wait()
        for child in self.children:
            child.listener.close()
