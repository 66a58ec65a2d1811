"""Ingestion jobs: large documents are ingested in the background, their progress polled by id.

A job belongs to the tenant that submitted it; asking for another tenant's job id gets the same
"no such job" answer as an id that never existed, so ids reveal nothing. Jobs run one at a time
(the embedding model already uses every core) and are kept in memory for an hour after they end.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Literal, TypeVar

import structlog
from pydantic import BaseModel, Field

from agentmesh.errors import AgentmeshError, ErrorCode
from mcp_servers.rag.errors import JobNotFound
from mcp_servers.rag.knowledge_base import DocumentInput, IngestReport, Progress

log = structlog.get_logger(__name__)

JobRunner = Callable[[str, DocumentInput, Progress], IngestReport]
T = TypeVar("T")
RETENTION_SECONDS = 3600.0


class IngestJob(BaseModel):
    """Where one ingestion job stands."""

    job_id: str
    state: Literal["queued", "running", "succeeded", "failed"]
    phase: str = Field(description="queued, parsing, embedding, writing or done")
    done: int = Field(description="units of the current phase finished (chunks while embedding)")
    total: int = Field(description="units of the current phase in all")
    progress: float = Field(description="overall progress from 0 to 1")
    result: IngestReport | None = None
    error: str | None = Field(default=None, description="why a failed job failed, in words")
    error_code: ErrorCode | None = Field(default=None, description="the failure's stable code")
    created_at: float
    finished_at: float | None = None


# How much of the whole job each phase stands for: embedding is by far the longest.
_PHASE_SPAN = {"queued": (0.0, 0.0), "parsing": (0.0, 0.05), "embedding": (0.05, 0.9), "writing": (0.9, 0.99)}


class IngestJobs:
    """Runs ingestion jobs in a background thread and answers for their progress."""

    def __init__(self, run: JobRunner) -> None:
        self._run = run
        self._jobs: dict[tuple[str, str], IngestJob] = {}
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rag-ingest")

    def submit(self, tenant_id: str, upload: DocumentInput) -> IngestJob:
        """Queue `upload` for the tenant; returns the queued job."""
        job = IngestJob(
            job_id=uuid.uuid4().hex,
            state="queued",
            phase="queued",
            done=0,
            total=1,
            progress=0.0,
            created_at=time.time(),
        )
        with self._lock:
            self._forget_old()
            self._jobs[(tenant_id, job.job_id)] = job
        self._executor.submit(self._execute, tenant_id, job.job_id, upload)
        return job

    def status(self, tenant_id: str, job_id: str) -> IngestJob:
        """The tenant's job `job_id`."""
        with self._lock:
            job = self._jobs.get((tenant_id, job_id))
            if job is None:
                raise JobNotFound(f"no ingestion job '{job_id}' for this tenant (jobs are kept for an hour)")
            return job.model_copy()

    def purge(self, tenant_id: str, then: Callable[[], T]) -> T:
        """Forget the tenant's jobs (a queued one never runs), then run `then` on the job thread,
        after the job running now, so nothing a job of the tenant writes outlives `then`.
        Blocking: call it from a worker thread."""
        with self._lock:
            for key in [key for key in self._jobs if key[0] == tenant_id]:
                del self._jobs[key]
        return self._executor.submit(then).result()

    def shutdown(self) -> None:
        """Stop taking jobs and wait for the running one."""
        self._executor.shutdown(wait=True, cancel_futures=True)

    def _execute(self, tenant_id: str, job_id: str, upload: DocumentInput) -> None:
        with self._lock:
            if (tenant_id, job_id) not in self._jobs:
                return  # purged with its tenant while queued

        def progress(phase: str, done: int, total: int) -> None:
            start, end = _PHASE_SPAN.get(phase, (1.0, 1.0))
            fraction = start + (end - start) * (done / total if total else 1.0)
            self._update(
                tenant_id, job_id, state="running", phase=phase, done=done, total=total, progress=fraction
            )

        progress("parsing", 0, 1)
        try:
            report = self._run(tenant_id, upload, progress)
        except AgentmeshError as exc:
            self._finish(tenant_id, job_id, error=exc)
        except Exception:
            # The job thread is the last place this error can be seen: log it whole, tell the
            # caller only that it failed (no internals leave the server).
            log.exception("ingest_job_failed", tenant_id=tenant_id, job_id=job_id)
            failure = AgentmeshError(
                "ingestion failed on the server; nothing was stored", code="internal_error"
            )
            self._finish(tenant_id, job_id, error=failure)
        else:
            self._finish(tenant_id, job_id, result=report)

    def _finish(
        self,
        tenant_id: str,
        job_id: str,
        *,
        result: IngestReport | None = None,
        error: AgentmeshError | None = None,
    ) -> None:
        if result is not None:
            self._update(tenant_id, job_id, state="succeeded", phase="done", progress=1.0, result=result)
        elif error is not None:
            self._update(tenant_id, job_id, state="failed", error=error.message, error_code=error.code)
        self._update(tenant_id, job_id, finished_at=time.time())

    def _update(self, tenant_id: str, job_id: str, **changes: object) -> None:
        with self._lock:
            job = self._jobs.get((tenant_id, job_id))
            if job is not None:  # None: purged with its tenant while it ran
                self._jobs[(tenant_id, job_id)] = job.model_copy(update=changes)

    def _forget_old(self) -> None:
        cutoff = time.time() - RETENTION_SECONDS
        for key, job in list(self._jobs.items()):
            if job.finished_at is not None and job.finished_at < cutoff:
                del self._jobs[key]
