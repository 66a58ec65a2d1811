"""The agent host: one object that turns a caller's message into a stream of turn events.

Per turn it does little beyond the model's and the tools' own time: one cached read of the
configuration versions (agents, tenant LLM settings and tool pins reload only when theirs moved),
routing over a router built once per agent set, policy decisions from compiled in-process
policies, tools from the cached catalog, and audit events queued for a background writer.
Besides chat turns it resumes turns paused for approval (on any replica, from the database),
makes single policy-checked tool calls for the gateway's `/mcp` proxy and knowledge uploads, and
lists the catalog a tenant may use.
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from typing import Any

import anyio
import structlog
from anyio.abc import TaskGroup
from opentelemetry import trace
from opentelemetry.trace import SpanKind
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from agentmesh.keys import mesh_key
from agentmesh.redaction import Redactor
from agentmesh.secrets import secret_box
from agentmesh.settings import Settings
from host.agent_store import AgentStore
from host.agents import AgentConfig, AgentRegistry
from host.approvals import ApprovalStore, PausedTurnRecord, PendingApproval
from host.audit_trail import AuditTrail
from host.caller import Caller
from host.catalog import ToolCatalog, ToolSpec, split_external_name
from host.circuit import CircuitBreakers, CircuitState
from host.config_versions import ConfigVersions
from host.episodes import Episode, EpisodeInput, EpisodeRecorder, EpisodeStore
from host.events import (
    DeltaEvent,
    ErrorEvent,
    FinalEvent,
    RouteEvent,
    ToolCallEvent,
    ToolResultEvent,
    TurnEvent,
)
from host.executor import ToolExecutor, ToolOutcome
from host.llm_config import LlmConfigStore
from host.loop import AgentLoop, LoopLimits, ToolRunner
from host.mcp_pool import McpPool
from host.models.base import (
    Attachment,
    Message,
    Model,
    ModelRequest,
    ModelResponse,
    TextDelta,
    ToolCall,
)
from host.models.local import LocalPlanner
from host.models.registry import ModelRegistry, ModelUnavailable, UnknownModel
from host.pins import ToolPins
from host.routing import RouteDecision
from host.supervisor import Supervisor
from host.tokens import MeshTokenIssuer
from host.tool_ranking import ToolRanker, remember_message_vector
from policies.audit import AuditLog
from policies.loader import PolicySet
from policies.model import Decision, Principal
from policies.overrides import PolicyOverrideStore

log = structlog.get_logger(__name__)
_tracer = trace.get_tracer("agentmesh.host")

FOLLOW_UP_MAX_WORDS = 8
"""A message this short may continue the previous agent's conversation."""
FOLLOW_UP_MARGIN = 0.15
"""How far below the router's choice the previous agent may score and still keep a follow-up."""
LAST_AGENT_KEY = "_agent"
"""Session memory key of the agent that answered last (for follow-ups)."""
_WORD = re.compile(r"\w+")


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


class _TracedModel:
    """The turn's model, each step a client span of the turn's trace (gateway, host, model, MCP).

    The span is not made current: a step streams across yields, and the trace context must not
    leak into the consumer's code between them.
    """

    def __init__(self, model: Model) -> None:
        self._model = model
        self.name = model.name

    async def stream(self, request: ModelRequest) -> AsyncIterator[TextDelta | ModelResponse]:
        span = _tracer.start_span(
            f"model {self.name}",
            kind=SpanKind.CLIENT,
            attributes={"gen_ai.operation.name": "chat", "gen_ai.request.model": self.name},
        )
        try:
            async for item in self._model.stream(request):
                if isinstance(item, ModelResponse):
                    span.set_attribute("gen_ai.usage.input_tokens", item.usage.input_tokens)
                    span.set_attribute("gen_ai.usage.output_tokens", item.usage.output_tokens)
                    span.set_attribute("agentmesh.tool_calls", len(item.tool_calls))
                yield item
        finally:
            span.end()


