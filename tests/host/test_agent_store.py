"""Agents live in the database: a change applies on the next turn with no restart, a tenant's own
agents stay invisible to other tenants, and the demo agents seed an empty store once."""

from __future__ import annotations

import anyio
import pytest
from pydantic import ValidationError
from sqlalchemy import event, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agentmesh.settings import Settings
from host.agent_store import AgentNotFound, AgentStore
from host.agents import AgentConfig, AgentRegistry, load_agents_file
from host.config_versions import ConfigVersions
from host.tables import ConfigVersionRow
from host.turn import TurnInput
from tests.host.conftest import (
    ACME,
    GLOBEX,
    PROBE_AGENT,
    VISITS_AGENT,
    collect,
    engine_of,
    make_host,
    of_type,
    policies,
    running,
    tenant_policy,
)
from tests.host.probe_server import ProbeThread

EVERYONE = policies(
    tenant_policy("acme", agents=["*"], allow=["probe:*"]),
    tenant_policy("globex", agents=["*"], allow=["probe:*"]),
)


async def test_a_changed_agent_applies_on_the_next_turn_without_restart(
    shared_settings: Settings, probe: ProbeThread, database: async_sessionmaker[AsyncSession]
) -> None:
    host, _ = make_host(
        shared_settings, {"probe": probe.url}, agents=[PROBE_AGENT], policy_set=EVERYONE, sessions=database
    )
    store = AgentStore(database)
    ask = TurnInput(caller=ACME, message="What does customer 0123456789 owe?", agent="accounts")
    async with running(host):
        before = await collect(host.run_turn(ask))
        assert [e.tool for e in of_type(before, "tool_call")] == ["lookup_customer"]

        await store.upsert(PROBE_AGENT.model_copy(update={"tools": ["probe:record_visit"]}))
        after = await collect(host.run_turn(ask))
        assert [e.tool for e in of_type(after, "tool_call")] == ["record_visit"]

        await store.upsert(VISITS_AGENT)
        created = await collect(
            host.run_turn(TurnInput(caller=ACME, message="Log a visit labelled east", agent="visits"))
        )
        assert created[-1].outcome == "answered"

        await store.delete("visits")
        deleted = await collect(host.run_turn(TurnInput(caller=ACME, message="Log a visit", agent="visits")))
        assert deleted[0].reason == "agent_not_enabled" and deleted[-1].outcome == "unavailable"


async def test_a_tenants_own_agent_is_never_offered_to_another_tenant(
    shared_settings: Settings, probe: ProbeThread, database: async_sessionmaker[AsyncSession]
) -> None:
    own = AgentConfig(
        name="acme-discounts",
        description="acme's discounts for its customers, by MST tax code.",
        examples=["What discount does customer 0123456789 get?"],
        keywords=["discount"],
        tools=["probe:acme_discount"],
        model="local",
        tenant_id="acme",
    )
    host, _ = make_host(
        shared_settings,
        {"probe": probe.url},
        agents=[PROBE_AGENT, own],
        policy_set=EVERYONE,
        sessions=database,
    )
    store = AgentStore(database)
    async with running(host):
        mine = await collect(
            host.run_turn(TurnInput(caller=ACME, message="What discount does customer 0123456789 get?"))
        )
        assert mine[0].agent == "acme-discounts" and mine[-1].outcome == "answered"
        assert mine[-1].answer == "0123456789: 5% for acme"

        asked = await collect(host.run_turn(TurnInput(caller=GLOBEX, message="x", agent="acme-discounts")))
        assert asked[0].reason == "agent_not_enabled"
        routed = await collect(
            host.run_turn(TurnInput(caller=GLOBEX, message="What discount does customer 0123456789 get?"))
        )
        assert all(c["agent"] != "acme-discounts" for c in routed[0].candidates)
        assert "acme-discounts" not in routed[-1].answer
        assert "acme-discounts" not in {a.name for a in host.agents_for("globex")}

    assert [a.name for a in await store.list(tenant_id="globex")] == ["accounts"]
    assert await store.get("acme-discounts", tenant_id="globex") is None
    with pytest.raises(AgentNotFound):
        await store.delete("acme-discounts", tenant_id="globex")
    assert (await store.get("acme-discounts", tenant_id="acme")) == own


async def test_a_tenants_agent_of_a_platform_name_replaces_it_for_that_tenant_only(
    database: async_sessionmaker[AsyncSession],
) -> None:
    store = AgentStore(database)
    await store.upsert(PROBE_AGENT)
    await store.upsert(
        PROBE_AGENT.model_copy(update={"description": "acme's own accounts.", "tenant_id": "acme"})
    )
    registry = AgentRegistry(await store.list())
    assert registry.get("accounts", "acme").description == "acme's own accounts."
    assert registry.get("accounts", "globex").description == PROBE_AGENT.description


async def test_the_demo_agents_seed_an_empty_store_once(database: async_sessionmaker[AsyncSession]) -> None:
    store = AgentStore(database)
    demo = load_agents_file()
    assert await store.seed(demo)
    assert {a.name for a in await store.list()} == {a.name for a in demo}
    await store.delete("search")
    assert not await store.seed(demo)  # an admin's deletion stays deleted
    assert "search" not in {a.name for a in await store.list()}


async def test_concurrent_turns_share_one_version_read(database: async_sessionmaker[AsyncSession]) -> None:
    versions = ConfigVersions(database)
    await versions.ensure()
    statements: list[str] = []
    engine = engine_of(database).sync_engine
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        results: list[dict[str, int]] = []

        async def read() -> None:
            results.append(await versions.current())

        async with anyio.create_task_group() as task_group:
            for _ in range(20):
                task_group.start_soon(read)
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert len(results) == 20 and all(r == results[0] for r in results)
    assert len([s for s in statements if "host_config_versions" in s]) < 5


def test_an_agent_config_is_validated_with_precise_errors() -> None:
    with pytest.raises(ValidationError, match="name\n  String should match pattern"):
        AgentConfig(name="Bad Name", description="x")
    with pytest.raises(ValidationError, match="model\n  String should match pattern"):
        AgentConfig(name="ok", description="x", model="gpt4")
    with pytest.raises(ValidationError, match="output_format"):
        AgentConfig(name="ok", description="x", output_format="pdf")  # type: ignore[arg-type]


async def test_versions_are_remembered_a_moment_and_a_change_made_here_is_seen_at_once(
    database: async_sessionmaker[AsyncSession],
) -> None:
    versions = ConfigVersions(database, max_age=0.5)
    await versions.ensure()
    first = await versions.current()
    await AgentStore(database).upsert(AgentConfig(name="notes", description="Takes notes.", examples=[]))
    after_local = await versions.current()  # this process's commit invalidated what was remembered
    async with database() as db, db.begin():  # another replica's change: a plain UPDATE
        await db.execute(update(ConfigVersionRow).where(ConfigVersionRow.kind == "llm").values(version=7))
    remembered = await versions.current()
    await anyio.sleep(0.6)
    after_a_moment = await versions.current()
    assert after_local["agents"] == first["agents"] + 1
    assert remembered["llm"] == first["llm"] and after_a_moment["llm"] == 7
