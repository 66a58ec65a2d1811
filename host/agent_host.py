"""The agent host: turns a caller's message, or a person's decision on a paused turn, into events.

A fresh turn is routed by the supervisor; a resumed one continues the agent it paused in. Either
way the agent's model, tools and limits are resolved the same way (`host.agent_setup`), the
agent's loop runs (`host.agent_run`), and what the caller receives passes through the same wrapper
(`_shown`): the tenant's redaction, the episode recorder, the turn's duration and language. The
other MCP features of `/mcp` (resources, prompts, completions) are `host.server_features`.

Per turn the host does little beyond the model's and the tools' own time: one cached read of the
configuration versions (`host.config_sync`), routing over a router built once per agent set,
policy decisions from compiled in-process policies, tools from the cached catalog, and audit
events queued for a background writer; a turn no agent answers may read the tenant's suggested
questions, to quote them. Its collaborators are built once, in `host.composition`.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import anyio
from anyio.abc import TaskGroup
from mcp.shared.dispatcher import ProgressFnT

from host.agent_run import AgentRun
from host.agent_setup import AgentSetup, HostOptions, HostTools, RunContext
from host.agents import AgentConfig
from host.approvals import Approvals, NoApprovals, PausedTurnRecord, PendingApproval
from host.audit_trail import AuditTrail
from host.authorizer import Authorizer
from host.budgets import Budget, NoBudget
from host.caller import Caller
from host.catalog import ToolCatalog, ToolSpec
from host.circuit import CircuitState
from host.config_sync import HostConfig
from host.direct_calls import DirectCalls
from host.episodes import UNRECORDED, EpisodeInput, Episodes, NoEpisodes, TurnRecorder
from host.events import DeltaEvent, FinalEvent, RouteEvent, TurnEvent
from host.executor import ToolOutcome
from host.intents import PART_SEPARATOR, RoutedPart, combined
from host.knowledge_resources import KnowledgeResources
from host.language import Language
from host.mcp_pool import McpPool
from host.models.base import Message
from host.models.registry import ModelRegistry
from host.prompt_catalog import ServerPrompts
from host.replies import reply
from host.response_redaction import ResponseRedaction
from host.routing import MessageEmbedding
from host.server_features import ServerFeatures
from host.steps import Approval
from host.supervisor import GivenQuestions, SuggestedQuestions, Supervisor
from host.turn import LANGUAGE_KEY, TurnInput
from policies.loader import PolicySet


@dataclass(frozen=True)
class ClaimedApproval:
    """A pending approval just decided: the paused turn and the decision to resume it with."""

    approval: PendingApproval
    record: PausedTurnRecord
    decision: Approval


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
        questions: SuggestedQuestions | None = None,
    ) -> None:
        self.config = config
        self.tools = tools
        self.authorizer = authorizer
        self.models = models
        self.approvals: Approvals = approvals or NoApprovals()
        self._episodes: Episodes = episodes or NoEpisodes()
        self._options = options or HostOptions()
        self.supervisor = Supervisor(authorizer, tools.catalog)
        self.questions: SuggestedQuestions = questions or GivenQuestions()
        self._calls = DirectCalls(
            config=config,
            pool=tools.pool,
            catalog=tools.catalog,
            authorizer=authorizer,
            runner=tools.runner,
            timeout_seconds=self._options.call_timeout_seconds,
        )
        self._setup = AgentSetup(
            view=self,
            tools=tools,
            authorizer=authorizer,
            models=models,
            approvals=self.approvals,
            budget=budget or NoBudget(),
            options=self._options,
        )
        self.features = ServerFeatures(
            self,
            config=config,
            knowledge=(
                KnowledgeResources(
                    pool=tools.pool, catalog=tools.catalog, authorizer=authorizer, issuer=tools.issuer
                )
                if tools.issuer is not None
                else None
            ),
            server_prompts=(
                ServerPrompts(pool=tools.pool, issuer=tools.issuer) if tools.issuer is not None else None
            ),
        )
        """Resources, prompts and completions for the gateway's `/mcp` (`host.server_features`)."""
        self._background: anyio.CancelScope | None = None

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
        declined, chosen = routing.declined, routing.agent
        if declined and chosen and await self._setup.plans_locally(turn.caller, chosen, versions):
            routing = routing.declining(declined)
        yield routing.event
        if routing.parts:
            async for event in self._each_part(turn, versions, language, recorder, routing.parts):
                yield event
            return
        if routing.agent is None:
            answer, outcome = await self.supervisor.without_agent(
                self.config.registry,
                turn,
                routing.event,
                language,
                _RecordedQuestions(self.questions, recorder),
            )
            yield FinalEvent(agent=None, answer=answer, outcome=outcome)
            return
        context = _asking(turn, turn.message, language, routing.message_embedding)
        async for event in self._run(turn.caller, routing.agent, versions, context, recorder):
            yield event

    async def _each_part(
        self,
        turn: TurnInput,
        versions: Mapping[str, int],
        language: Language,
        recorder: TurnRecorder,
        parts: Sequence[tuple[AgentConfig, RoutedPart]],
    ) -> AsyncIterator[TurnEvent]:
        """Each part of a message with several requests answered by its agent, in the message's
        order, then one final answer made of theirs (`host.intents.combined`)."""
        finals: list[FinalEvent] = []
        written = False  # whether any answer text has been streamed yet
        for agent, part in parts:
            yield RouteEvent(
                agent=agent.name, confidence=part.score, reason="intent_part", candidates=[part.model_dump()]
            )
            context = _asking(turn, part.text, language)
            streamed = False
            async for event in self._run(turn.caller, agent, versions, context, recorder):
                if isinstance(event, FinalEvent):
                    finals.append(event)
                    continue
                if isinstance(event, DeltaEvent) and not streamed:
                    streamed = True
                    if written:
                        yield DeltaEvent(text=PART_SEPARATOR)
                yield event
            # The streamed text is the combined answer, so a part that streamed none adds its answer.
            answer = finals[-1].answer if finals else ""
            if not streamed and answer:
                yield DeltaEvent(text=f"{PART_SEPARATOR}{answer}" if written else answer)
            written = written or streamed or bool(answer)
        yield combined(finals)

    async def _resumed(
        self, agent_name: str, versions: Mapping[str, int], record: PausedTurnRecord, approval: Approval
    ) -> AsyncIterator[TurnEvent]:
        caller = record.caller
        agent = self.config.registry.get(agent_name, caller.tenant_id)
        if agent is None:
            answer = reply(record.language, "agent_gone", agent=agent_name)
            yield FinalEvent(agent=agent_name, answer=answer, outcome="error")
            return
        context = RunContext(
            messages=record.paused.messages,
            memory=record.memory,
            attachments=record.attachments,
            language=record.language,
        )
        async for event in self._run(caller, agent, versions, context, UNRECORDED, (record, approval)):
            yield event

    async def _run(
        self,
        caller: Caller,
        agent: AgentConfig,
        versions: Mapping[str, int],
        context: RunContext,
        recorder: TurnRecorder,
        resumed: tuple[PausedTurnRecord, Approval] | None = None,
    ) -> AsyncIterator[TurnEvent]:
        """The agent's run from its start, or from the pause `resumed` names with its decision."""
        prepared = await self._setup.prepare(caller, agent, versions, context, recorder)
        if not isinstance(prepared, AgentRun):
            for event in prepared:
                yield event
            return
        run = prepared.start() if resumed is None else prepared.resume(resumed[0].paused, resumed[1])
        async for event in run:
            yield event

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


def _asking(
    turn: TurnInput, message: str, language: Language, embedding: MessageEmbedding | None = None
) -> RunContext:
    """The run context of a fresh turn asking `message` (the whole message, or one of its parts)."""
    return RunContext(
        messages=[*turn.history, Message(role="user", content=message)],
        memory=turn.memory,
        attachments=turn.attachments,
        language=language,
        rank_by=message,
        embedding=embedding,
    )


class _RecordedQuestions:
    """The tenant's suggested questions, told to the turn's episode when read (a replay quotes them)."""

    def __init__(self, source: SuggestedQuestions, recorder: TurnRecorder) -> None:
        self._source = source
        self._recorder = recorder

    async def of_tenant(self, tenant_id: str) -> dict[str, list[str]]:
        questions = await self._source.of_tenant(tenant_id)
        self._recorder.read_questions(questions)
        return questions
