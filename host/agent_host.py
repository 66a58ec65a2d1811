"""The agent host: turns a caller's message, or a person's decision on a paused turn, into events.

A fresh turn is routed by the supervisor; a resumed one continues the agent it paused in. Either
way the agent's model, tools and limits are resolved the same way (`_prepare`), the agent's loop
runs (`host.agent_run`), and what the caller receives passes through the same wrapper
(`_shown`): the tenant's redaction, the episode recorder, the turn's duration and language.

Per turn the host does little beyond the model's and the tools' own time: one cached read of the
configuration versions (`host.config_sync`), routing over a router built once per agent set,
policy decisions from compiled in-process policies, tools from the cached catalog, and audit
events queued for a background writer. Its collaborators are built once, in
`host.composition`.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import anyio
from anyio.abc import TaskGroup
from mcp.shared.dispatcher import ProgressFnT
from mcp_types import (
    Completion,
    GetPromptResult,
    Prompt,
    PromptReference,
    ReadResourceResult,
    Resource,
    ResourceTemplate,
    ResourceTemplateReference,
)
from pydantic import BaseModel, Field

from host.agent_run import AgentRun, RunObserver
from host.agents import AgentConfig
from host.approvals import Approvals, NoApprovals, PausedTurnRecord, PendingApproval
from host.audit_trail import AuditTrail
from host.authorizer import Authorizer
from host.budgets import Budget, NoBudget
from host.caller import Caller
from host.catalog import ToolCatalog, ToolSpec
from host.circuit import CircuitBreakers, CircuitState
from host.config_sync import HostConfig
from host.direct_calls import DirectCalls
from host.episodes import UNRECORDED, EpisodeInput, Episodes, NoEpisodes, TurnRecorder
from host.events import ErrorEvent, FinalEvent, TurnEvent
from host.executor import ToolOutcome
from host.knowledge_resources import KnowledgeResources, ResourceNotFound
from host.language import Language, instructed
from host.loop import AgentLoop, LoopLimits
from host.mcp_pool import McpPool
from host.models.base import Attachment, Message, Model, ModelRequest
from host.models.budgeted import BudgetedModel
from host.models.local import LocalPlanner
from host.models.registry import ModelRegistry, ModelUnavailable, UnknownModel
from host.models.traced import TracedModel
from host.prompt_catalog import (
    LANGUAGES,
    PromptNotFound,
    ServerPrompts,
    agent_prompt,
    complete_from,
    render_agent_prompt,
)
from host.replies import reply
from host.response_redaction import ResponseRedaction
from host.routing import MessageEmbedding
from host.steps import Approval, ToolRunner
from host.supervisor import Supervisor
from host.tokens import MeshTokenIssuer
from host.tool_ranking import ToolRanker
from host.turn import LANGUAGE_KEY, TurnInput
from policies.loader import PolicySet


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
class ClaimedApproval:
    """A pending approval just decided: the paused turn and the decision to resume it with."""

    approval: PendingApproval
    record: PausedTurnRecord
    decision: Approval


@dataclass(frozen=True)
class _Context:
    """What an agent's run needs besides the agent: the conversation and how to answer."""

    messages: list[Message]
    memory: dict[str, Any]
    attachments: list[Attachment]
    language: Language
    rank_by: str | None = None
    """The message to rank tools by for a remote LLM (None: offer every tool)."""
    embedding: MessageEmbedding | None = None


