"""Ingestion jobs are durable, on both bus engines (the embedded database queue and NATS JetStream).

A queued job survives the server that queued it and completes once; a worker that dies mid-job
leaves its message to be delivered again; the same document twice is one job and stored once; a
job that keeps failing lands in the dead letters with its reason and is reported failed; any
replica answers for a job, and only to its tenant. (A real server killed mid-job and a restarted
mesh: `tests/e2e/test_durable_jobs.py`.)
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from agentmesh.bus import BusMessage
from agentmesh.cloudevents import EventPublisher
from agentmesh.db import create_engine, session_factory
from agentmesh.embeddings import EMBEDDING_DIM
from agentmesh.job_records import JobRecords
from agentmesh.settings import Settings
from mcp_servers.rag.errors import JobNotFound
from mcp_servers.rag.index import KnowledgeIndex
from mcp_servers.rag.jobs import IngestJob, IngestJobs, JobRunner
from mcp_servers.rag.knowledge_base import DocumentInput, KnowledgeBase
from tests.support.bus import ENGINES, BusPlace, bus_place, drain

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def knowledge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KnowledgeBase]:
    index = KnowledgeIndex.open(path=tmp_path_factory.mktemp("kb"), url=None, dimension=EMBEDDING_DIM)
    kb = KnowledgeBase(index)
    yield kb
    kb.close()


@pytest.fixture(params=ENGINES)
async def place(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[BusPlace]:
    async with bus_place(request.param, tmp_path) as opened:
        yield opened


@pytest.fixture
def job_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"bus_max_attempts": 3, "bus_retry_base_seconds": 0.05, "bus_ack_wait_seconds": 2.0}
    )


@contextlib.asynccontextmanager
async def replica(place: BusPlace, settings: Settings, run: JobRunner) -> AsyncIterator[IngestJobs]:
    """One RAG server's jobs over the shared database and bus (not working until `working`)."""
    database = create_engine(place.database_url)
    async with place.open(ack_wait_seconds=settings.bus_ack_wait_seconds) as bus:
        try:
            yield IngestJobs(
                JobRecords(session_factory(database)), bus, EventPublisher(bus, "/test"), run, settings
            )
        finally:
            await database.dispose()


@contextlib.asynccontextmanager
async def working(jobs: IngestJobs) -> AsyncIterator[None]:
    async with anyio.create_task_group() as group:
        group.start_soon(jobs.work)
        try:
            yield
        finally:
            group.cancel_scope.cancel()


async def finished(jobs: IngestJobs, tenant_id: str, job_id: str, timeout: float = 120) -> list[IngestJob]:
    """Every status read until the job ended."""
    seen: list[IngestJob] = []
    with anyio.fail_after(timeout):
        while not seen or seen[-1].state not in ("succeeded", "failed"):
            await anyio.sleep(0.05)
            seen.append(await jobs.status(tenant_id, job_id))
    return seen


async def events(place: BusPlace, tenant_id: str) -> list[BusMessage]:
    async with place.open() as bus:
        return await drain(bus, f"test-{tenant_id}", tenant_id)


def doc(body: str, **fields: Any) -> DocumentInput:
    return DocumentInput(data=body.encode(), source_type="markdown", **fields)


MANUAL = "\n\n".join(f"## Part {n}\n\nPart {n} explains step {n} of the assembly." for n in range(40))


async def test_a_queued_job_survives_its_server_and_completes_once(
    place: BusPlace, job_settings: Settings, knowledge: KnowledgeBase
) -> None:
    # Queued by a server that stops before any worker took it...
    async with replica(place, job_settings, knowledge.ingest) as first:
        job = await first.submit("t-restart", doc(MANUAL, title="Assembly", document_id="assembly"))
        assert job.state == "queued"
    # ...run by the next one to start.
    async with replica(place, job_settings, knowledge.ingest) as second, working(second):
        seen = await finished(second, "t-restart", job.job_id)
    final = seen[-1]
    assert final.state == "succeeded" and final.attempts == 1, final
    assert final.result is not None and final.result.document.chunk_count == 40
    assert [s.progress for s in seen] == sorted(s.progress for s in seen)
    assert [d.document_id for d in knowledge.documents("t-restart")] == ["assembly"]
    told = await events(place, "t-restart")
    assert [(e.type, e.body["data"]["document_id"]) for e in told] == [("ingestion.finished", "assembly")]
    assert told[0].body["specversion"] == "1.0" and told[0].body["type"] == "dev.agentmesh.ingestion.finished"


async def test_a_job_whose_worker_died_is_delivered_again_and_completes(
    place: BusPlace, job_settings: Settings, knowledge: KnowledgeBase
) -> None:
    async with replica(place, job_settings, knowledge.ingest) as jobs:
        job = await jobs.submit(
            "t-died", doc("# Died\n\nThe worker died while embedding this.", document_id="died")
        )
        # A worker takes the job and dies without a word (no ack, no retry).
        async with place.open(ack_wait_seconds=job_settings.bus_ack_wait_seconds) as bus:
            consumer = await bus.consumer("rag-ingest", "jobs")
            taken = await consumer.next(5)
            assert taken is not None and taken.message.body["job_id"] == job.job_id
            assert await JobRecords(session_factory(create_engine(place.database_url))).start(
                "t-died", job.job_id, 1
            )
        assert (await jobs.status("t-died", job.job_id)).state == "running"
        async with working(jobs):
            final = (await finished(jobs, "t-died", job.job_id))[-1]
    assert final.state == "succeeded" and final.attempts == 2
    assert [d.document_id for d in knowledge.documents("t-died")] == ["died"]


