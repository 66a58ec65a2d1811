"""The agent host: one object that turns a caller's message into a stream of turn events."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Any

import structlog
from pydantic import BaseModel, Field

from agentmesh.keys import mesh_key
from agentmesh.settings import Settings
from host.agents import AgentConfig, AgentRegistry
from host.caller import Caller
from host.catalog import ToolCatalog, ToolSpec
from host.events import FinalEvent, RouteEvent, TurnEvent
from host.executor import ToolExecutor
from host.loop import AgentLoop, LoopLimits
from host.mcp_pool import McpPool
from host.models.base import Attachment, Message, ModelRequest
from host.models.registry import ModelRegistry
from host.supervisor import Supervisor
from host.tokens import MeshTokenIssuer
from policies.evaluator import decide
from policies.loader import PolicySet
from policies.model import Decision, Principal

log = structlog.get_logger(__name__)


class TurnInput(BaseModel):
    """One user message to answer, with the session's window and memory."""

    caller: Caller
    message: str
    history: list[Message] = Field(default_factory=list)
    memory: dict[str, Any] = Field(default_factory=dict)
    attachments: list[Attachment] = Field(default_factory=list)
    agent: str | None = Field(default=None, description="answer with this agent instead of routing")


def _principal(caller: Caller) -> Principal:
    return Principal(tenant_id=caller.tenant_id, subject=caller.subject, roles=caller.roles)