class _TurnObserver:
    """Audits each tool call that ran and feeds the episode recorder, if any."""

    def __init__(self, caller: Caller, audit: AuditTrail | None, recorder: EpisodeRecorder | None) -> None:
        self._caller = caller
        self._audit = audit
        self._recorder = recorder

    def model_step(self, response: ModelResponse) -> None:
        if self._recorder is not None:
            self._recorder.model_step(response)

    def tool_ran(self, tool: ToolSpec, call: ToolCall, decision: Decision, outcome: ToolOutcome) -> None:
        if self._audit is not None:
            self._audit.tool_call(
                self._caller,
                tool.qualified_name,
                call.arguments,
                is_error=outcome.is_error,
                error_code=outcome.error_code,
                duration_ms=outcome.duration_ms,
                rule=decision.rule,
            )
        if self._recorder is not None:
            self._recorder.tool_ran(tool, call, decision, outcome)

    def tool_not_offered(self, call: ToolCall) -> None:
        """A model asked for a tool its agent was not offered: audited as a deny, never called."""
        if self._audit is not None:
            server, name = split_external_name(call.name)
            refusal = Decision(effect="deny", rule="not-offered", reason="not offered to this agent")
            self._audit.decision(self._caller, f"{server}:{name}", refusal, arguments=call.arguments)


class _ResponseRedaction:
    """Masks the tenant's redacted categories in what the caller receives (never in what models see).

    Streamed text is released line by line, so a number split across two deltas is still masked.
    """

    def __init__(self, redactor: Redactor) -> None:
        self._redactor = redactor
        self._pending = ""

    def events(self, event: TurnEvent) -> list[TurnEvent]:
        redact = self._redactor.redact_obj
        if isinstance(event, DeltaEvent):
            self._pending += event.text
            head, newline, tail = self._pending.rpartition("\n")
            if not newline:
                return []
            self._pending = tail
            return [DeltaEvent(text=self._redactor.redact(head + newline))]
        if isinstance(event, ToolCallEvent):
            return [event.model_copy(update={"arguments": redact(event.arguments)})]
        if isinstance(event, ToolResultEvent):
            return [
                event.model_copy(update={"text": redact(event.text), "structured": redact(event.structured)})
            ]
        if isinstance(event, FinalEvent):
            flushed: list[TurnEvent] = (
                [DeltaEvent(text=self._redactor.redact(self._pending))] if self._pending else []
            )
            self._pending = ""
            update = {
                "answer": redact(event.answer),
                "data": redact(event.data),
                "citations": redact(event.citations),
            }
            return [*flushed, event.model_copy(update=update)]
        return [event]