async def test_the_same_document_twice_is_one_job_and_stored_once(
    place: BusPlace, job_settings: Settings, knowledge: KnowledgeBase
) -> None:
    calls: list[str] = []

    def counted(tenant_id: str, upload: DocumentInput, progress: Any) -> Any:
        calls.append(tenant_id)
        return knowledge.ingest(tenant_id, upload, progress)

    twice = doc("# Twice\n\nSent twice by an impatient admin.", title="Twice")
    async with replica(place, job_settings, counted) as jobs:
        one, two = await jobs.submit("t-twice", twice), await jobs.submit("t-twice", twice)
        assert one.job_id == two.job_id
        async with working(jobs):
            assert (await finished(jobs, "t-twice", one.job_id))[-1].state == "succeeded"
            await anyio.sleep(1)  # a second message would have run by now
            assert calls == ["t-twice"]
            # Sent again after it was stored: runs again and stores nothing new.
            again = await jobs.submit("t-twice", twice)
            final = (await finished(jobs, "t-twice", again.job_id))[-1]
    assert final.result is not None and final.result.status == "unchanged"
    assert len(knowledge.documents("t-twice")) == 1


async def test_a_poisoned_job_reaches_the_dead_letters_and_is_reported_failed(
    place: BusPlace, job_settings: Settings
) -> None:
    def poisoned(tenant_id: str, upload: DocumentInput, progress: Any) -> Any:
        raise RuntimeError("the embedding model crashed on this document")

    async with replica(place, job_settings, poisoned) as jobs:
        job = await jobs.submit("t-poison", doc("# Poison\n\nThis one always fails."))
        async with working(jobs):
            final = (await finished(jobs, "t-poison", job.job_id))[-1]
    assert final.state == "failed" and final.attempts == 3
    assert (
        final.error == "ingestion failed on the server; nothing was stored"
        and final.error_code == "internal_error"
    )
    async with place.open() as bus:
        letters = await bus.dead_letters("t-poison")
        assert await bus.dead_letters("t-other") == []
    assert [(letter.body["job_id"], letter.attempts) for letter in letters] == [(job.job_id, 3)]
    assert letters[0].reason.startswith("failed 3 times; last: ")
    told = await events(place, "t-poison")
    assert [e.type for e in told] == ["ingestion.failed"]
    assert told[0].body["data"]["error_code"] == "internal_error"


async def test_a_broken_document_fails_at_once_with_its_reason(
    place: BusPlace, job_settings: Settings, knowledge: KnowledgeBase
) -> None:
    async with replica(place, job_settings, knowledge.ingest) as jobs:
        job = await jobs.submit("t-broken", DocumentInput(data=b"%PDF-1.4 broken", source_type="pdf"))
        async with working(jobs):
            final = (await finished(jobs, "t-broken", job.job_id))[-1]
    assert final.state == "failed" and final.attempts == 1
    assert final.error is not None and "the PDF could not be read" in final.error
    async with place.open() as bus:
        assert [letter.attempts for letter in await bus.dead_letters("t-broken")] == [1]


async def test_any_replica_answers_for_a_job_and_only_to_its_tenant(
    place: BusPlace, job_settings: Settings, knowledge: KnowledgeBase
) -> None:
    async with (
        replica(place, job_settings, knowledge.ingest) as one,
        replica(place, job_settings, knowledge.ingest) as two,
    ):
        job = await one.submit(
            "t-replicas", doc(MANUAL.replace("assembly", "inspection"), document_id="inspection")
        )
        assert await two.status("t-replicas", job.job_id) == await one.status("t-replicas", job.job_id)
        async with working(one):
            seen_by_two = await finished(two, "t-replicas", job.job_id)
        assert seen_by_two[-1].state == "succeeded"
        assert await one.status("t-replicas", job.job_id) == seen_by_two[-1]
        with pytest.raises(JobNotFound):
            await two.status("t-someone-else", job.job_id)


async def test_purging_a_tenant_drops_its_queue_and_waits_for_its_running_job(
    place: BusPlace, job_settings: Settings, knowledge: KnowledgeBase
) -> None:
    started, release = threading.Event(), threading.Event()

    def slow(tenant_id: str, upload: DocumentInput, progress: Any) -> Any:
        started.set()
        release.wait(30)
        return knowledge.ingest(tenant_id, upload, progress)

    async with replica(place, job_settings, slow) as jobs:
        running = await jobs.submit(
            "t-purge", doc("# Running\n\nThe running job's text.", document_id="running")
        )
        async with working(jobs):
            await anyio.to_thread.run_sync(started.wait, 30)
            queued = await jobs.submit(
                "t-purge", doc("# Queued\n\nThe queued job's text.", document_id="queued")
            )
            threading.Timer(0.5, release.set).start()
            order: list[str] = []

            async def delete_documents() -> Any:
                order.append("purged")
                return knowledge.delete_tenant("t-purge")

            removed = await jobs.purge("t-purge", delete_documents)
            await anyio.sleep(1)
        assert order == ["purged"] and removed.documents == 1  # the running job's, written first
        assert knowledge.documents("t-purge") == []  # and the queued one never ran
        for job in (running, queued):
            with pytest.raises(JobNotFound):
                await jobs.status("t-purge", job.job_id)
