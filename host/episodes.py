"""Episodes: a turn recorded with everything needed to re-run it against other code.

An episode holds the turn's input, the agents and policy documents in force, the tools offered,
each model step's output, each tool call's result and the events the turn yielded. With
`AGENTMESH_RECORD_EPISODES=true` the host writes one JSON file per turn under
`<data dir>/episodes/<tenant>/<date>/`; `agentmesh replay FILE...` (`host.replay`) re-runs them.
Episodes keep the conversation as it was (replay needs the exact arguments), so they stay in the
tenant's folder of the data directory and are off unless switched on.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import anyio
import structlog
from pydantic import BaseModel, Field, TypeAdapter

from host.agents import AgentConfig
from host.caller import Caller
from host.catalog import ToolSpec
from host.events import TurnEvent
from host.executor import ToolOutcome
from host.models.base import Attachment, Message, ModelResponse, ToolCall
from policies.model import Decision

log = structlog.get_logger(__name__)

EPISODE_FORMAT = 1
_SAFE = re.compile(r"[^a-z0-9_-]")
TURN_EVENTS: TypeAdapter[list[TurnEvent]] = TypeAdapter(list[TurnEvent])


class EpisodeInput(BaseModel):
    """The turn as the host received it."""

    caller: Caller
    message: str
    history: list[Message] = Field(default_factory=list)
    memory: dict[str, Any] = Field(default_factory=dict)
    attachments: list[Attachment] = Field(default_factory=list)
    agent: str | None = None


class RecordedToolCall(BaseModel):
    """One tool call that ran, with its result."""

    server: str
    tool: str
    arguments: dict[str, Any]
    decision_rule: str
    outcome: ToolOutcome


class Episode(BaseModel):
    """One recorded turn."""

    format: int = EPISODE_FORMAT
    id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    recorded_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    input: EpisodeInput
    agents: list[AgentConfig] = Field(default_factory=list, description="the agents visible to the tenant")
    policies: list[dict[str, Any]] = Field(default_factory=list, description="the tenant's policy documents")
    tools: list[ToolSpec] = Field(
        default_factory=list, description="every tool the turn could have been offered"
    )
    questions: dict[str, list[str]] = Field(
        default_factory=dict,
        description="the tenant's suggested questions by agent, when the turn quoted them",
    )
    model: str | None = None
    model_steps: list[ModelResponse] = Field(default_factory=list)
    tool_calls: list[RecordedToolCall] = Field(default_factory=list)
    events: list[dict[str, Any]] = Field(default_factory=list)

    def turn_events(self) -> list[TurnEvent]:
        return TURN_EVENTS.validate_python(self.events)


class TurnRecorder(Protocol):
    """What a turn tells its episode as it runs (a `TurnObserver`, plus the turn's events)."""

    def offered(self, tools: list[ToolSpec]) -> None: ...

    def used_model(self, name: str) -> None: ...

    def read_questions(self, questions: dict[str, list[str]]) -> None: ...

    def model_step(self, response: ModelResponse) -> None: ...

    def tool_ran(self, tool: ToolSpec, call: ToolCall, decision: Decision, outcome: ToolOutcome) -> None: ...

    def tool_not_offered(self, call: ToolCall) -> None: ...

    def event(self, event: TurnEvent) -> None: ...

    async def finish(self) -> None:
        """Write the episode (after the turn's final event)."""
        ...


class EpisodeRecorder:
    """Collects one turn's model steps, tool calls and events, then writes the episode."""

    def __init__(self, episode: Episode, store: EpisodeStore) -> None:
        self.episode = episode
        self._store = store

    def offered(self, tools: list[ToolSpec]) -> None:
        self.episode.tools = tools

    def used_model(self, name: str) -> None:
        self.episode.model = name

    def read_questions(self, questions: dict[str, list[str]]) -> None:
        self.episode.questions = questions

    def model_step(self, response: ModelResponse) -> None:
        self.episode.model_steps.append(response)

    def tool_ran(self, tool: ToolSpec, call: ToolCall, decision: Decision, outcome: ToolOutcome) -> None:
        self.episode.tool_calls.append(
            RecordedToolCall(
                server=tool.server,
                tool=tool.name,
                arguments=call.arguments,
                decision_rule=decision.rule,
                outcome=outcome,
            )
        )

    def tool_not_offered(self, call: ToolCall) -> None:
        return None  # the refusal shows in the recorded events

    def event(self, event: TurnEvent) -> None:
        self.episode.events.append(event.model_dump(mode="json"))

    async def finish(self) -> None:
        await self._store.write(self.episode)


class _Unrecorded:
    """The recorder of a turn when episodes are off: told everything, keeps nothing."""

    def offered(self, tools: list[ToolSpec]) -> None:
        return None

    def used_model(self, name: str) -> None:
        return None

    def read_questions(self, questions: dict[str, list[str]]) -> None:
        return None

    def model_step(self, response: ModelResponse) -> None:
        return None

    def tool_ran(self, tool: ToolSpec, call: ToolCall, decision: Decision, outcome: ToolOutcome) -> None:
        return None

    def tool_not_offered(self, call: ToolCall) -> None:
        return None

    def event(self, event: TurnEvent) -> None:
        return None

    async def finish(self) -> None:
        return None


UNRECORDED: TurnRecorder = _Unrecorded()


class Episodes(Protocol):
    """Where turns are recorded, if anywhere."""

    def recorder(
        self, turn: EpisodeInput, agents: list[AgentConfig], policies: list[dict[str, Any]]
    ) -> TurnRecorder: ...


class NoEpisodes:
    """Episodes off (the default): every turn gets the recorder that keeps nothing."""

    def recorder(
        self, turn: EpisodeInput, agents: list[AgentConfig], policies: list[dict[str, Any]]
    ) -> TurnRecorder:
        return UNRECORDED


class EpisodeStore:
    """Episode files under `<root>/<tenant>/<date>/<time>-<id>.json`."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def recorder(
        self, turn: EpisodeInput, agents: list[AgentConfig], policies: list[dict[str, Any]]
    ) -> TurnRecorder:
        """A recorder for one turn, holding its input and the configuration in force."""
        return EpisodeRecorder(Episode(input=turn, agents=agents, policies=policies), self)

    def tenant_directory(self, tenant_id: str) -> Path:
        return self.root / (_SAFE.sub("_", tenant_id.lower()) or "_")

    def path_for(self, episode: Episode) -> Path:
        stamp = episode.recorded_at
        return (
            self.tenant_directory(episode.input.caller.tenant_id)
            / stamp.strftime("%Y-%m-%d")
            / f"{stamp.strftime('%H%M%S')}-{episode.id}.json"
        )

    async def delete_tenant(self, tenant_id: str) -> int:
        """Delete the tenant's recorded episodes (tenant deletion); how many there were.

        Folder names fold case and odd characters, so only episodes recorded for exactly this
        tenant are removed, one by one; the folder goes when nothing else is left in it.
        """
        folder = self.tenant_directory(tenant_id)

        def remove() -> int:
            removed = 0
            for path in sorted(folder.rglob("*.json")) if folder.is_dir() else []:
                if read_episode(path).input.caller.tenant_id == tenant_id:
                    path.unlink()
                    removed += 1
            for directory in sorted(folder.rglob("*"), reverse=True) if folder.is_dir() else []:
                if directory.is_dir() and not any(directory.iterdir()):
                    directory.rmdir()
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
            return removed

        return await anyio.to_thread.run_sync(remove)

    async def write(self, episode: Episode) -> Path:
        """Write the episode (in a worker thread: file I/O stays off the event loop)."""
        path = self.path_for(episode)
        text = episode.model_dump_json(indent=1)

        def write() -> None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)

        await anyio.to_thread.run_sync(write)
        log.debug("episode_written", path=str(path))
        return path


def read_episode(path: Path) -> Episode:
    """An episode file, validated."""
    return Episode.model_validate_json(path.read_text())
