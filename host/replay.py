"""Re-running recorded episodes against the current code and reporting every divergence.

The replayed turn gets exactly what the recorded one had: the same input, the same agents and
policy documents, the same tools offered, and for each tool call the recorded result (a call the
episode did not record is answered with an error, so it shows as a divergence). A turn answered by
a remote LLM replays that model's recorded outputs; the local planner runs as the current code.
Everything the host decides (routing, arguments, policy rules, answers, limits) is then compared
event by event with what was recorded.
"""

from __future__ import annotations

import json
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
from mcp.shared.dispatcher import ProgressFnT
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncEngine

from agentmesh.db import create_engine, session_factory, upgrade_database
from agentmesh.outbound import AllowList, OutboundGuard
from host.agent_host import AgentHost
from host.agent_setup import HostTools
from host.approvals import ApprovalStore
from host.audit_trail import NoAuditTrail
from host.authorizer import Authorizer
from host.caller import Caller
from host.catalog import ToolCatalog, ToolSpec
from host.circuit import CircuitBreakers
from host.config_sync import HostConfig
from host.episodes import Episode, RecordedToolCall
from host.events import TurnEvent
from host.executor import ToolOutcome
from host.mcp_pool import McpPool
from host.models.base import Model, ModelError, ModelRequest, ModelResponse, TextDelta
from host.models.local import PLANNER_NAME
from host.models.registry import ModelRegistry
from host.supervisor import GivenQuestions
from host.turn import TurnInput
from policies.loader import PolicySet
from policies.model import TenantPolicy


class Divergence(BaseModel):
    """One place where the replay did something else than the recording."""

    where: str
    recorded: Any = None
    replayed: Any = None

    def describe(self) -> str:
        return f"{self.where}: recorded {_short(self.recorded)}, replayed {_short(self.replayed)}"


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 300 else text[:297] + "..."


def _key(server: str, tool: str, arguments: dict[str, Any]) -> str:
    return f"{server}:{tool}:{json.dumps(arguments, sort_keys=True, default=str)}"


class RecordedTools:
    """A `ToolRunner` answering each call with its recorded result, in recorded order per call."""

    def __init__(self, calls: list[RecordedToolCall]) -> None:
        self._results: dict[str, deque[ToolOutcome]] = defaultdict(deque)
        for recorded in calls:
            self._results[_key(recorded.server, recorded.tool, recorded.arguments)].append(recorded.outcome)

    async def call(
        self,
        caller: Caller,
        tool: ToolSpec,
        arguments: dict[str, Any],
        *,
        granted: frozenset[str],
        timeout: float,
        progress: ProgressFnT | None = None,
    ) -> ToolOutcome:
        results = self._results.get(_key(tool.server, tool.name, arguments))
        if not results:
            return ToolOutcome(
                is_error=True,
                text=f"replay: no recorded result for {tool.qualified_name} with these arguments",
                duration_ms=0.0,
                error_code="not_recorded",
            )
        return results.popleft().model_copy()


class RecordedModel:
    """A remote model's recorded steps, given back in order."""

    def __init__(self, name: str, steps: list[ModelResponse]) -> None:
        self.name = name
        self._steps: Iterator[ModelResponse] = iter(steps)

    async def stream(self, request: ModelRequest) -> AsyncIterator[TextDelta | ModelResponse]:
        step = next(self._steps, None)
        if step is None:
            raise ModelError("replay_exhausted", f"the episode recorded no further step of {self.name}")
        if step.text:
            yield TextDelta(text=step.text)
        yield step


class _ReplayModels(ModelRegistry):
    """The current local planner, or the recorded outputs of the remote model the episode used."""

    def __init__(self, recorded: RecordedModel | None) -> None:
        super().__init__()
        self._recorded = recorded

    async def resolve(self, spec: str, *, tenant_id: str, llm_version: int = 0) -> Model:
        if self._recorded is not None:
            return self._recorded
        return self.local