class AgentHost:
    """Routes, authorises and runs turns for every tenant over one shared MCP pool."""

    def __init__(
        self,
        *,
        registry: AgentRegistry,
        policies: PolicySet,
        pool: McpPool,
        catalog: ToolCatalog,
        executor: ToolRunner,
        models: ModelRegistry,
        limits: LoopLimits | None = None,
        breakers: CircuitBreakers | None = None,
        agent_store: AgentStore | None = None,
        versions: ConfigVersions | None = None,
        approvals: ApprovalStore | None = None,
        audit: AuditTrail | None = None,
        episodes: EpisodeStore | None = None,
        ranker: ToolRanker | None = None,
        llm_tool_limit: int = 5,
        call_timeout_seconds: float = 30.0,
        refresh_policies: bool = False,
        database: AsyncEngine | None = None,
    ) -> None:
        self.registry = registry
        self.policies = policies
        self.pool = pool
        self.catalog = catalog
        self.models = models
        self.approvals = approvals
        self.audit = audit
        self._executor = executor
        self._breakers = breakers
        self._limits = limits
        self._agent_store = agent_store
        self._versions = versions
        self._episodes = episodes
        self._ranker = ranker or models.local.ranker
        self._llm_tool_limit = llm_tool_limit
        self._call_timeout = call_timeout_seconds
        self._refresh_policies = refresh_policies
        self._database = database
        self._supervisor = Supervisor()
        self._seen: dict[str, int] = {}
        self._config_lock = anyio.Lock()
        # Set by the gateway: re-reads the registered MCP servers when another replica changed them.
        self.on_servers_changed: Callable[[], Awaitable[None]] | None = None
        self._background: anyio.CancelScope | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self, task_group: TaskGroup) -> None:
        """Seed and load the stored configuration, then start the pool and background work."""
        if self._versions is not None:
            await self._versions.ensure()
        if self._agent_store is not None:
            await self._agent_store.seed(
                self.registry.all()
            )  # the agents given at construction seed an empty store
        await self._refresh_config()
        if self._refresh_policies:
            await self.policies.refresh()
        background: TaskGroup = await task_group.start(self._run_background)
        self.catalog.start(background)
        await self.pool.start(background)
        if self.audit is not None:
            background.start_soon(self.audit.run)
        if self._refresh_policies:
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
        if self.audit is not None:
            await self.audit.aclose()
        await self.models.aclose()
        if self._background is not None:
            self._background.cancel()

    def circuit_states(self) -> dict[str, CircuitState]:
        """Each server's circuit breaker state (closed, open, half_open), for health and metrics."""
        return self._breakers.states() if self._breakers is not None else {}

    async def _refresh_config(self) -> dict[str, int]:
        """Reload what another replica (or the admin API) changed since the last turn."""
        if self._versions is None:
            return {}
        current = await self._versions.current()
        if current == self._seen:
            return current
        async with self._config_lock:
            if self._agent_store is not None and current["agents"] != self._seen.get("agents"):
                self.registry = AgentRegistry(await self._agent_store.list())
                log.info("agents_reloaded", version=current["agents"], agents=len(self.registry.all()))
            if current["pins"] != self._seen.get("pins"):
                await self.catalog.reload_pins()
            if self.on_servers_changed is not None and current["servers"] != self._seen.get("servers"):
                await self.on_servers_changed()
            self._seen = current
        return current

    # -- policy ------------------------------------------------------------------------------

    def agents_for(self, tenant_id: str) -> list[AgentConfig]:
        """The agents the tenant can see and its policy enables."""
        principal = Principal(tenant_id=tenant_id, subject="-")
        return [
            agent
            for agent in self.registry.visible_to(tenant_id)
            if self.policies.decide(principal, "use_agent", agent.name).allowed
        ]

    def decide_tool(self, caller: Caller, tool: ToolSpec, arguments: dict[str, Any] | None) -> Decision:
        """The policy decision on `caller` calling `tool` (with `arguments`; None when listing)."""
        context = {"arguments": arguments} if arguments is not None else None
        return self.policies.decide(_principal(caller), "call_tool", tool.qualified_name, context)

    def _authorize(self, caller: Caller, tool: ToolSpec, arguments: dict[str, Any]) -> Decision:
        decision = self.decide_tool(caller, tool, arguments)
        if self.audit is not None:
            self.audit.decision(caller, tool.qualified_name, decision, arguments=arguments)
        return decision

    async def tools_for(self, caller: Caller, globs: Iterable[str]) -> list[ToolSpec]:
        """Tools matching `globs` that the caller's tenant may see and is not denied."""
        globs = list(globs)
        await self.catalog.ensure_fresh(self.catalog.servers_for(globs))
        return [
            tool
            for tool in self.catalog.select(globs, tenant_id=caller.tenant_id)
            if self.decide_tool(caller, tool, None).effect != "deny"
        ]

    async def catalog_for(self, caller: Caller) -> list[ToolSpec]:
        """Every tool the caller's tenant may use: policy applied, others' and withheld tools hidden."""
        await self._refresh_config()
        return await self.tools_for(caller, ["*"])

    def _limits_for(self, tenant_id: str) -> LoopLimits:
        if self._limits is not None:
            return self._limits
        limits = self.policies.limits(tenant_id)
        return LoopLimits(
            max_steps=limits.max_steps or 8,
            max_parallel_tool_calls=limits.max_parallel_tool_calls or 4,
            max_tool_calls=limits.max_tool_calls_per_turn or 16,
            call_timeout_seconds=self._call_timeout,
        )

    # -- one tool call outside a turn --------------------------------------------------------

    async def call_tool_for(
        self, caller: Caller, server: str, tool: str, arguments: dict[str, Any]
    ) -> ToolOutcome:
        """One policy-checked, audited tool call outside a chat turn (no approval can be asked here)."""
        await self._refresh_config()
        await self.catalog.ensure_fresh([server] if server in self.pool.servers() else [])
        spec = self.catalog.find(server, tool)
        if spec is None or not spec.visible_to(caller.tenant_id) or self.catalog.is_withheld(spec):
            return ToolOutcome(
                is_error=True,
                text=f"no tool '{server}:{tool}' is available",
                duration_ms=0.0,
                error_code="tool_not_found",
            )
        decision = self._authorize(caller, spec, arguments)
        if decision.effect == "deny":
            return ToolOutcome(
                is_error=True,
                text=f"not allowed by policy: {decision.reason}",
                duration_ms=0.0,
                error_code="denied",
            )
        if decision.effect == "approve":
            return ToolOutcome(
                is_error=True,
                text=f"'{spec.qualified_name}' needs a person's approval; ask for it in a chat turn",
                duration_ms=0.0,
                error_code="approval_required",
            )
        outcome = await self._executor.call(
            caller, spec, arguments, granted=frozenset({spec.name}), timeout=self._call_timeout
        )
        if self.audit is not None:
            self.audit.tool_call(
                caller,
                spec.qualified_name,
                arguments,
                is_error=outcome.is_error,
                error_code=outcome.error_code,
                duration_ms=outcome.duration_ms,
                rule=decision.rule,
            )
        return outcome

    # -- chat turns --------------------------------------------------------------------------

    async def run_turn(self, turn: TurnInput) -> AsyncIterator[TurnEvent]:
        """Answer one message: route, run the agent's loop, and end with a `FinalEvent`."""
        started = time.perf_counter()
        versions = await self._refresh_config()
        recorder = self._recorder_for(turn) if self._episodes is not None else None
        redactor = self.policies.response_redactor(turn.caller.tenant_id)
        redaction = _ResponseRedaction(redactor) if redactor is not None else None
        async for event in self._turn(turn, versions, recorder):
            if isinstance(event, FinalEvent):
                event.duration_ms = (time.perf_counter() - started) * 1000
            if recorder is not None:
                recorder.event(event)
                if isinstance(event, FinalEvent) and self._episodes is not None:
                    await self._episodes.write(recorder.episode)
            for shown in redaction.events(event) if redaction is not None else [event]:
                yield shown

    async def _turn(
        self, turn: TurnInput, versions: Mapping[str, int], recorder: EpisodeRecorder | None
    ) -> AsyncIterator[TurnEvent]:
        route_started = time.perf_counter()
        agent, route = await self._choose_agent(turn)
        route.duration_ms = round((time.perf_counter() - route_started) * 1000, 3)
        yield route
        if agent is None:
            outcome = "unavailable" if route.reason == "agent_not_enabled" else "clarify"
            yield FinalEvent(agent=None, answer=self._no_agent_answer(turn, route), outcome=outcome)  # type: ignore[arg-type]
            return

        tools = await self.tools_for(turn.caller, agent.tools)
        if recorder is not None:
            recorder.episode.tools = tools
        if not tools:
            yield FinalEvent(agent=agent.name, answer=self._unavailable_answer(agent), outcome="unavailable")
            return
        model = await self._model_for(turn.caller, agent, versions)
        if isinstance(model, ErrorEvent):
            yield model
            yield FinalEvent(
                agent=agent.name, answer=f"This assistant cannot answer: {model.message}", outcome="error"
            )
            return
        if recorder is not None:
            recorder.episode.model = model.name
        offered = (
            tools
            if isinstance(model, LocalPlanner)
            else self._ranker.top(turn.message, tools, self._llm_tool_limit)
        )
        loop = self._loop(turn.caller, agent, model, offered, recorder)
        request = ModelRequest(
            system=agent.system_prompt,
            messages=[*turn.history, Message(role="user", content=turn.message)],
            tools=offered,
            memory=turn.memory,
            attachments=turn.attachments,
            output_format=agent.output_format,
        )
        async for event in loop.run(turn.caller, request):
            if isinstance(event, FinalEvent):
                event = await self._finished(event, agent, loop, turn.caller, request)
            yield event

    def _loop(
        self,
        caller: Caller,
        agent: AgentConfig,
        model: Model,
        tools: list[ToolSpec],
        recorder: EpisodeRecorder | None,
    ) -> AgentLoop:
        return AgentLoop(
            agent=agent,
            model=_TracedModel(model),
            runner=self._executor,
            tools=tools,
            authorize=lambda tool, arguments: self._authorize(caller, tool, arguments),
            limits=self._limits_for(caller.tenant_id),
            observer=_TurnObserver(caller, self.audit, recorder),
        )

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
        decision = self.policies.decide(_principal(caller), "use_model", resource)
        if self.audit is not None:
            self.audit.decision(caller, f"model:{resource}", decision)
        if decision.effect == "deny":
            return ErrorEvent(
                code="model_denied", message=f"the model '{resource}' is not allowed: {decision.reason}"
            )
        return model

    async def _finished(
        self, event: FinalEvent, agent: AgentConfig, loop: AgentLoop, caller: Caller, request: ModelRequest
    ) -> FinalEvent:
        """Persist a pause for approval; remember the agent for follow-ups."""
        if loop.paused is not None:
            if self.approvals is None:
                return event.model_copy(
                    update={
                        "answer": "This action needs approval, and approvals need the platform database.",
                        "outcome": "error",
                    }
                )
            record = PausedTurnRecord(
                caller=caller, paused=loop.paused, memory=request.memory, attachments=request.attachments
            )
            approval = await self.approvals.create(agent.name, record)
            if self.audit is not None:
                for call in approval.calls:
                    self.audit.decision(
                        caller,
                        f"{call.server}:{call.tool}",
                        Decision(effect="approve", rule="approval.requested", reason=call.reason),
                        arguments=call.arguments,
                        action="approval.requested",
                    )
            return event.model_copy(update={"approval_id": approval.id})
        if event.outcome == "answered":
            return event.model_copy(update={"memory": {**event.memory, LAST_AGENT_KEY: agent.name}})
        return event

    # -- approvals ---------------------------------------------------------------------------

    async def pending_approvals(self, tenant_id: str) -> list[PendingApproval]:
        """The tenant's turns waiting for approval, oldest first."""
        if self.approvals is None:
            return []
        return await self.approvals.pending(tenant_id)

    async def resolve_approval(
        self, approval_id: str, approver: Caller, approve: bool
    ) -> AsyncIterator[TurnEvent]:
        """Approve or reject a pending approval and resume its turn here (any replica will do).

        Raises `ApprovalNotFound`, `ApprovalForbidden` or `ApprovalAlreadyResolved` (from
        `host.approvals`) before the first event.
        """
        if self.approvals is None:
            raise RuntimeError("approvals need the platform database")
        versions = await self._refresh_config()
        approval, record = await self.approvals.claim(approval_id, approver, approve=approve)
        caller = record.caller
        if self.audit is not None:
            for call in approval.calls:
                self.audit.approval_resolved(
                    approver, caller, f"{call.server}:{call.tool}", call.arguments, approve=approve
                )
        agent = self.registry.get(approval.agent, caller.tenant_id)
        if agent is None:
            yield FinalEvent(
                agent=approval.agent,
                answer=f"The '{approval.agent}' assistant no longer exists.",
                outcome="error",
            )
            return
        tools = await self.tools_for(caller, agent.tools)
        model = await self._model_for(caller, agent, versions)
        if isinstance(model, ErrorEvent):
            yield model
            yield FinalEvent(
                agent=agent.name, answer=f"This assistant cannot answer: {model.message}", outcome="error"
            )
            return
        loop = self._loop(caller, agent, model, tools, None)
        request = ModelRequest(
            system=agent.system_prompt,
            messages=record.paused.messages,
            tools=tools,
            memory=record.memory,
            attachments=record.attachments,
            output_format=agent.output_format,
        )
        redactor = self.policies.response_redactor(caller.tenant_id)
        redaction = _ResponseRedaction(redactor) if redactor is not None else None
        async for event in loop.resume(
            caller, request, record.paused, approved=approve, approver=approver.subject
        ):
            if isinstance(event, FinalEvent):
                event = await self._finished(event, agent, loop, caller, request)
            for shown in redaction.events(event) if redaction is not None else [event]:
                yield shown

    # -- routing -----------------------------------------------------------------------------

    async def _choose_agent(self, turn: TurnInput) -> tuple[AgentConfig | None, RouteEvent]:
        caller = turn.caller
        principal = _principal(caller)
        if turn.agent:
            agent = self.registry.get(turn.agent, caller.tenant_id)
            decision = self.policies.decide(principal, "use_agent", turn.agent)
            if self.audit is not None:
                self.audit.decision(caller, f"agent:{turn.agent}", decision)
            if agent is None or not decision.allowed:
                return None, RouteEvent(
                    agent=None,
                    confidence=0.0,
                    reason="agent_not_enabled",
                    candidates=[{"agent": turn.agent, "score": 0.0}],
                )
            return agent, RouteEvent(agent=agent.name, confidence=1.0, reason="requested")

        route = await self._supervisor.route(self.registry, caller.tenant_id, turn.message)
        if route is None:
            return None, RouteEvent(agent=None, confidence=0.0, reason="no_agents")
        remember_message_vector(turn.message, route.message_vector)
        candidates = [c.model_dump() for c in route.candidates]
        confidence = route.candidates[0].score if route.candidates else 0.0
        chosen, reason = route.agent, str(route.reason)
        follow_up = self._follow_up_agent(turn, route)
        if follow_up is not None:
            chosen, reason = follow_up.name, "follow_up"
        elif route.clarify or chosen is None:
            return None, RouteEvent(
                agent=None, confidence=confidence, reason=route.reason, candidates=candidates
            )
        use = self.policies.decide(principal, "use_agent", chosen)
        if self.audit is not None:
            self.audit.decision(caller, f"agent:{chosen}", use)
        if not use.allowed:
            return None, RouteEvent(
                agent=None, confidence=confidence, reason="agent_not_enabled", candidates=candidates
            )
        agent = self.registry.get(chosen, caller.tenant_id)
        return agent, RouteEvent(agent=chosen, confidence=confidence, reason=reason, candidates=candidates)

    def _follow_up_agent(self, turn: TurnInput, decision: RouteDecision) -> AgentConfig | None:
        """The previous turn's agent, when a short message reads as its continuation.

        It does when the router is unsure, or when the previous agent scores close to the router's
        choice (a bare identifier fits several agents), and the message names an identifier one of
        that agent's tools takes ("and 3190048330?") or the session remembers one ("and his history?").
        """
        last = turn.memory.get(LAST_AGENT_KEY)
        if (
            not isinstance(last, str)
            or decision.reason in {"multiple_intents", "empty"}
            or decision.agent == last
        ):
            return None
        if len(_WORD.findall(turn.message)) > FOLLOW_UP_MAX_WORDS:
            return None
        if not decision.clarify:
            scores = {candidate.agent: candidate.score for candidate in decision.candidates}
            if last not in scores or decision.candidates[0].score - scores[last] > FOLLOW_UP_MARGIN:
                return None
        agent = self.registry.get(last, turn.caller.tenant_id)
        if agent is None:
            return None
        patterns = [
            prop["pattern"]
            for tool in self.catalog.select(agent.tools, tenant_id=turn.caller.tenant_id)
            for prop in (tool.input_schema.get("properties") or {}).values()
            if isinstance(prop, dict) and isinstance(prop.get("pattern"), str)
        ]
        texts = [
            turn.message,
            *(v for k, v in turn.memory.items() if isinstance(v, str) and k != LAST_AGENT_KEY),
        ]
        for pattern in patterns:
            body = pattern.removeprefix("^").removesuffix("$")
            if any(re.search(rf"(?<![\w-])(?:{body})(?![\w-])", text, re.IGNORECASE) for text in texts):
                return agent
        return None

    def _no_agent_answer(self, turn: TurnInput, route: RouteEvent) -> str:
        enabled = {agent.name: agent for agent in self.agents_for(turn.caller.tenant_id)}
        if route.reason == "agent_not_enabled":
            wanted = route.candidates[0]["agent"] if route.candidates else "that"
            offered = ", ".join(sorted(enabled)) or "none"
            return (
                f"The '{wanted}' assistant is not available for your organisation. "
                f"Available assistants: {offered}."
            )
        if route.reason == "no_agents" or not enabled:
            return "No assistant is available for your organisation."
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

    # -- episodes ----------------------------------------------------------------------------

    def _recorder_for(self, turn: TurnInput) -> EpisodeRecorder:
        tenant = turn.caller.tenant_id
        return EpisodeRecorder(
            Episode(
                input=EpisodeInput.model_validate(turn.model_dump()),
                agents=self.registry.visible_to(tenant),
                policies=[document.model_dump(mode="json") for document in self.policies.for_tenant(tenant)],
            )
        )


