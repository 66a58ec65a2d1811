"""A command's port is bound before it loads and held while it runs; `agentmesh up` passes each
child its socket, so a restarted child serves on the same one and a request made meanwhile waits
for it instead of being refused."""

from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path

import anyio
import httpx
import pytest

from agentmesh.children import ChildProcesses
from agentmesh.listeners import inherited, listen_on, port_of
from agentmesh.startup import StartupError


def test_a_bound_port_cannot_be_taken_by_another_listener() -> None:
    with listen_on("127.0.0.1", 0) as held:
        port = port_of(held)
        with pytest.raises(StartupError) as refused:
            listen_on("127.0.0.1", port)
    assert refused.value.code == "port_in_use"
    assert refused.value.message.startswith(f"port {port} on 127.0.0.1 is already in use (try --port ")


def test_an_address_this_machine_does_not_have_is_named() -> None:
    with pytest.raises(StartupError) as refused:
        listen_on("192.0.2.1", 0)  # TEST-NET-1: never a local address
    assert refused.value.code == "address_unavailable"
    assert refused.value.message.startswith("cannot listen on 192.0.2.1:0: ")


def test_an_inherited_descriptor_must_be_a_listening_socket() -> None:
    read_end, write_end = os.pipe()
    try:
        with pytest.raises(StartupError, match=f"file descriptor {read_end} is not an open socket"):
            inherited(read_end)
    finally:
        os.close(read_end)
        os.close(write_end)
    with socket.socket() as bound_only:
        bound_only.bind(("127.0.0.1", 0))
        with pytest.raises(StartupError, match="is not a listening TCP socket"):
            inherited(bound_only.fileno())
        assert bound_only.fileno() != -1, "the refused descriptor stays open for its owner"


@pytest.mark.slow
async def test_a_killed_child_is_restarted_on_its_socket_and_a_request_made_meanwhile_is_answered(
    tmp_path: Path,
) -> None:
    children = ChildProcesses(tmp_path, {"AGENTMESH_LOG_LEVEL": "WARNING"})
    try:
        erp = children.start("demo-erp", ["demo-erp"])
        await anyio.to_thread.run_sync(children.wait_healthy, erp)
        assert erp.process is not None
        first = erp.process.pid
        async with anyio.create_task_group() as tg:
            tg.start_soon(children.supervise)
            os.kill(first, signal.SIGKILL)
            erp.process.wait()
            # Nobody serves the port now; the connection waits in the socket's queue.
            started = time.monotonic()
            async with httpx.AsyncClient(timeout=120) as client:
                answer = await client.get(f"{erp.base_url}/healthz")
            tg.cancel_scope.cancel()
        assert answer.status_code == 200
        assert erp.process.pid != first and erp.restarts == 1
        assert time.monotonic() - started >= 0.5, "answered by the restarted child, after the backoff"
    finally:
        children.stop_all()
    assert erp.listener.fileno() == -1, "stopping the children closes their sockets"
