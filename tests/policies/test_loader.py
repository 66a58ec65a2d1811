"""The policies in force: files, overrides laid over them, refreshed without a restart."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from policies.limits import Limits
from policies.loader import (
    PolicyFileError,
    PolicySet,
    load_policy_directory,
    load_policy_file,
    merge_override,
)
from policies.model import GlobRules, NetworkRules, Principal, TenantPolicy, ToolRules
from policies.overrides import PolicyOverrideStore

READS = {"read_only": True}
"""The context of a call to a tool annotated read-only."""

ALICE = Principal(tenant_id="acme", subject="alice")
BOB = Principal(tenant_id="globex", subject="bob")


def test_a_broken_file_is_named_with_the_field_at_fault(tmp_path: Path) -> None:
    path = tmp_path / "acme.yaml"
    path.write_text("tenant: acme\ntools:\n  allow: erp:*\n  grant: [x]\n")
    with pytest.raises(PolicyFileError, match=r"acme\.yaml is invalid: .*tools\.grant: Extra inputs"):
        load_policy_file(path)
    path.write_text("tenant: [acme\n")
    with pytest.raises(PolicyFileError, match=r"acme\.yaml cannot be read"):
        load_policy_file(path)


def test_two_files_for_one_tenant_are_refused(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("tenant: acme\n")
    (tmp_path / "b.yaml").write_text("tenant: acme\n")
    with pytest.raises(PolicyFileError, match="are both for tenant 'acme'"):
        load_policy_directory(tmp_path)


def test_the_demo_files_load() -> None:
    tenants = {document.tenant for document in load_policy_directory()}
    assert tenants == {"*", "acme", "globex"}


def test_an_override_replaces_only_the_sections_it_sets() -> None:
    file = TenantPolicy(
        tenant="acme",
        agents=GlobRules(allow=("debt",)),
        tools=ToolRules(allow=("erp:*",)),
        limits=Limits(max_steps=3),
    )
    merged = merge_override(file, TenantPolicy(tenant="acme", tools=ToolRules(allow=("rag:*",))))
    assert merged.tools.allow == ("rag:*",)
    assert merged.agents.allow == ("debt",)
    assert merged.limits.max_steps == 3


def test_an_override_can_set_a_section_back_to_empty() -> None:
    file = TenantPolicy(tenant="acme", tools=ToolRules(allow=("erp:*",)))
    merged = merge_override(file, TenantPolicy(tenant="acme", tools=ToolRules()))
    assert merged.tools == ToolRules()


def test_a_tenant_with_no_policy_of_its_own_gets_the_base_alone() -> None:
    demo = PolicySet.from_directory()
    documents = demo.for_tenant("initech")
    assert [d.tenant for d in documents] == ["*"]
    assert demo.tenant_policy("initech") is None
    initech = Principal(tenant_id="initech", subject="eve")
    assert demo.decide(initech, "use_agent", "debt").effect == "deny"
    assert demo.decide(initech, "call_tool", "erp:get_customer_debt", READS).rule == "default-deny"


def test_callers_cannot_change_the_documents_in_force() -> None:
    demo = PolicySet.from_directory()
    demo.for_tenant("acme").clear()
    assert len(demo.for_tenant("acme")) == 2


def test_network_rules_join_the_base_and_the_tenant() -> None:
    policies = PolicySet(
        [
            TenantPolicy(tenant="*", network=NetworkRules(denied_hosts=("*.corp.example",))),
            TenantPolicy(tenant="acme", network=NetworkRules(allowed_hosts=("wiki.acme.internal",))),
        ]
    )
    acme = policies.network_rules("acme")
    assert acme == NetworkRules(allowed_hosts=("wiki.acme.internal",), denied_hosts=("*.corp.example",))
    assert policies.network_rules("globex") == NetworkRules(denied_hosts=("*.corp.example",))
    assert PolicySet.from_directory().network_rules("acme").allowed_hosts == ("wiki.acme.internal",)


def test_answers_are_redacted_as_each_tenants_data_rules_say() -> None:
    demo = PolicySet.from_directory()
    text_with_pii = "Contact bob@globex.vn, 0901234567, card 4111 1111 1111 1111, staff GBX-00042"
    acme = demo.response_redactor("acme")
    globex = demo.response_redactor("globex")
    assert acme is not None and globex is not None
    assert acme.redact(text_with_pii) == "Contact bob@globex.vn, 0901234567, card [CARD], staff GBX-00042"
    assert globex.redact(text_with_pii) == "Contact [EMAIL], [PHONE], card [CARD], staff [EMPLOYEE_ID]"
    assert PolicySet([TenantPolicy(tenant="acme")]).response_redactor("acme") is None


async def test_refresh_applies_overrides_only_when_the_version_moves(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    store = PolicyOverrideStore(sessions)
    policies = PolicySet.from_directory(overrides=store)
    assert await policies.refresh() is False
    assert policies.decide(BOB, "use_agent", "shipment").effect == "deny"

    await store.put("globex", TenantPolicy(tenant="globex", agents=GlobRules(allow=("debt", "shipment"))))
    assert await policies.refresh() is True
    assert policies.version == 1
    assert policies.decide(BOB, "use_agent", "shipment").allowed
    # Sections the override left alone still come from globex's file; the base still binds.
    assert policies.decide(BOB, "call_tool", "erp:create_order").rule == "globex:tools.deny[erp:create_order]"
    assert policies.limits("globex").max_steps == 6
    assert await policies.refresh() is False

    await store.delete("globex")
    assert await policies.refresh() is True
    assert policies.decide(BOB, "use_agent", "shipment").effect == "deny"


async def test_derived_views_follow_the_refresh(sessions: async_sessionmaker[AsyncSession]) -> None:
    store = PolicyOverrideStore(sessions)
    policies = PolicySet.from_directory(overrides=store)
    assert policies.limits("acme").requests_per_minute == 120
    assert policies.network_rules("acme").allowed_hosts == ("wiki.acme.internal",)
    await store.put(
        "acme",
        TenantPolicy(
            tenant="acme",
            limits=Limits(requests_per_minute=7),
            network=NetworkRules(allowed_hosts=("intranet.acme.test",)),
        ),
    )
    await policies.refresh()
    assert policies.limits("acme").requests_per_minute == 7
    assert policies.network_rules("acme").allowed_hosts == ("intranet.acme.test",)


async def test_a_tenant_created_by_override_alone_has_a_policy(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    store = PolicyOverrideStore(sessions)
    policies = PolicySet.from_directory(overrides=store)
    await store.put("initech", TenantPolicy(tenant="initech", tools=ToolRules(allow=("rag:*",))))
    await policies.refresh()
    assert "initech" in policies.tenants()
    initech = Principal(tenant_id="initech", subject="eve")
    assert policies.decide(initech, "call_tool", "rag:search", READS).allowed
    # The base's approve rule grants nothing: initech's policy allows only rag.
    assert policies.decide(initech, "call_tool", "erp:create_order").rule == "default-deny"


async def test_an_unreadable_override_fails_closed(sessions: async_sessionmaker[AsyncSession]) -> None:
    store = PolicyOverrideStore(sessions)
    policies = PolicySet.from_directory(overrides=store)
    await store.put("acme", TenantPolicy(tenant="acme", tools=ToolRules(deny=("erp:*",))))
    async with sessions() as db, db.begin():
        await db.execute(text('UPDATE policy_overrides SET document = \'{"tenant": "acme", "tools": 5}\''))
        await db.execute(text("UPDATE policy_override_versions SET version = version + 1"))
    await policies.refresh()
    # acme's file allows erp:*, but the override we cannot read might have narrowed it.
    assert policies.decide(ALICE, "call_tool", "erp:get_customer_debt", READS).rule == "default-deny"
    assert policies.decide(ALICE, "use_agent", "debt").effect == "deny"


async def test_refreshing_applies_an_admin_change_within_about_a_second(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    store = PolicyOverrideStore(sessions)
    replica = PolicySet.from_directory(overrides=PolicyOverrideStore(sessions), refresh_seconds=0.1)
    async with replica.refreshing():
        assert replica.decide(BOB, "call_tool", "rag:search", READS).allowed
        await store.put("globex", TenantPolicy(tenant="globex", tools=ToolRules(deny=("rag:*",))))
        started = time.monotonic()
        while replica.decide(BOB, "call_tool", "rag:search", READS).allowed:
            assert time.monotonic() - started < 2.0, "the change did not reach the replica"
            await asyncio.sleep(0.02)


async def test_a_database_outage_keeps_the_last_policies_until_it_recovers(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    store = PolicyOverrideStore(sessions)
    await store.put("globex", TenantPolicy(tenant="globex", tools=ToolRules(deny=("rag:*",))))
    policies = PolicySet.from_directory(overrides=store, refresh_seconds=0.05)
    async with policies.refreshing():
        assert policies.decide(BOB, "call_tool", "rag:search", READS).effect == "deny"
        async with engine.begin() as connection:
            await connection.execute(text("ALTER TABLE policy_override_versions RENAME TO unreachable"))
        await asyncio.sleep(0.2)
        assert policies.decide(BOB, "call_tool", "rag:search", READS).effect == "deny"
        async with engine.begin() as connection:
            await connection.execute(text("ALTER TABLE unreachable RENAME TO policy_override_versions"))
        await PolicyOverrideStore(sessions).put("globex", TenantPolicy(tenant="globex"))
        started = time.monotonic()
        while policies.decide(BOB, "call_tool", "rag:search", READS).rule != "globex:tools.allow[rag:search]":
            assert time.monotonic() - started < 2.0, "the policies did not recover"
            await asyncio.sleep(0.02)


async def test_without_a_store_refreshing_is_a_no_op() -> None:
    policies = PolicySet.from_directory()
    async with policies.refreshing() as same:
        assert same is policies
        assert await policies.refresh() is False
