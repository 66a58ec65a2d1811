"""Durable job records: a background job's input, progress and outcome in the platform database.

The bus carries only "run job X of tenant T, generation G"; the record holds everything else,
so any replica answers for a job (its state survives every process), a worker that restarts
finds the input it needs, and a redelivered message whose job already ended does nothing. A job
is keyed by what it does (the caller derives its id from the content), so submitting the same
work again while it is queued or running returns the same job instead of a second one.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agentmesh.bus import now
from agentmesh.tables import JobRow
from agentmesh.tenant_rows import TenantRows, delete_declared

JobState = Literal["queued", "running", "succeeded", "failed"]
ENDED: frozenset[str] = frozenset({"succeeded", "failed"})


class JobRecord(BaseModel):
    """Where a job stands, without its input."""

    tenant_id: str
    job_id: str
    kind: str
    state: JobState
    phase: str
    done: int
    total: int
    progress: float
    attempts: int
    generation: int
    spec: dict[str, Any]
    result: dict[str, Any] | None
    error: str | None
    error_code: str | None
    created_at: float
    updated_at: float
    finished_at: float | None

    @classmethod
    def of(cls, row: JobRow) -> JobRecord:
        return cls.model_validate(row, from_attributes=True)


class JobRecords:
    """The jobs table, always read and written within one tenant."""

    # The input bytes are not exported: they are the document the job stores, exported by its server.
    TENANT_ROWS = (TenantRows("jobs", secrets=("payload",)),)

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def delete_tenant(self, db: AsyncSession, tenant_id: str) -> dict[str, int]:
        return await delete_declared(db, self.TENANT_ROWS, tenant_id)

    async def purge_tenant(self, tenant_id: str) -> None:
        """Delete the tenant's jobs in a transaction of their own."""
        async with self._sessions() as db, db.begin():
            await self.delete_tenant(db, tenant_id)

    async def submit(
        self, tenant_id: str, job_id: str, kind: str, spec: dict[str, Any], payload: bytes
    ) -> tuple[JobRecord, bool]:
        """The job, queued; and whether it needs a message (False: it is queued or running already)."""
        moment = now()
        async with self._sessions() as db, db.begin():
            row = await db.get(JobRow, (tenant_id, job_id), with_for_update=True)
            if row is not None and row.state not in ENDED:
                return JobRecord.of(row), False
            if row is None:
                row = JobRow(tenant_id=tenant_id, job_id=job_id, kind=kind, generation=0, created_at=moment)
                db.add(row)
            # A job that ended runs again as a new generation (the work is idempotent: unchanged
            # content stores nothing), so a document deleted since can be added back.
            row.generation = (row.generation or 0) + 1
            row.state, row.phase, row.done, row.total, row.progress = "queued", "queued", 0, 1, 0.0
            row.attempts, row.spec, row.payload = 0, spec, payload
            row.result = row.error = row.error_code = row.finished_at = None
            row.updated_at = moment
            try:
                await db.flush()
            except IntegrityError:
                # Submitted at the same moment by another replica: theirs stands.
                await db.rollback()
                return await self._existing(tenant_id, job_id), False
            return JobRecord.of(row), True

    async def _existing(self, tenant_id: str, job_id: str) -> JobRecord:
        record = await self.get(tenant_id, job_id)
        assert record is not None
        return record

    async def get(self, tenant_id: str, job_id: str) -> JobRecord | None:
        async with self._sessions() as db:
            row = await db.get(JobRow, (tenant_id, job_id))
            return None if row is None else JobRecord.of(row)

    async def payload(self, tenant_id: str, job_id: str) -> bytes | None:
        async with self._sessions() as db:
            found = await db.execute(
                select(JobRow.payload).where(JobRow.tenant_id == tenant_id, JobRow.job_id == job_id)
            )
            return found.scalar_one_or_none()

    async def start(self, tenant_id: str, job_id: str, generation: int) -> JobRecord | None:
        """Mark generation `generation` running (one more attempt); None when it is gone or over."""
        async with self._sessions() as db, db.begin():
            row = await db.get(JobRow, (tenant_id, job_id), with_for_update=True)
            if row is None or row.generation != generation or row.state in ENDED:
                return None
            row.state, row.attempts, row.updated_at = "running", row.attempts + 1, now()
            return JobRecord.of(row)

    async def progress(
        self, tenant_id: str, job_id: str, *, phase: str, done: int, total: int, progress: float
    ) -> None:
        await self._update(tenant_id, job_id, phase=phase, done=done, total=total, progress=progress)

    async def succeed(self, tenant_id: str, job_id: str, result: dict[str, Any]) -> None:
        """Done: the result stored, the input dropped, an earlier attempt's failure cleared."""
        cleared = dict.fromkeys(("error", "error_code", "payload"))
        await self._update(
            tenant_id,
            job_id,
            state="succeeded",
            phase="done",
            progress=1.0,
            result=result,
            finished_at=now(),
            **cleared,
        )

    async def retrying(self, tenant_id: str, job_id: str, error: str, code: str) -> None:
        """The last attempt failed and another follows: queued again, the failure on record."""
        await self._update(tenant_id, job_id, state="queued", error=error, error_code=code)

    async def fail(self, tenant_id: str, job_id: str, error: str, code: str) -> None:
        await self._update(
            tenant_id, job_id, state="failed", error=error, error_code=code, payload=None, finished_at=now()
        )

    async def _update(self, tenant_id: str, job_id: str, **values: Any) -> None:
        async with self._sessions() as db, db.begin():
            await db.execute(
                update(JobRow)
                .where(JobRow.tenant_id == tenant_id, JobRow.job_id == job_id)
                .values(updated_at=now(), **values)
            )
