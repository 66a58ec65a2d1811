"""Fixtures for the host's tests: a real probe MCP server, a real database, and hosts wired to them."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import anyio
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from agentmesh.cloudevents import EventPublisher
from agentmesh.db import create_engine, session_factory, upgrade_database
from agentmesh.keys import mesh_key
from agentmesh.outbound import OutboundGuard
from agentmesh.secrets import secret_box
from agentmesh.settings import Settings, load_settings
from host.agent_host import AgentHost
from host.agent_setup import HostOptions, HostTools
from host.agents import AgentConfig
from host.audit_trail import AuditTrail, NoAuditTrail
from host.authorizer import Authorizer
from host.budgets import Budget
from host.caller import Caller
from host.catalog import ToolCatalog
from host.circuit import CircuitBreakers
from host.composition import HostStores
from host.config_sync import HostConfig
from host.episodes import EpisodeStore
from host.executor import ToolExecutor
from host.loop import LoopLimits
from host.mcp_pool import McpPool
from host.models.registry import ModelRegistry
from host.supervisor import SuggestedQuestions
from host.tokens import MeshTokenIssuer
from policies.loader import PolicySet
from policies.model import TenantPolicy
from tests.host.probe_server import ProbeState, ProbeThread, serve_probe

ACME = Caller(tenant_id="acme", subject="alice", session_id="s-acme")
GLOBEX = Caller(tenant_id="globex", subject="gary", session_id="s-globex")

PROBE_AGENT = AgentConfig(
    name="accounts",
    description="Customer balances: how much a customer owes, looked up by MST tax code.",
    examples=[
        "What does customer 0123456789 owe?",
        "Balance of MST 0312345678",
        "How much is customer 0101234567 owing?",
    ],
    keywords=["balance", "owe", "owes", "mst", "customer"],
    tools=["probe:lookup_customer"],
    model="local",
)
VISITS_AGENT = AgentConfig(
    name="visits",
    description="Records visits to places under a label.",
    examples=["Record a visit to the warehouse", "Log a visit labelled north"],
    keywords=["visit", "record", "label"],
    tools=["probe:record_visit"],
    model="local",
)


def policies(*tenants: TenantPolicy, base: dict[str, Any] | None = None) -> PolicySet:
    """A policy set: a base document (by default the local planner and nothing else) and the tenants'."""
    base_document = {"tenant": "*", "models": {"allow": ["local"]}, **(base or {})}
    return PolicySet([TenantPolicy.model_validate(base_document), *tenants])


def tenant_policy(tenant: str, *, agents: list[str], allow: list[str], **extra: Any) -> TenantPolicy:
    return TenantPolicy.model_validate(
        {"tenant": tenant, "agents": agents, "tools": {"allow": allow}, **extra}
    )


@pytest.fixture(scope="module")
def shared_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings on a data directory shared by a module's tests (and its probe server)."""
    return load_settings(
        AGENTMESH_DATA_DIR=tmp_path_factory.mktemp("host"), DATABASE_URL=None, REDIS_URL=None, QDRANT_URL=None
    )


@pytest.fixture(scope="module")
def probe_thread(shared_settings: Settings) -> Iterator[ProbeThread]:
    with ProbeThread(shared_settings) as probe:
        yield probe


@pytest.fixture
def probe(probe_thread: ProbeThread) -> ProbeThread:
    """The module's probe server, reset for this test."""
    probe_thread.reset()
    return probe_thread


@contextlib.asynccontextmanager
async def probe_server(settings: Settings, **state: Any) -> AsyncIterator[ProbeHandle]:
    """The probe MCP server on loopback in this event loop (a fixture cannot hold its task group)."""
    probe_state = ProbeState(**state)
    async with serve_probe(settings, probe_state) as (url, bus):
        yield ProbeHandle(url=url, state=probe_state, bus=bus)


@dataclass
class ProbeHandle:
    url: str
    state: ProbeState
    bus: Any


