"""Ingestion jobs survive the processes that run them, on the real NATS server and on the embedded
default: a rag server killed mid-job is restarted and the job completes on redelivery, once; a job
left queued when the whole mesh stops completes after it starts again; two gateway replicas report
the same job."""

from __future__ import annotations

import base64
import os
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from agentmesh.settings import load_settings
from gateway.app import create_app
from tests.e2e.test_supervision import child_pid, eventually
from tests.gateway.loopback import serve_in_thread
from tests.support.bus import ENGINES, BusPlace, bus_place, drain
from tests.support.processes import wait_healthy
from tests.support.whole_mesh import WholeMesh, running_whole_mesh

pytestmark = pytest.mark.slow

KNOWLEDGE = "/api/admin/tenants/acme/knowledge"


@pytest.fixture(params=ENGINES)
async def place(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[BusPlace]:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    async with bus_place(request.param, data_dir) as opened:
        yield opened


def mesh_env(place: BusPlace) -> dict[str, str]:
    # Every upload above 1 KiB is a job; a dead worker's job is delivered again after 3 s.
    return {
        **place.env,
        "AGENTMESH_RAG_JOB_THRESHOLD_BYTES": "1024",
        "AGENTMESH_BUS_ACK_WAIT": "3",
        "AGENTMESH_RAG_DEMO_KB": "false",
    }


def manual(name: str, sections: int) -> bytes:
    parts = [
        f"## {name} procedure {n}\n\nStep {n} of the {name} manual: check valve {n} for leaks, record "
        f"pressure reading {n} in the log, and sign the inspection sheet for unit {n}."
        for n in range(sections)
    ]
    return (f"# {name} manual\n\n" + "\n\n".join(parts)).encode()


def upload(mesh: WholeMesh, document_id: str, body: bytes) -> str:
    sent = mesh.request(
        "POST",
        KNOWLEDGE,
        mesh.headers("acme", "ada", "tenant_admin"),
        {
            "filename": f"{document_id}.md",
            "content_base64": base64.b64encode(body).decode(),
            "document_id": document_id,
        },
    )
    assert sent.status_code == 200, sent.text
    assert sent.json()["status"] == "queued", sent.json()
    return str(sent.json()["job"]["job_id"])


def job(url: str, headers: dict[str, str], job_id: str) -> dict[str, Any]:
    answer = httpx.get(f"{url}{KNOWLEDGE}/jobs/{job_id}", headers=headers, timeout=60)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def finished(mesh: WholeMesh, job_id: str, timeout: float = 240) -> dict[str, Any]:
    """The job once it ended; while the only rag server is down (restarting) the gateway says 503."""
    headers = mesh.headers("acme", "ada", "tenant_admin")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = httpx.get(f"{mesh.url}{KNOWLEDGE}/jobs/{job_id}", headers=headers, timeout=60)
        if answer.status_code == 200 and answer.json()["state"] in ("succeeded", "failed"):
            return dict(answer.json())
        assert answer.status_code in (200, 503), answer.text
        time.sleep(0.3)
    raise AssertionError(f"job {job_id} did not finish within {timeout:.0f} s")


async def test_jobs_survive_a_killed_rag_server_and_a_restarted_mesh_and_complete_once(
    place: BusPlace, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    with running_whole_mesh(data_dir, **mesh_env(place)) as mesh:
        admin = mesh.headers("acme", "ada", "tenant_admin")
        killed_job = upload(mesh, "valves", manual("valves", 400))
        # Kill the rag server while it works on the job (the supervisor restarts it).
        eventually(lambda: job(mesh.url, admin, killed_job)["state"] == "running", "the job running", 120)
        rag = child_pid(mesh.process.pid, "serve rag")
        assert rag is not None
        os.kill(rag, signal.SIGKILL)
        after_kill = finished(mesh, killed_job)
        assert after_kill["state"] == "succeeded", after_kill
        assert after_kill["attempts"] == 2  # the killed attempt, then the redelivery
        assert after_kill["result"]["document"]["chunk_count"] == 400

        # Two gateway replicas over the same database and bus report the same job.
        replica_settings = load_settings(
            AGENTMESH_DATA_DIR=data_dir,
            DATABASE_URL=None,
            REDIS_URL=None,
            AGENTMESH_LOG_LEVEL="WARNING",
            **place.env,
        )
        with serve_in_thread(
            create_app(replica_settings, servers=mesh.server_urls), lifespan="on"
        ) as replica:
            wait_healthy(f"{replica}/healthz")
            assert job(replica, admin, killed_job) == job(mesh.url, admin, killed_job)

        queued_job = upload(mesh, "pumps", manual("pumps", 60))
    # The whole mesh stopped with the second job queued (or under way); it starts again...
    with running_whole_mesh(data_dir, **mesh_env(place)) as restarted:
        after_restart = finished(restarted, queued_job)
        assert after_restart["state"] == "succeeded", after_restart
        listed = restarted.request("GET", KNOWLEDGE, restarted.headers("acme", "ada", "tenant_admin")).json()
        assert sorted(d["document_id"] for d in listed["documents"]) == ["pumps", "valves"]
        assert (
            job(restarted.url, restarted.headers("acme", "ada", "tenant_admin"), killed_job)["attempts"] == 2
        )

    # Each job completed once: one ingestion.finished event each.
    async with place.open() as bus:
        told = [
            e.body["data"]["job_id"]
            for e in await drain(bus, "e2e-watch", "acme")
            if e.type == "ingestion.finished"
        ]
    assert sorted(told) == sorted([killed_job, queued_job])