class AgentHost:
    """Routes, authorises and runs turns for every tenant over one shared MCP pool."""

    def __init__(
        self,
        *,
        config: HostConfig,
        tools: HostTools,
        authorizer: Authorizer,
        models: ModelRegistry,
        approvals: Approvals | None = None,
        episodes: Episodes | None = None,
        budget: Budget | None = None,
        options: HostOptions | None = None,
    ) -> None:
        self.config = config
        self.tools = tools
        self.authorizer = authorizer
        self.models = models
        self.approvals: Approvals = approvals or NoApprovals()
        self._episodes: Episodes = episodes or NoEpisodes()
        self._budget: Budget = budget or NoBudget()
        self._options = options or HostOptions()
        self.supervisor = Supervisor(authorizer, tools.catalog)
        self._calls = DirectCalls(
            config=config,
            pool=tools.pool,
            catalog=tools.catalog,
            authorizer=authorizer,
            runner=tools.runner,
            timeout_seconds=self._options.call_timeout_seconds,
        )
        self._background: anyio.CancelScope | None = None
        self._knowledge: KnowledgeResources | None = None
        self._server_prompts: ServerPrompts | None = None
        if tools.issuer is not None:
            self._knowledge = KnowledgeResources(
                pool=tools.pool, catalog=tools.catalog, authorizer=authorizer, issuer=tools.issuer
            )
            self._server_prompts = ServerPrompts(pool=tools.pool, issuer=tools.issuer)

    @property
    def policies(self) -> PolicySet:
        return self.authorizer.policies

    @property
    def audit(self) -> AuditTrail:
        return self.authorizer.audit

    @property
    def pool(self) -> McpPool:
        return self.tools.pool

    @property
    def catalog(self) -> ToolCatalog:
        return self.tools.catalog

    # -- lifecycle ---------------------------------------------------------------------------

    async def forget_tenant(self, tenant_id: str) -> None:
        """Drop what this host holds of a deleted tenant: its LLM clients and settings, the mesh
        tokens minted for it, its own tools in the catalog; then reload the configuration, pins
        and policies its deletion changed (other replicas follow the bumped versions)."""
        self.models.forget_tenant(tenant_id)
        if self.tools.issuer is not None:
            self.tools.issuer.forget_tenant(tenant_id)
        self.catalog.forget_tenant(tenant_id)
        await self.config.refresh()
        await self.catalog.reload_pins()
        if self._options.refresh_policies:
            await self.policies.refresh()

    async def start(self, task_group: TaskGroup) -> None:
        """Load the stored configuration, then start the pool and the background work."""
        await self.config.start()
        if self._options.refresh_policies:
            await self.policies.refresh()
        background: TaskGroup = await task_group.start(self._run_background)
        self.catalog.start(background)
        await self.pool.start(background)
        background.start_soon(self.audit.run)
        if self._options.refresh_policies:
            background.start_soon(self.policies.keep_fresh)

    async def _run_background(
        self, *, task_status: anyio.abc.TaskStatus[TaskGroup] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        with anyio.CancelScope() as scope:
            self._background = scope
            async with anyio.create_task_group() as background:
                task_status.started(background)
                await anyio.sleep_forever()

    async def aclose(self) -> None:
        """Stop the pool, write every audit event still queued, and end the background work."""
        self.pool.stop()
        await self.audit.aclose()
        await self.models.aclose()
        if self._background is not None:
            self._background.cancel()

    def circuit_states(self) -> dict[str, CircuitState]:
        """Each server's circuit breaker state (closed, open, half_open), for health and metrics."""
        return self.tools.breakers.states()

    # -- what a tenant may use ---------------------------------------------------------------

    def agents_for(self, tenant_id: str) -> list[AgentConfig]:
        """The agents the tenant can see and its policy enables."""
        return self.authorizer.agents_for(self.config.registry, tenant_id)

    async def tools_for(self, caller: Caller, globs: Iterable[str]) -> list[ToolSpec]:
        """Tools matching `globs` that the caller's tenant may see and is not denied."""
        globs = list(globs)
        await self.catalog.ensure_fresh(self.catalog.servers_for(globs))
        return [
            tool
            for tool in self.catalog.select(globs, tenant_id=caller.tenant_id)
            if self.authorizer.may_see(caller, tool)
        ]

    async def catalog_for(self, caller: Caller) -> list[ToolSpec]:
        """Every tool the caller's tenant may use: policy applied, others' and withheld tools hidden."""
        await self.config.refresh()
        return await self.tools_for(caller, ["*"])

    async def call_tool(
        self,
        caller: Caller,
        server: str,
        tool: str,
        arguments: dict[str, Any],
        *,
        progress: ProgressFnT | None = None,
    ) -> ToolOutcome:
        """One policy-checked, audited tool call outside a chat turn (`host.direct_calls`)."""
        return await self._calls.call(caller, server, tool, arguments, progress=progress)

    # -- resources, prompts, completions (the gateway's /mcp) ---------------------------------

    async def resource_templates_for(self, caller: Caller) -> list[ResourceTemplate]:
        """The knowledge-document template, when the caller may read the documents."""
        return await self._knowledge.templates(caller) if self._knowledge else []

    async def resources_for(self, caller: Caller) -> list[Resource]:
        """The tenant's knowledge documents, when the caller may read them (`host.knowledge_resources`)."""
        return await self._knowledge.listed(caller) if self._knowledge else []

    async def read_resource(self, caller: Caller, uri: str) -> ReadResourceResult:
        """One resource for the caller, policy-checked and audited (`ResourceNotFound`, `ResourceDenied`)."""
        if self._knowledge is None or not self._knowledge.serves(uri):
            raise ResourceNotFound(f"no resource '{uri}' is available")
        await self.config.refresh()
        return await self._knowledge.read(caller, uri)

    async def prompts_for(self, caller: Caller) -> list[Prompt]:
        """The tenant's agents as prompts, and the servers' prompts of tools it may use."""
        prompts = [agent_prompt(agent) for agent in self.agents_for(caller.tenant_id)]
        if self._server_prompts is not None:
            prompts += await self._server_prompts.listed(caller, await self.catalog_for(caller))
        return prompts

    async def get_prompt(self, caller: Caller, name: str, arguments: dict[str, str]) -> GetPromptResult:
        """A prompt rendered for the caller; raises `PromptNotFound` or `InvalidPromptArguments`."""
        agent = self._enabled_agent(caller, name)
        if agent is not None:
            return render_agent_prompt(agent, await self.tools_for(caller, agent.tools), arguments)
        if self._server_prompts is None:
            raise PromptNotFound(f"no prompt '{name}' is available")
        return await self._server_prompts.get(caller, name, arguments, await self.catalog_for(caller))

    async def complete(
        self, caller: Caller, ref: PromptReference | ResourceTemplateReference, argument: dict[str, str]
    ) -> Completion:
        """Values for a prompt's or a resource template's argument, as the caller's tenant."""
        if isinstance(ref, ResourceTemplateReference):
            return (
                await self._knowledge.complete(caller, ref, argument)
                if self._knowledge
                else Completion(values=[])
            )
        agent = self._enabled_agent(caller, ref.name)
        if agent is not None:
            if argument["name"] == "language":
                return complete_from(list(LANGUAGES), argument["value"])
            if argument["name"] == "question":
                return complete_from(agent.examples, argument["value"])
            return Completion(values=[])
        if self._server_prompts is None:
            return Completion(values=[])
        try:
            return await self._server_prompts.complete(
                caller, ref.name, argument, await self.catalog_for(caller)
            )
        except PromptNotFound:
            return Completion(values=[])

    def _enabled_agent(self, caller: Caller, name: str) -> AgentConfig | None:
        return next((agent for agent in self.agents_for(caller.tenant_id) if agent.name == name), None)

    async def pending_approvals(self, tenant_id: str) -> list[PendingApproval]:
        """The tenant's turns waiting for approval, oldest first."""
        return await self.approvals.pending(tenant_id)

    # -- turns -------------------------------------------------------------------------------

    async def run_turn(self, turn: TurnInput) -> AsyncIterator[TurnEvent]:
        """Answer one message: route, run the agent's loop, and end with a `FinalEvent`."""
        started = time.perf_counter()
        versions = await self.config.refresh()
        language = turn.user_language()
        tenant = turn.caller.tenant_id
        recorder = self._episodes.recorder(
            EpisodeInput.model_validate(turn.model_dump()),
            self.config.registry.visible_to(tenant),
            [document.model_dump(mode="json") for document in self.policies.for_tenant(tenant)],
        )
        events = self._fresh(turn, versions, language, recorder)
        async for event in self._shown(events, turn.caller, language, recorder, started):
            yield event

    async def claim_approval(self, approval_id: str, approver: Caller, approve: bool) -> ClaimedApproval:
        """Decide a pending approval, exactly once (any replica will do); audited.

        Raises `ApprovalNotFound`, `ApprovalForbidden` or `ApprovalAlreadyResolved` (from
        `host.approvals`).
        """
        approval, record = await self.approvals.claim(approval_id, approver, approve=approve)
        for call in approval.calls:
            self.audit.approval_resolved(
                approver, record.caller, f"{call.server}:{call.tool}", call.arguments, approve=approve
            )
        return ClaimedApproval(
            approval=approval, record=record, decision=Approval(approved=approve, approver=approver.subject)
        )

    async def resume_turn(self, claimed: ClaimedApproval) -> AsyncIterator[TurnEvent]:
        """Continue the turn a claimed approval paused, with the person's decision."""
        started = time.perf_counter()
        versions = await self.config.refresh()
        record = claimed.record
        events = self._resumed(claimed.approval.agent, versions, record, claimed.decision)
        async for event in self._shown(events, record.caller, record.language, UNRECORDED, started):
            yield event

    async def _fresh(
        self, turn: TurnInput, versions: Mapping[str, int], language: Language, recorder: TurnRecorder
    ) -> AsyncIterator[TurnEvent]:
        routing = await self.supervisor.choose(self.config.registry, turn)
        yield routing.event
        if routing.agent is None:
            answer, outcome = self.supervisor.without_agent(
                self.config.registry, turn, routing.event, language
            )
            yield FinalEvent(agent=None, answer=answer, outcome=outcome)
            return
        context = _Context(
            messages=[*turn.history, Message(role="user", content=turn.message)],
            memory=turn.memory,
            attachments=turn.attachments,
            language=language,
            rank_by=turn.message,
            embedding=routing.message_embedding,
        )
        prepared = await self._prepare(turn.caller, routing.agent, versions, context, recorder)
        if isinstance(prepared, AgentRun):
            async for event in prepared.start():
                yield event
        else:
            for event in prepared:
                yield event

    async def _resumed(
        self, agent_name: str, versions: Mapping[str, int], record: PausedTurnRecord, approval: Approval
    ) -> AsyncIterator[TurnEvent]:
        caller = record.caller
        agent = self.config.registry.get(agent_name, caller.tenant_id)
        if agent is None:
            answer = reply(record.language, "agent_gone", agent=agent_name)
            yield FinalEvent(agent=agent_name, answer=answer, outcome="error")
            return
        context = _Context(
            messages=record.paused.messages,
            memory=record.memory,
            attachments=record.attachments,
            language=record.language,
        )
        prepared = await self._prepare(caller, agent, versions, context, UNRECORDED)
        if isinstance(prepared, AgentRun):
            async for event in prepared.resume(record.paused, approval):
                yield event
        else:
            for event in prepared:
                yield event

    async def _prepare(
        self,
        caller: Caller,
        agent: AgentConfig,
        versions: Mapping[str, int],
        context: _Context,
        recorder: TurnRecorder,
    ) -> AgentRun | list[TurnEvent]:
        """The agent's run for this caller, or the events saying why it cannot run."""
        tools = await self.tools_for(caller, agent.tools)
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
            offered = self.tools.ranker.top(
                context.rank_by, tools, self._options.llm_tool_limit, embedding=context.embedding
            )
        loop = AgentLoop(
            agent=agent,
            model=TracedModel(model),
            runner=self.tools.runner,
            tools=offered,
            authorize=lambda tool, arguments: self.authorizer.call_tool(caller, tool, arguments),
            limits=self._limits_for(caller.tenant_id),
            observer=RunObserver(caller, self.audit, recorder),
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
            approvals=self.approvals,
            audit=self.audit,
        )

    async def _shown(
        self,
        events: AsyncIterator[TurnEvent],
        caller: Caller,
        language: Language,
        recorder: TurnRecorder,
        started: float,
    ) -> AsyncIterator[TurnEvent]:
        """The turn's events as the caller receives them: timed, recorded, and redacted."""
        redaction = ResponseRedaction(self.policies.response_redactor(caller.tenant_id))
        async for event in events:
            if isinstance(event, FinalEvent):
                event = event.model_copy(
                    update={
                        "duration_ms": (time.perf_counter() - started) * 1000,
                        "memory": {**event.memory, LANGUAGE_KEY: language},
                    }
                )
            recorder.event(event)
            if isinstance(event, FinalEvent):
                await recorder.finish()
            for shown in redaction.events(event):
                yield shown

    async def _model_for(
        self, caller: Caller, agent: AgentConfig, versions: Mapping[str, int]
    ) -> Model | ErrorEvent:
        """The agent's model for this tenant, if it resolves and the tenant's policy allows it."""
        try:
            model = await self.models.resolve(
                agent.model, tenant_id=caller.tenant_id, llm_version=versions.get("llm", 0)
            )
        except (UnknownModel, ModelUnavailable) as exc:
            return ErrorEvent(code=exc.code, message=str(exc))
        resource = "local" if isinstance(model, LocalPlanner) else model.name
        decision = self.authorizer.use_model(caller, resource)
        if decision.effect == "deny":
            return ErrorEvent(
                code="model_denied", message=f"the model '{resource}' is not allowed: {decision.reason}"
            )
        return model

    def _limits_for(self, tenant_id: str) -> LoopLimits:
        if self._options.limits is not None:
            return self._options.limits
        limits = self.policies.limits(tenant_id)
        return LoopLimits(
            max_steps=limits.max_steps or 8,
            max_parallel_tool_calls=limits.max_parallel_tool_calls or 4,
            max_tool_calls=limits.max_tool_calls_per_turn or 16,
            call_timeout_seconds=self._options.call_timeout_seconds,
        )

    def _no_tools(self, agent: AgentConfig, language: Language) -> str:
        servers = self.catalog.servers_for(agent.tools)
        down = [state.name for state in self.pool.states() if state.name in servers and not state.connected]
        if down:
            return reply(language, "agent_unavailable", agent=agent.name, servers=", ".join(down))
        return reply(language, "no_tools", agent=agent.name)
