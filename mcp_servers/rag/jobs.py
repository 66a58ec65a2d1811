"""Ingestion jobs: large documents are ingested in the background, durably, their progress polled by id.

A submitted job is a record in the platform database (its document, state and progress:
`agentmesh.job_records`) and a message on the bus's `jobs` stream. The worker of any RAG
server replica takes the message, runs the ingestion and acknowledges it only once the
outcome is stored; a worker that dies mid-job leaves the message unacknowledged, and it is
delivered again when the lease runs out, to this server restarted or to another. A job that
keeps failing is dead-lettered with its reason after `bus_max_attempts` attempts (at once when
the document itself is at fault), its record marked failed, and `ingestion.failed` published.

The job id is derived from the document and how it is filed, so the same document submitted
twice while queued is one job, and stored once (the knowledge base writes nothing for unchanged
content). A job belongs to the tenant that submitted it; another tenant's job id gets the same
"no such job" answer as an id that never existed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from collections.abc import Awaitable, Callable
from typing import Literal, TypeVar

import anyio
import anyio.from_thread
import anyio.to_thread
import structlog
from pydantic import BaseModel, Field

from agentmesh.bus import BusMessage, MessageBus, PermanentFailure, run_consumer
from agentmesh.cloudevents import EventPublisher
from agentmesh.errors import AgentmeshError, ErrorCode
from agentmesh.job_records import JobRecord, JobRecords
from agentmesh.settings import Settings
from mcp_servers.rag.errors import JobNotFound
from mcp_servers.rag.knowledge_base import DocumentInput, IngestReport, Progress

log = structlog.get_logger(__name__)

JobRunner = Callable[[str, DocumentInput, Progress], IngestReport]
T = TypeVar("T")
KIND = "rag.ingest"
MESSAGE_TYPE = "ingest"
WORKER = "rag-ingest"
PROGRESS_EVERY_SECONDS = 0.5


class IngestJob(BaseModel):
    """Where one ingestion job stands."""

    job_id: str
    state: Literal["queued", "running", "succeeded", "failed"]
    phase: str = Field(description="queued, parsing, embedding, writing or done")
    done: int = Field(description="units of the current phase finished (chunks while embedding)")
    total: int = Field(description="units of the current phase in all")
    progress: float = Field(description="overall progress from 0 to 1")
    attempts: int = Field(default=0, description="how many times a worker has started it")
    result: IngestReport | None = None
    error: str | None = Field(
        default=None, description="why a failed job failed (or, while queued, why the last attempt did)"
    )
    error_code: ErrorCode | None = Field(default=None, description="the failure's stable code")
    created_at: float
    finished_at: float | None = None

    @classmethod
    def of(cls, record: JobRecord) -> IngestJob:
        return cls.model_validate(
            {
                **record.model_dump(include=set(cls.model_fields)),
                "result": record.result,
                "error_code": record.error_code,
            }
        )


# How much of the whole job each phase stands for: embedding is by far the longest.
_PHASE_SPAN = {"queued": (0.0, 0.0), "parsing": (0.0, 0.05), "embedding": (0.05, 0.9), "writing": (0.9, 0.99)}


def job_id_of(upload: DocumentInput) -> str:
    """The job's id: a digest of the document's bytes and of how it is filed."""
    filing = json.dumps(_spec(upload), sort_keys=True, separators=(",", ":"))
    digest = hashlib.sha256(filing.encode() + b"\0" + upload.data)
    return digest.hexdigest()[:40]


def _spec(upload: DocumentInput) -> dict[str, object]:
    return {key: value for key, value in dataclasses.asdict(upload).items() if key != "data"}


class IngestJobs:
    """Submits ingestion jobs, answers for them, and (with `work`) runs them."""

    def __init__(
        self,
        records: JobRecords,
        bus: MessageBus,
        events: EventPublisher,
        run: JobRunner,
        settings: Settings,
    ) -> None:
        self._records = records
        self._bus = bus
        self._events = events
        self._run = run
        self._settings = settings
        # Held while a job runs: a tenant's purge waits for its running job, so nothing it
        # writes outlives the purge.
        self._running = anyio.Lock()

    async def submit(self, tenant_id: str, upload: DocumentInput) -> IngestJob:
        """Queue `upload` for the tenant; returns the job (the one already queued for the same document)."""
        job_id = job_id_of(upload)
        record, needs_message = await self._records.submit(
            tenant_id, job_id, KIND, _spec(upload), upload.data
        )
        if needs_message:
            body = {"job_id": job_id, "generation": record.generation}
            try:
                await self._bus.publish(
                    "jobs", tenant_id, MESSAGE_TYPE, body, msg_id=f"{job_id}.{record.generation}"
                )
            except AgentmeshError as exc:
                await self._records.fail(
                    tenant_id, job_id, f"the job could not be queued: {exc.message}", exc.code
                )
                raise
        return IngestJob.of(record)

    async def status(self, tenant_id: str, job_id: str) -> IngestJob:
        """The tenant's job `job_id`."""
        record = await self._records.get(tenant_id, job_id)
        if record is None or record.kind != KIND:
            raise JobNotFound(f"no ingestion job '{job_id}' for this tenant")
        return IngestJob.of(record)

    async def purge(self, tenant_id: str, then: Callable[[], Awaitable[T]]) -> T:
        """Forget the tenant's jobs (a queued one never runs), then, after the job running now,
        run `then`: nothing a job of the tenant writes outlives it."""
        await self._bus.purge_tenant(tenant_id)
        await self._records.purge_tenant(tenant_id)
        async with self._running:
            return await then()

    async def work(self) -> None:
        """Run the jobs of every tenant as they come, one at a time (the embedding model already
        uses every core), until cancelled."""
        consumer = await self._bus.consumer(WORKER, "jobs")
        await run_consumer(
            consumer,
            self._handle,
            max_attempts=self._settings.bus_max_attempts,
            retry_base_seconds=self._settings.bus_retry_base_seconds,
            ack_wait_seconds=self._settings.bus_ack_wait_seconds,
            on_dead=self._given_up,
        )

    async def _handle(self, message: BusMessage) -> None:
        # The tenant is the subject's: a message cannot make the worker act for another tenant.
        tenant_id, job_id = message.tenant_id, str(message.body["job_id"])
        async with self._running:
            record = await self._records.start(tenant_id, job_id, int(message.body["generation"]))
            if record is None:
                return  # purged with its tenant, or already ended (this is a redelivery): done
            payload = await self._records.payload(tenant_id, job_id)
            if payload is None:
                return  # ended between the two reads
            upload = DocumentInput(data=payload, **record.spec)
            log.info("ingest_job_started", tenant_id=tenant_id, job_id=job_id, attempt=record.attempts)
            try:
                report = await anyio.to_thread.run_sync(
                    self._run, tenant_id, upload, self._progress_hook(tenant_id, job_id)
                )
            except AgentmeshError as exc:
                await self._records.retrying(tenant_id, job_id, exc.message, exc.code)
                if not exc.retryable:
                    raise PermanentFailure(exc.message) from exc  # the document is at fault
                raise
            except Exception as exc:
                # Logged whole here; the job's record tells the caller only that it failed.
                log.exception("ingest_job_failed", tenant_id=tenant_id, job_id=job_id)
                await self._records.retrying(
                    tenant_id, job_id, "ingestion failed on the server; nothing was stored", "internal_error"
                )
                raise exc
            await self._records.succeed(tenant_id, job_id, report.model_dump(mode="json"))
        document = report.document
        await self._events.publish(
            tenant_id,
            "ingestion.finished",
            {
                "job_id": job_id,
                "status": report.status,
                "document_id": document.document_id,
                "title": document.title,
                "chunk_count": document.chunk_count,
            },
            subject=job_id,
            event_id=f"ingestion.finished:{job_id}:{message.body['generation']}",
        )

    async def _given_up(self, message: BusMessage, reason: str) -> None:
        tenant_id, job_id = message.tenant_id, str(message.body["job_id"])
        record = await self._records.get(tenant_id, job_id)
        if record is None:
            return
        error = record.error or reason
        await self._records.fail(tenant_id, job_id, error, record.error_code or "internal_error")
        await self._events.publish(
            tenant_id,
            "ingestion.failed",
            {"job_id": job_id, "error": error, "error_code": record.error_code, "attempts": record.attempts},
            subject=job_id,
            event_id=f"ingestion.failed:{job_id}:{message.body['generation']}",
        )

    def _progress_hook(self, tenant_id: str, job_id: str) -> Progress:
        """A progress hook for the ingestion thread: stores where the job stands, at most twice a
        second (and at each new phase), so any replica can answer."""
        last_phase, last_at = "", 0.0

        def progress(phase: str, done: int, total: int) -> None:
            nonlocal last_phase, last_at
            now = time.monotonic()
            if phase == last_phase and now - last_at < PROGRESS_EVERY_SECONDS:
                return
            last_phase, last_at = phase, now
            start, end = _PHASE_SPAN.get(phase, (1.0, 1.0))
            fraction = start + (end - start) * (done / total if total else 1.0)
            anyio.from_thread.run(
                lambda: self._records.progress(
                    tenant_id, job_id, phase=phase, done=done, total=total, progress=fraction
                )
            )

        return progress
