"""The override store: one tenant at a time, explicitly; versioned and audited in one transaction."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from policies.audit import AuditLog
from policies.limits import Limits
from policies.model import GlobRules, TenantPolicy, ToolRules
from policies.overrides import InvalidOverride, PolicyOverrideStore
from policies.tables import PolicyOverrideRow

ACME_TOOLS = TenantPolicy(tenant="acme", tools=ToolRules(allow=("erp:get_*",)))
GLOBEX_LIMITS = TenantPolicy(tenant="globex", limits=Limits(requests_per_minute=5))


async def test_an_override_keeps_only_the_sections_that_were_set(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    store = PolicyOverrideStore(sessions)
    assert await store.get("acme") is None
    stored = await store.put("acme", ACME_TOOLS, changed_by="root")
    assert stored.model_fields_set == {"tenant", "tools"}
    read = await store.get("acme")
    assert read == ACME_TOOLS
    assert read is not None and read.model_fields_set == {"tenant", "tools"}


async def test_putting_again_replaces_the_previous_override(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    store = PolicyOverrideStore(sessions)
    await store.put("acme", ACME_TOOLS)
    await store.put("acme", TenantPolicy(tenant="acme", agents=GlobRules(allow=("debt",))))
    read = await store.get("acme")
    assert read is not None and read.model_fields_set == {"tenant", "agents"}


async def test_each_tenant_reads_and_writes_only_its_own_override(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    store = PolicyOverrideStore(sessions)
    await store.put("acme", ACME_TOOLS)
    await store.put("globex", GLOBEX_LIMITS)
    assert await store.get("acme") == ACME_TOOLS
    assert await store.get("globex") == GLOBEX_LIMITS
    assert await store.delete("acme") is True
    assert await store.get("acme") is None
    assert await store.get("globex") == GLOBEX_LIMITS


async def test_a_document_cannot_be_stored_under_another_tenant(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """A tenant admin of acme (authorised for 'acme') sending globex's document writes nothing."""
    store = PolicyOverrideStore(sessions)
    with pytest.raises(InvalidOverride, match="names tenant 'globex' but is being stored for tenant 'acme'"):
        await store.put("acme", GLOBEX_LIMITS, changed_by="acme-admin")
    with pytest.raises(InvalidOverride, match="names tenant 'acme' but is being stored for tenant 'globex'"):
        await store.put("globex", ACME_TOOLS, changed_by="acme-admin")
    assert await store.get("acme") is None
    assert await store.get("globex") is None
    assert await store.version() == 0
    assert await AuditLog(sessions).for_tenant("globex") == []


async def test_the_base_policy_is_not_overridden(sessions: async_sessionmaker[AsyncSession]) -> None:
    with pytest.raises(InvalidOverride, match="base policy is set in its file"):
        await PolicyOverrideStore(sessions).put("*", TenantPolicy(tenant="*"))


async def test_every_write_moves_the_version(sessions: async_sessionmaker[AsyncSession]) -> None:
    store = PolicyOverrideStore(sessions)
    assert await store.version() == 0
    await store.put("acme", ACME_TOOLS)
    await store.put("globex", GLOBEX_LIMITS)
    assert await store.version() == 2
    assert await store.delete("acme") is True
    assert await store.version() == 3
    assert await store.delete("acme") is False
    assert await store.version() == 3


async def test_concurrent_writers_each_count(sessions: async_sessionmaker[AsyncSession]) -> None:
    stores = [PolicyOverrideStore(sessions) for _ in range(4)]
    await asyncio.gather(
        *(
            store.put(tenant, TenantPolicy(tenant=tenant, limits=Limits(max_steps=index + 1)))
            for index, (store, tenant) in enumerate(
                zip(stores, ["acme", "globex", "initech", "umbrella"], strict=True)
            )
        )
    )
    assert await stores[0].version() == 4
    assert (await stores[0].snapshot()).version == 4


async def test_writes_are_audited_under_their_tenant_with_who_made_them(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    store = PolicyOverrideStore(sessions)
    await store.put("acme", ACME_TOOLS, changed_by="carol")
    await store.delete("acme", changed_by="carol")
    await store.put("globex", GLOBEX_LIMITS)
    acme = await AuditLog(sessions).for_tenant("acme")
    assert [(e.action, e.principal, e.resource) for e in acme] == [
        ("admin.policy.delete", "carol", "policy:acme"),
        ("admin.policy.put", "carol", "policy:acme"),
    ]
    assert acme[1].detail == {"sections": ["tools"], "version": 1}
    assert acme[1].arguments_hash is not None
    globex = await AuditLog(sessions).for_tenant("globex")
    assert [(e.action, e.principal) for e in globex] == [("admin.policy.put", "system")]


async def test_the_snapshot_reports_rows_that_no_longer_validate(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    store = PolicyOverrideStore(sessions)
    await store.put("acme", ACME_TOOLS)
    async with sessions() as db, db.begin():
        await db.execute(
            insert(PolicyOverrideRow).values(
                tenant_id="globex",
                document={"tenant": "globex", "tools": {"allow": "not-a-list", "grant": []}},
                version=9,
                updated_at=datetime.now(UTC),
                updated_by="someone",
            )
        )
    snapshot = await store.snapshot()
    assert snapshot.policies == {"acme": ACME_TOOLS}
    assert "grant" in snapshot.invalid["globex"]
