"""What an agent's run is made of, for one caller: the agent's tools (catalog and policy), its
model (the tenant's LLM or the local planner, traced, and budgeted when it is paid for), the
tools offered to a remote LLM (best-ranked first), the tenant's limits and the request.

A fresh turn and a resumed one are prepared here the same way; only their `RunContext` differs
(a resumed turn carries the paused conversation and ranks no tools again).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import BaseModel, Field

from host.agent_run import AgentRun, RunObserver
from host.agents import AgentConfig
from host.approvals import Approvals
from host.authorizer import Authorizer
from host.budgets import Budget
from host.caller import Caller
from host.catalog import ToolCatalog, ToolSpec
from host.circuit import CircuitBreakers
from host.episodes import TurnRecorder
from host.events import ErrorEvent, FinalEvent, TurnEvent
from host.language import Language, instructed
from host.loop import AgentLoop, LoopLimits
from host.mcp_pool import McpPool
from host.models.base import Attachment, Message, Model, ModelRequest
from host.models.budgeted import BudgetedModel
from host.models.local import LocalPlanner
from host.models.registry import ModelRegistry, ModelUnavailable, UnknownModel
from host.models.traced import TracedModel
from host.replies import reply
from host.routing import MessageEmbedding
from host.steps import ToolRunner
from host.tokens import MeshTokenIssuer
from host.tool_ranking import ToolRanker


@dataclass(frozen=True)
class HostTools:
    """The tool side of a host: connections, the catalog, what runs calls, breakers and ranking."""

    pool: McpPool
    catalog: ToolCatalog
    runner: ToolRunner
    breakers: CircuitBreakers
    ranker: ToolRanker
    issuer: MeshTokenIssuer | None = None
    """Mints the caller's mesh tokens (and caches them per caller) for resources, prompts and
    completions of servers; None for hosts that mint none (replay)."""


class HostOptions(BaseModel):
    """How a host bounds turns (from settings)."""

    limits: LoopLimits | None = Field(
        default=None, description="the same limits for every tenant; None: each tenant's policy limits"
    )
    llm_tool_limit: int = Field(
        default=5, ge=1, description="tools offered to a remote LLM, best-ranked first"
    )
    call_timeout_seconds: float = Field(default=30.0, gt=0)
    refresh_policies: bool = Field(
        default=False, description="re-read stored policy overrides in the background"
    )


@dataclass(frozen=True)
class RunContext:
    """What an agent's run needs besides the agent: the conversation and how to answer."""

    messages: list[Message]
    memory: dict[str, Any]
    attachments: list[Attachment]
    language: Language
    rank_by: str | None = None
    """The message to rank tools by for a remote LLM (None: offer every tool)."""
    embedding: MessageEmbedding | None = None


class ToolView(Protocol):
    """The tools a caller may use (the host's catalog, policy applied)."""

    async def tools_for(self, caller: Caller, globs: Iterable[str]) -> list[ToolSpec]: ...


class AgentSetup:
    """Builds an agent's run for a caller, or the events saying why it cannot run."""

    def __init__(
        self,
        *,
        view: ToolView,
        tools: HostTools,
        authorizer: Authorizer,
        models: ModelRegistry,
        approvals: Approvals,
        budget: Budget,
        options: HostOptions,
    ) -> None:
        self._view = view
        self._tools = tools
        self._authorizer = authorizer
        self._models = models
        self._approvals = approvals
        self._budget = budget
        self._options = options

    async def prepare(
        self,
        caller: Caller,
        agent: AgentConfig,
        versions: Mapping[str, int],
        context: RunContext,
        recorder: TurnRecorder,
    ) -> AgentRun | list[TurnEvent]:
        """The agent's run for this caller, or the events saying why it cannot run."""
        tools = await self._view.tools_for(caller, agent.tools)
        recorder.offered(tools)
        if not tools:
            return [
                FinalEvent(
                    agent=agent.name, answer=self._no_tools(agent, context.language), outcome="unavailable"
                )
            ]
        model = await self._model_for(caller, agent, versions)
        if isinstance(model, ErrorEvent):
            answer = reply(context.language, "cannot_answer", reason=model.message)
            return [model, FinalEvent(agent=agent.name, answer=answer, outcome="error")]
        recorder.used_model(model.name)
        offered = tools
        paid = not isinstance(model, LocalPlanner)
        if paid:
            model = BudgetedModel(model, self._budget, caller.tenant_id)
        if context.rank_by is not None and paid:
            offered = self._tools.ranker.top(
                context.rank_by, tools, self._options.llm_tool_limit, embedding=context.embedding
            )
        audit = self._authorizer.audit
        loop = AgentLoop(
            agent=agent,
            model=TracedModel(model),
            runner=self._tools.runner,
            tools=offered,
            authorize=lambda tool, arguments: self._authorizer.call_tool(caller, tool, arguments),
            limits=self._limits_for(caller.tenant_id),
            observer=RunObserver(caller, audit, recorder),
        )
        request = ModelRequest(
            system=instructed(agent.system_prompt, context.language),
            messages=context.messages,
            tools=offered,
            memory=context.memory,
            attachments=context.attachments,
            output_format=agent.output_format,
            language=context.language,
            message_embedding=context.embedding,
        )
        return AgentRun(
            caller=caller,
            agent=agent.name,
            loop=loop,
            request=request,
            approvals=self._approvals,
            audit=audit,
        )

    async def plans_locally(self, caller: Caller, agent: AgentConfig, versions: Mapping[str, int]) -> bool:
        """Whether the local planner would run the agent for this tenant (not an LLM)."""
        try:
            model = await self._models.resolve(
                agent.model, tenant_id=caller.tenant_id, llm_version=versions.get("llm", 0)
            )
        except (UnknownModel, ModelUnavailable):
            return False  # the run reports why it cannot start
        return isinstance(model, LocalPlanner)

    async def _model_for(
        self, caller: Caller, agent: AgentConfig, versions: Mapping[str, int]
    ) -> Model | ErrorEvent:
        """The agent's model for this tenant, if it resolves and the tenant's policy allows it."""
        try:
            model = await self._models.resolve(
                agent.model, tenant_id=caller.tenant_id, llm_version=versions.get("llm", 0)
            )
        except (UnknownModel, ModelUnavailable) as exc:
            return ErrorEvent(code=exc.code, message=str(exc))
        resource = "local" if isinstance(model, LocalPlanner) else model.name
        decision = self._authorizer.use_model(caller, resource)
        if decision.effect == "deny":
            return ErrorEvent(
                code="model_denied", message=f"the model '{resource}' is not allowed: {decision.reason}"
            )
        return model

    def _limits_for(self, tenant_id: str) -> LoopLimits:
        if self._options.limits is not None:
            return self._options.limits
        limits = self._authorizer.policies.limits(tenant_id)
        return LoopLimits(
            max_steps=limits.max_steps or 8,
            max_parallel_tool_calls=limits.max_parallel_tool_calls or 4,
            max_tool_calls=limits.max_tool_calls_per_turn or 16,
            call_timeout_seconds=self._options.call_timeout_seconds,
        )

    def _no_tools(self, agent: AgentConfig, language: Language) -> str:
        servers = self._tools.catalog.servers_for(agent.tools)
        down = [
            state.name for state in self._tools.pool.states() if state.name in servers and not state.connected
        ]
        if down:
            return reply(language, "agent_unavailable", agent=agent.name, servers=", ".join(down))
        return reply(language, "no_tools", agent=agent.name)
