"""Wiring a host: every collaborator built once, here, from settings and the platform database.

`HostStores` are the host's stores over the platform database; the gateway builds them once and
shares them with its admin API, so no store exists twice in a process. `build_agent_host` wires
the connection pool, the catalog (with pins), the executor with its circuit breakers, the model
registry, policies, approvals, the audit trail and the episode store. Without a database the host
runs on the agents and policy files it is given, with nothing persisted (no approvals, no audit).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agentmesh.cloudevents import EventPublisher
from agentmesh.keys import mesh_key
from agentmesh.outbound import OutboundGuard
from agentmesh.secrets import SecretBox
from agentmesh.settings import Settings
from host.agent_host import AgentHost
from host.agent_setup import HostOptions, HostTools
from host.agent_store import AgentStore
from host.agents import AgentConfig, load_agents_file
from host.approvals import ApprovalStore
from host.audit_trail import AuditTrail, NoAuditTrail
from host.authorizer import Authorizer
from host.budgets import Budget
from host.catalog import ToolCatalog
from host.circuit import CircuitBreakers
from host.config_sync import HostConfig
from host.config_versions import ConfigVersions
from host.episodes import EpisodeStore, NoEpisodes
from host.executor import ToolExecutor
from host.llm_config import LlmConfigStore
from host.mcp_pool import McpPool
from host.models.registry import ModelRegistry
from host.pins import ToolPins
from host.supervisor import SuggestedQuestions
from host.tokens import MeshTokenIssuer
from policies.audit import AuditLog
from policies.loader import PolicySet
from policies.overrides import PolicyOverrideStore


@dataclass(frozen=True)
class HostStores:
    """The host's stores over the platform database, each one scoped by the tenant passed to it."""

    sessions: async_sessionmaker[AsyncSession]
    audit_log: AuditLog
    agents: AgentStore
    versions: ConfigVersions
    approvals: ApprovalStore
    pins: ToolPins
    llm: LlmConfigStore
    policy_overrides: PolicyOverrideStore

    @classmethod
    def open(
        cls,
        sessions: async_sessionmaker[AsyncSession],
        secrets: SecretBox,
        *,
        outbound: OutboundGuard,
        events: EventPublisher | None = None,
    ) -> HostStores:
        """The stores; `outbound` checks the URLs they save (tenants' LLM base URLs); `events`
        publishes what tenants are told about (approvals requested and decided)."""
        audit_log = AuditLog(sessions)
        return cls(
            sessions=sessions,
            audit_log=audit_log,
            agents=AgentStore(sessions),
            versions=ConfigVersions(sessions),
            approvals=ApprovalStore(sessions, events),
            pins=ToolPins(sessions, audit_log),
            llm=LlmConfigStore(sessions, secrets, outbound=outbound),
            policy_overrides=PolicyOverrideStore(sessions),
        )


def build_agent_host(
    settings: Settings,
    servers: Mapping[str, str],
    *,
    stores: HostStores | None = None,
    policies: PolicySet | None = None,
    agents: list[AgentConfig] | None = None,
    models: ModelRegistry | None = None,
    budget: Budget | None = None,
    options: HostOptions | None = None,
    outbound: OutboundGuard | None = None,
    events: EventPublisher | None = None,
    questions: SuggestedQuestions | None = None,
) -> AgentHost:
    """An `AgentHost` over `servers` (name -> MCP URL).

    With `stores` (the platform database) agents, tenant LLM settings, tool pins, approvals,
    policy overrides and the audit log live there, `agents` (default: the demo agents) seeding an
    empty agent store; without it the host runs on those agents and the policy files alone.
    `outbound` (default: the platform's, from settings) guards every connection the host opens for
    tenants: their LLM providers and the MCP servers registered through the admin API. `events`
    publishes a server's circuit opening to the tenant whose call opened it. `questions` gives each
    tenant's own questions per agent, quoted where the user is told what the assistants do.
    """
    if outbound is None:
        outbound = OutboundGuard.from_settings(settings)
    issuer = MeshTokenIssuer(
        mesh_key(settings.keys_dir), issuer=settings.mesh_issuer, ttl_seconds=settings.mesh_token_ttl_seconds
    )
    pool = McpPool(servers, listing_token=issuer.for_listing, outbound=outbound)
    catalog = ToolCatalog(
        pool, ttl_seconds=settings.host_catalog_ttl_seconds, pins=stores.pins if stores is not None else None
    )

    async def tools_changed(server: str) -> None:
        catalog.invalidate(server)

    pool.on_tools_changed = tools_changed
    breakers = CircuitBreakers(
        failure_threshold=settings.host_breaker_failures, reset_seconds=settings.host_breaker_reset_seconds
    )
    runner = ToolExecutor(
        pool, issuer, breakers=breakers, max_result_chars=settings.host_max_result_chars, events=events
    )
    if models is None:
        models = ModelRegistry.from_settings(
            settings, llm_configs=stores.llm if stores is not None else None, outbound=outbound
        )
    if policies is None:
        overrides = stores.policy_overrides if stores is not None else None
        policies = PolicySet.from_directory(overrides=overrides)
    audit: AuditTrail = AuditTrail(stores.audit_log) if stores is not None else NoAuditTrail()
    config = HostConfig(
        agents if agents is not None else load_agents_file(),
        catalog=catalog,
        versions=stores.versions if stores is not None else None,
        agent_store=stores.agents if stores is not None else None,
    )
    return AgentHost(
        config=config,
        tools=HostTools(
            pool=pool,
            catalog=catalog,
            runner=runner,
            breakers=breakers,
            ranker=models.local.ranker,
            issuer=issuer,
        ),
        authorizer=Authorizer(policies, audit),
        models=models,
        approvals=stores.approvals if stores is not None else None,
        episodes=EpisodeStore(settings.resolved_data_dir / "episodes")
        if settings.host_record_episodes
        else NoEpisodes(),
        budget=budget,
        options=options
        or HostOptions(
            llm_tool_limit=settings.host_llm_tool_limit,
            call_timeout_seconds=settings.host_call_timeout_seconds,
            refresh_policies=stores is not None,
        ),
        questions=questions,
    )
