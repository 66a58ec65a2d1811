"""The audit log keeps a hash of arguments, not the arguments, and reads one tenant at a time."""

from __future__ import annotations

from agentmesh.db import create_engine, session_factory, upgrade_database
from agentmesh.settings import Settings
from policies.audit import AuditEvent, AuditLog, arguments_hash


async def test_events_are_read_per_tenant_newest_first(settings: Settings) -> None:
    engine = create_engine(settings.resolved_database_url)
    await upgrade_database(engine)
    log = AuditLog(session_factory(engine))
    await log.append(
        AuditEvent(tenant_id="acme", principal="alice", action="tool.call", resource="erp:a", effect="ok"),
        AuditEvent(tenant_id="globex", principal="bob", action="tool.call", resource="erp:b", effect="ok"),
        AuditEvent(
            tenant_id="acme",
            principal="alice",
            action="tool.call",
            resource="erp:c",
            effect="deny",
            rule="default-deny",
            arguments_hash=arguments_hash({"mst": "0123456789"}),
        ),
    )
    acme = await log.for_tenant("acme")
    assert [e.resource for e in acme] == ["erp:c", "erp:a"]
    assert all(e.tenant_id == "acme" for e in acme)
    assert acme[0].arguments_hash == arguments_hash({"mst": "0123456789"})
    assert "0123456789" not in acme[0].model_dump_json()
    await engine.dispose()


def test_argument_hash_is_canonical() -> None:
    assert arguments_hash({"a": 1, "b": [1, 2]}) == arguments_hash({"b": [1, 2], "a": 1})
    assert arguments_hash(None) is None


async def test_personal_data_in_details_is_masked_before_it_is_written(settings: Settings) -> None:
    engine = create_engine(settings.resolved_database_url)
    await upgrade_database(engine)
    log = AuditLog(session_factory(engine))
    await log.append(
        AuditEvent(
            tenant_id="acme",
            principal="alice",
            action="tool.call",
            resource="erp:create_order",
            effect="error",
            detail={"error": "customer alice@acme.com unreachable at 0901234567", "mst": "3428557611"},
        )
    )
    (event,) = await log.for_tenant("acme")
    assert event.detail == {"error": "customer [EMAIL] unreachable at [PHONE]", "mst": "3428557611"}
    await engine.dispose()