def _normalised(events: list[TurnEvent]) -> list[dict[str, Any]]:
    """Events as compared: ids and timings dropped, streamed text joined, results of one step sorted."""
    shown: list[dict[str, Any]] = []
    for event in events:
        data = event.model_dump(mode="json")
        kind = data["type"]
        if kind == "route":
            item = {k: data[k] for k in ("type", "agent", "reason")}
        elif kind == "tool_call":
            item = {k: data[k] for k in ("type", "server", "tool", "arguments", "decision_rule")}
        elif kind == "tool_result":
            item = {
                k: data[k] for k in ("type", "server", "tool", "is_error", "text", "error_code", "truncated")
            }
        elif kind == "delta":
            if shown and shown[-1]["type"] == "text":
                shown[-1]["text"] += data["text"]
                continue
            item = {"type": "text", "text": data["text"]}
        elif kind == "final":
            item = {k: data[k] for k in ("type", "agent", "answer", "outcome", "data", "citations")}
            item["approval"] = data["approval_id"] is not None
        else:
            item = {k: data[k] for k in ("type", "code", "message")}
        shown.append(item)
    return _sort_result_runs(shown)


def _sort_result_runs(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Results of one step arrive in whatever order the calls finished; compare them as a set."""
    ordered: list[dict[str, Any]] = []
    run: list[dict[str, Any]] = []
    for event in [*events, {"type": "end"}]:
        if event["type"] == "tool_result":
            run.append(event)
            continue
        ordered.extend(sorted(run, key=lambda e: json.dumps(e, sort_keys=True)))
        run = []
        if event["type"] != "end":
            ordered.append(event)
    return ordered


def compare(recorded: list[TurnEvent], replayed: list[TurnEvent]) -> list[Divergence]:
    """Every difference between two turns' events, field by field."""
    before, after = _normalised(recorded), _normalised(replayed)
    divergences: list[Divergence] = []
    for index in range(max(len(before), len(after))):
        old = before[index] if index < len(before) else None
        new = after[index] if index < len(after) else None
        if old == new:
            continue
        if old is None or new is None or old["type"] != new["type"]:
            divergences.append(Divergence(where=f"event {index}", recorded=old, replayed=new))
            continue
        for field in old:
            if old[field] != new.get(field):
                divergences.append(
                    Divergence(
                        where=f"event {index} ({old['type']}) {field}",
                        recorded=old[field],
                        replayed=new.get(field),
                    )
                )
    return divergences


async def _approvals_database() -> tuple[AsyncEngine, ApprovalStore]:
    """An in-memory database with the migrated schema, so a turn pausing for approval replays as it ran."""
    engine = create_engine("sqlite+aiosqlite:///:memory:")
    await upgrade_database(engine)
    return engine, ApprovalStore(session_factory(engine))


async def replay(episode: Episode) -> tuple[list[TurnEvent], list[Divergence]]:
    """Run the episode's turn on the current code; returns its events and the divergences."""
    remote = episode.model is not None and episode.model != PLANNER_NAME
    model = RecordedModel(episode.model, episode.model_steps) if remote and episode.model else None
    # Nothing connects during a replay (the episode's tools are preloaded): public-only is moot.
    pool = McpPool({}, listing_token=lambda server: "", outbound=OutboundGuard(AllowList()))
    catalog = ToolCatalog(pool, ttl_seconds=float("inf"))
    catalog.preload(episode.tools)
    engine, approvals = await _approvals_database()
    models = _ReplayModels(model)
    policies = PolicySet([TenantPolicy.model_validate(document) for document in episode.policies])
    host = AgentHost(
        config=HostConfig(episode.agents, catalog=catalog),
        tools=HostTools(
            pool=pool,
            catalog=catalog,
            runner=RecordedTools(episode.tool_calls),
            breakers=CircuitBreakers(),
            ranker=models.local.ranker,
        ),
        authorizer=Authorizer(policies, NoAuditTrail()),
        models=models,
        approvals=approvals,
        questions=GivenQuestions(episode.questions),
    )
    try:
        turn = TurnInput.model_validate(episode.input.model_dump())
        events = [event async for event in host.run_turn(turn)]
    finally:
        await engine.dispose()
    return events, compare(episode.turn_events(), events)


def replay_file(path: Path) -> list[Divergence]:
    """Replay one episode file (synchronously, for the command line)."""
    episode = Episode.model_validate_json(path.read_text())
    return anyio.run(replay, episode)[1]
