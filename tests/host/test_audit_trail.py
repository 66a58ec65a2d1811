"""The audit trail stays off the hot path (turns only queue events) yet loses nothing: batches are
written in the background, a failed write keeps its events, and closing writes what is left."""

from __future__ import annotations

import anyio
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agentmesh.db import create_engine, session_factory, upgrade_database
from agentmesh.settings import Settings
from host.audit_trail import AuditTrail
from policies.audit import AuditLog, arguments_hash
from policies.model import Decision
from tests.host.conftest import ACME, GLOBEX

ALLOW = Decision(effect="allow", rule="acme:tools.allow[erp:*]", reason="allowed")


async def test_recording_is_instant_and_the_background_writer_batches(
    database: async_sessionmaker[AsyncSession],
) -> None:
    log = AuditLog(database)
    trail = AuditTrail(log, batch_size=50, interval_seconds=0.05)
    for index in range(120):
        trail.decision(ACME, "erp:get_customer_debt", ALLOW, arguments={"mst": f"{index:010d}"})
    assert trail.pending == 120 and await log.for_tenant("acme") == []
    async with anyio.create_task_group() as task_group:
        task_group.start_soon(trail.run)
        with anyio.fail_after(5):
            while trail.pending:
                await anyio.sleep(0.02)
        await trail.aclose()
    events = await log.for_tenant("acme", limit=500)
    assert len(events) == 120 and trail.written == 120
    newest = events[0]
    assert (newest.action, newest.resource, newest.effect, newest.rule) == (
        "policy.decision",
        "erp:get_customer_debt",
        "allow",
        "acme:tools.allow[erp:*]",
    )
    assert newest.arguments_hash == arguments_hash({"mst": "0000000119"})
    assert newest.detail == {"session_id": "s-acme"}


async def test_closing_writes_everything_still_queued(database: async_sessionmaker[AsyncSession]) -> None:
    log = AuditLog(database)
    trail = AuditTrail(log, batch_size=1_000, interval_seconds=60)
    trail.tool_call(
        GLOBEX,
        "rag:search",
        {"query": "refunds"},
        is_error=True,
        error_code="timeout",
        duration_ms=3.21,
        rule="r",
    )
    await trail.aclose()
    [event] = await log.for_tenant("globex")
    assert (event.action, event.effect, event.detail) == (
        "tool.call",
        "error",
        {"duration_ms": 3.21, "error_code": "timeout", "session_id": "s-globex"},
    )
    assert await log.for_tenant("acme") == []  # each tenant reads only its own


async def test_a_failed_write_keeps_its_events_for_the_next_attempt(settings: Settings) -> None:
    engine = create_engine(settings.resolved_database_url)
    trail = AuditTrail(AuditLog(session_factory(engine)))
    trail.decision(ACME, "agent:debt", ALLOW)
    await trail.flush()  # no audit table yet: the write fails
    assert trail.pending == 1 and trail.written == 0
    await upgrade_database(engine)
    await trail.flush()
    assert trail.pending == 0 and trail.written == 1
    await engine.dispose()