class AgentHost:
    """Routes, authorises and runs turns for every tenant over one shared MCP pool."""

    def __init__(
        self,
        *,
        registry: AgentRegistry,
        policies: PolicySet,
        pool: McpPool,
        catalog: ToolCatalog,
        executor: ToolExecutor,
        models: ModelRegistry,
        limits: LoopLimits | None = None,
    ) -> None:
        self.registry = registry
        self.policies = policies
        self.pool = pool
        self.catalog = catalog
        self.models = models
        self._executor = executor
        self._limits = limits or LoopLimits()
        self._supervisor = Supervisor(registry)

    def agents_for(self, tenant_id: str) -> list[AgentConfig]:
        """The agents the tenant's policy enables."""
        principal = Principal(tenant_id=tenant_id, subject="-")
        return [
            agent
            for agent in self.registry.all()
            if decide(
                principal, "use_agent", agent.name, None, policies=self.policies.for_tenant(tenant_id)
            ).allowed
        ]

    def decide_tool(self, caller: Caller, tool: ToolSpec, arguments: dict[str, Any] | None) -> Decision:
        return decide(
            _principal(caller),
            "call_tool",
            tool.qualified_name,
            {"arguments": arguments or {}},
            policies=self.policies.for_tenant(caller.tenant_id),
        )

    async def tools_for(self, caller: Caller, globs: Iterable[str]) -> list[ToolSpec]:
        """Tools matching `globs` that the caller's tenant may see and is not denied."""
        globs = list(globs)
        await self.catalog.ensure_fresh(self.catalog.servers_for(globs))
        return [
            tool
            for tool in self.catalog.select(globs, tenant_id=caller.tenant_id)
            if self.decide_tool(caller, tool, None).effect != "deny"
        ]

    async def run_turn(self, turn: TurnInput) -> AsyncIterator[TurnEvent]:
        started = time.perf_counter()
        agent, route = self._choose_agent(turn)
        route.duration_ms = round((time.perf_counter() - started) * 1000, 3)
        yield route
        if agent is None:
            yield FinalEvent(
                agent=None,
                answer=self._no_agent_answer(turn, route),
                outcome="clarify" if route.reason != "agent_not_enabled" else "unavailable",
            )
            return

        tools = await self.tools_for(turn.caller, agent.tools)
        if not tools:
            yield FinalEvent(agent=agent.name, answer=self._unavailable_answer(agent), outcome="unavailable")
            return

        loop = AgentLoop(
            agent=agent,
            model=self.models.resolve(agent.model, tenant_id=turn.caller.tenant_id),
            executor=self._executor,
            tools=tools,
            authorize=lambda tool, arguments: self.decide_tool(turn.caller, tool, arguments),
            limits=self._limits,
        )
        request = ModelRequest(
            system=agent.system_prompt,
            messages=[*turn.history, Message(role="user", content=turn.message)],
            tools=tools,
            memory=turn.memory,
            attachments=turn.attachments,
        )
        async for event in loop.run(turn.caller, request):
            yield event

    def _choose_agent(self, turn: TurnInput) -> tuple[AgentConfig | None, RouteEvent]:
        tenant_policies = self.policies.for_tenant(turn.caller.tenant_id)
        principal = _principal(turn.caller)
        if turn.agent:
            agent = self.registry.get(turn.agent)
            if (
                agent is None
                or not decide(principal, "use_agent", turn.agent, None, policies=tenant_policies).allowed
            ):
                return None, RouteEvent(
                    agent=None,
                    confidence=0.0,
                    reason="agent_not_enabled",
                    candidates=[{"agent": turn.agent, "score": 0.0}],
                )
            return agent, RouteEvent(agent=agent.name, confidence=1.0, reason="requested")

        self._supervisor.update(self.registry)
        decision = self._supervisor.route(turn.message)
        candidates = [c.model_dump() for c in decision.candidates]
        confidence = decision.candidates[0].score if decision.candidates else 0.0
        if decision.clarify or decision.agent is None:
            return None, RouteEvent(
                agent=None, confidence=confidence, reason=decision.reason, candidates=candidates
            )
        if not decide(principal, "use_agent", decision.agent, None, policies=tenant_policies).allowed:
            return None, RouteEvent(
                agent=None, confidence=confidence, reason="agent_not_enabled", candidates=candidates
            )
        agent = self.registry.get(decision.agent)
        return agent, RouteEvent(
            agent=decision.agent, confidence=confidence, reason=decision.reason, candidates=candidates
        )

    def _no_agent_answer(self, turn: TurnInput, route: RouteEvent) -> str:
        enabled = {agent.name: agent for agent in self.agents_for(turn.caller.tenant_id)}
        if route.reason == "agent_not_enabled":
            wanted = route.candidates[0]["agent"] if route.candidates else "that"
            offered = ", ".join(sorted(enabled)) or "none"
            return (
                f"The '{wanted}' assistant is not available for your organisation. "
                f"Available assistants: {offered}."
            )
        names = [c["agent"] for c in route.candidates if c["agent"] in enabled][:3] or sorted(enabled)[:3]
        if route.reason == "empty":
            return "Please type a question. I can help with: " + ", ".join(sorted(enabled)) + "."
        described = "; ".join(f"{n} ({enabled[n].description.split(':')[0].strip()})" for n in names)
        return f"I am not sure what you need. Did you mean one of these: {described}? Please say which."

    def _unavailable_answer(self, agent: AgentConfig) -> str:
        servers = self.catalog.servers_for(agent.tools)
        down = [s.name for s in self.pool.states() if s.name in servers and not s.connected]
        if down:
            return (
                f"The '{agent.name}' assistant cannot answer right now: the {', '.join(down)} service is "
                "unavailable. Other assistants keep working; please try again shortly."
            )
        return f"The '{agent.name}' assistant has no tools your organisation may use."


def build_agent_host(
    settings: Settings, servers: Mapping[str, str], *, policies: PolicySet | None = None
) -> AgentHost:
    """An `AgentHost` wired from settings: demo agents, policy files, a pool over `servers`."""
    issuer = MeshTokenIssuer(
        mesh_key(settings.keys_dir), issuer=settings.mesh_issuer, ttl_seconds=settings.mesh_token_ttl_seconds
    )
    catalog_holder: list[ToolCatalog] = []

    async def on_message(server: str, message: Any) -> None:
        # A tools/list_changed from a server invalidates its cached list; the next turn refetches.
        if getattr(message, "method", None) == "notifications/tools/list_changed" and catalog_holder:
            catalog_holder[0].invalidate(server)

    pool = McpPool(servers, listing_token=issuer.for_listing, on_message=on_message)
    catalog = ToolCatalog(pool)
    catalog_holder.append(catalog)
    return AgentHost(
        registry=AgentRegistry.from_yaml(),
        policies=policies or PolicySet.from_directory(),
        pool=pool,
        catalog=catalog,
        executor=ToolExecutor(pool, issuer),
        models=ModelRegistry(),
    )