def build_agent_host(
    settings: Settings,
    servers: Mapping[str, str],
    *,
    policies: PolicySet | None = None,
    sessions: async_sessionmaker[AsyncSession] | None = None,
    agents: list[AgentConfig] | None = None,
) -> AgentHost:
    """An `AgentHost` wired from settings over `servers`.

    With `sessions` (the platform database) agents, tenant LLM settings, tool pins, approvals,
    policy overrides and the audit log live there, `agents` (default: the demo agents) seeding an
    empty agent store; without it the host runs on those agents and the policy files alone.
    """
    issuer = MeshTokenIssuer(
        mesh_key(settings.keys_dir), issuer=settings.mesh_issuer, ttl_seconds=settings.mesh_token_ttl_seconds
    )
    audit_log = AuditLog(sessions) if sessions is not None else None
    pins = ToolPins(sessions, audit_log) if sessions is not None and audit_log is not None else None
    catalog_holder: list[ToolCatalog] = []

    async def on_message(server: str, message: Any) -> None:
        # Servers on protocol 2025-11-25 announce changes as notifications on the session.
        if getattr(message, "method", None) == "notifications/tools/list_changed" and catalog_holder:
            catalog_holder[0].invalidate(server)

    async def on_tools_changed(server: str) -> None:
        catalog_holder[0].invalidate(server)

    pool = McpPool(
        servers, listing_token=issuer.for_listing, on_message=on_message, on_tools_changed=on_tools_changed
    )
    catalog = ToolCatalog(pool, ttl_seconds=settings.host_catalog_ttl_seconds, pins=pins)
    catalog_holder.append(catalog)
    breakers = CircuitBreakers(
        failure_threshold=settings.host_breaker_failures, reset_seconds=settings.host_breaker_reset_seconds
    )
    executor = ToolExecutor(pool, issuer, breakers=breakers, max_result_chars=settings.host_max_result_chars)
    llm_configs = LlmConfigStore(sessions, secret_box(settings)) if sessions is not None else None
    if policies is None:
        overrides = PolicyOverrideStore(sessions) if sessions is not None else None
        policies = PolicySet.from_directory(overrides=overrides)
    return AgentHost(
        registry=AgentRegistry(agents) if agents is not None else AgentRegistry.from_yaml(),
        policies=policies,
        pool=pool,
        catalog=catalog,
        executor=executor,
        breakers=breakers,
        models=ModelRegistry.from_settings(settings, llm_configs=llm_configs),
        agent_store=AgentStore(sessions) if sessions is not None else None,
        versions=ConfigVersions(sessions) if sessions is not None else None,
        approvals=ApprovalStore(sessions) if sessions is not None else None,
        audit=AuditTrail(audit_log) if audit_log is not None else None,
        episodes=EpisodeStore(settings.resolved_data_dir / "episodes")
        if settings.host_record_episodes
        else None,
        llm_tool_limit=settings.host_llm_tool_limit,
        call_timeout_seconds=settings.host_call_timeout_seconds,
        refresh_policies=sessions is not None,
        database=sessions.kw.get("bind") if sessions is not None else None,
    )
