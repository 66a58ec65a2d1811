"""`agentmesh up` keeps its servers running: a killed child is restarted and the gateway reconnects;
meanwhile `/healthz` says `degraded` naming it, and `/readyz` answers 503 while a server the
deployment marks required is down."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.whole_mesh import WholeMesh, running_whole_mesh

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WholeMesh]:
    with running_whole_mesh(
        tmp_path_factory.mktemp("supervised"), AGENTMESH_REQUIRED_SERVERS="rag"
    ) as running:
        yield running


def child_pid(parent: int, command: str) -> int | None:
    """The pid of the child of `parent` whose command line contains `command`, if one runs."""
    # Each thread lists the children it started (a restart is started from a worker thread).
    # A thread or a child may end while we read: it is not the one we look for.
    children: list[str] = []
    for task in Path(f"/proc/{parent}/task").iterdir():
        children += _read(task / "children").decode().split()
    for pid in map(int, children):
        if command in _read(Path(f"/proc/{pid}/cmdline")).replace(b"\0", b" ").decode():
            return pid
    return None


def _read(path: Path) -> bytes:
    """A /proc file's bytes, or none when its process or thread has ended."""
    try:
        return path.read_bytes()
    except (FileNotFoundError, ProcessLookupError):
        return b""


def eventually(check: Callable[[], bool], what: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"not within {timeout:.0f} s: {what}")


def test_a_killed_server_is_restarted_and_health_tells_the_truth_meanwhile(mesh: WholeMesh) -> None:
    healthy = httpx.get(f"{mesh.url}/healthz").json()
    assert healthy["status"] == "ok" and healthy["failing"] == []
    assert httpx.get(f"{mesh.url}/readyz").status_code == 200

    rag = child_pid(mesh.process.pid, "serve rag")
    assert rag is not None
    os.kill(rag, signal.SIGKILL)

    # Until the restarted server is back: /healthz degraded naming rag, /readyz 503 naming it.
    degraded: list[dict[str, object]] = []
    unready: list[dict[str, object]] = []

    def seen_down() -> bool:
        health = httpx.get(f"{mesh.url}/healthz").json()
        ready = httpx.get(f"{mesh.url}/readyz")
        if health["failing"]:
            degraded.append(health)
        if ready.status_code == 503:
            unready.append(ready.json())
        return bool(degraded and unready)

    eventually(seen_down, "/healthz degraded and /readyz 503 while rag is down", 60)
    assert degraded[0] == {"status": "degraded", "servers": degraded[0]["servers"], "failing": ["rag"]}
    assert unready[0]["status"] == "unavailable" and unready[0]["checks"]["servers"] == "unavailable: rag"  # type: ignore[index]

    eventually(lambda: child_pid(mesh.process.pid, "serve rag") not in (None, rag), "a new rag process")
    eventually(lambda: httpx.get(f"{mesh.url}/healthz").json()["status"] == "ok", "/healthz back to ok")
    assert httpx.get(f"{mesh.url}/readyz").status_code == 200
    log = (mesh.data_dir / "up.log").read_text()
    assert "child_exited" in log and "child_restarted" in log

    # And it answers again: a knowledge question goes through the restarted server.
    answer = mesh.request(
        "POST", "/api/acme/chat", mesh.headers("acme", "alice"), {"message": "What is our return policy?"}
    ).json()
    assert answer["agent"] == "knowledge" and answer["outcome"] == "answered", answer