@pytest.fixture
async def database(settings: Settings) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """The platform database (SQLite in the test's data dir), migrated to head."""
    engine = create_engine(settings.resolved_database_url)
    await upgrade_database(engine)
    yield session_factory(engine)
    await engine.dispose()


def engine_of(sessions: async_sessionmaker[AsyncSession]) -> AsyncEngine:
    return sessions.kw["bind"]


@dataclass
class HostParts:
    """What `make_host` wires, for tests that look inside."""

    pool: McpPool
    catalog: ToolCatalog
    executor: ToolExecutor
    issuer: MeshTokenIssuer


def make_host(
    settings: Settings,
    servers: dict[str, str],
    *,
    agents: list[AgentConfig],
    policy_set: PolicySet,
    sessions: async_sessionmaker[AsyncSession] | None = None,
    limits: LoopLimits | None = None,
    models: ModelRegistry | None = None,
    episodes: EpisodeStore | None = None,
    breakers: CircuitBreakers | None = None,
    call_timeout_seconds: float = 10.0,
    llm_tool_limit: int = 5,
    budget: Budget | None = None,
    events: EventPublisher | None = None,
    questions: SuggestedQuestions | None = None,
) -> tuple[AgentHost, HostParts]:
    """An `AgentHost` over `servers` with explicit agents and policies (and the database, if given).

    Like `host.composition.build_agent_host`, with test-sized parts: small result caps, fast
    retries, the breakers and models a test chooses.
    """
    issuer = MeshTokenIssuer(mesh_key(settings.keys_dir), issuer=settings.mesh_issuer)
    outbound = OutboundGuard.from_settings(settings)
    stores = (
        HostStores.open(sessions, secret_box(settings), outbound=outbound, events=events)
        if sessions is not None
        else None
    )
    pool = McpPool(servers, listing_token=issuer.for_listing, outbound=outbound)
    catalog = ToolCatalog(pool, pins=stores.pins if stores is not None else None)

    async def changed(server: str) -> None:
        catalog.invalidate(server)

    pool.on_tools_changed = changed
    executor = ToolExecutor(
        pool, issuer, breakers=breakers, max_result_chars=2_000, retry_backoff_seconds=0.05, events=events
    )
    models = models or ModelRegistry(llm_configs=stores.llm if stores is not None else None)
    host = AgentHost(
        config=HostConfig(
            agents,
            catalog=catalog,
            versions=stores.versions if stores is not None else None,
            agent_store=stores.agents if stores is not None else None,
        ),
        tools=HostTools(
            pool=pool,
            catalog=catalog,
            runner=executor,
            breakers=executor.breakers,
            ranker=models.local.ranker,
        ),
        authorizer=Authorizer(
            policy_set, AuditTrail(stores.audit_log) if stores is not None else NoAuditTrail()
        ),
        models=models,
        approvals=stores.approvals if stores is not None else None,
        episodes=episodes,
        budget=budget,
        options=HostOptions(
            limits=limits, call_timeout_seconds=call_timeout_seconds, llm_tool_limit=llm_tool_limit
        ),
        questions=questions,
    )
    return host, HostParts(pool=pool, catalog=catalog, executor=executor, issuer=issuer)


@contextlib.asynccontextmanager
async def running(host: AgentHost, *, ready_timeout: float = 10.0) -> AsyncIterator[AgentHost]:
    """Start `host` (pool connected, catalog listed), yield it, and close it cleanly."""
    async with anyio.create_task_group() as task_group:
        await host.start(task_group)
        await host.pool.wait_ready(ready_timeout)
        await host.catalog.refresh_all()
        try:
            yield host
        finally:
            await host.aclose()


async def collect(events: AsyncIterator[Any]) -> list[Any]:
    return [event async for event in events]


def of_type(events: list[Any], kind: str) -> list[Any]:
    return [event for event in events if event.type == kind]


Factory = Callable[..., tuple[AgentHost, HostParts]]
