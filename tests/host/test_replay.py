"""Episodes: a turn recorded as a file replays identically on the same code, and replay flags a
deliberately changed behaviour (in the planner, in the answer, or in the policy) as a divergence."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest

from agentmesh.settings import Settings
from host.agents import AgentConfig
from host.episodes import EpisodeStore, read_episode
from host.models.base import Model, ModelRequest, ModelResponse, TextDelta, ToolCall
from host.models.local import LocalPlanner
from host.models.registry import ModelRegistry
from host.replay import replay
from host.supervisor import GivenQuestions
from host.turn import TurnInput
from tests.host.conftest import (
    ACME,
    PROBE_AGENT,
    VISITS_AGENT,
    collect,
    make_host,
    policies,
    running,
    tenant_policy,
)
from tests.host.probe_server import ProbeThread
from tests.support.processes import child_env

POLICY = policies(tenant_policy("acme", agents=["*"], allow=["probe:*"], models={"allow": ["scripted:*"]}))
QUESTION = "What does customer 0123456789 owe?"


async def record(
    settings: Settings,
    probe: ProbeThread,
    root: Path,
    message: str,
    agent: str | None = None,
    **host_options: object,
) -> Path:
    host, _ = make_host(
        settings,
        {"probe": probe.url},
        agents=[PROBE_AGENT, VISITS_AGENT, *host_options.pop("agents", [])],  # type: ignore[misc]
        policy_set=POLICY,
        episodes=EpisodeStore(root),
        **host_options,  # type: ignore[arg-type]
    )
    async with running(host):
        events = await collect(host.run_turn(TurnInput(caller=ACME, message=message, agent=agent)))
    assert events[-1].outcome == "answered", events[-1]
    [path] = await anyio.to_thread.run_sync(lambda: list(root.rglob("*.json")))
    return path


async def test_a_recorded_turn_replays_without_divergence(
    shared_settings: Settings, probe: ProbeThread, tmp_path: Path
) -> None:
    path = await record(shared_settings, probe, tmp_path, QUESTION)
    assert path.parent.parent.name == "acme"  # episodes are kept per tenant
    episode = read_episode(path)
    assert episode.input.message == QUESTION and episode.model == "local-planner"
    assert [(c.tool, c.arguments) for c in episode.tool_calls] == [("lookup_customer", {"mst": "0123456789"})]
    assert [e["type"] for e in episode.events] == ["route", "tool_call", "tool_result", "final"]

    calls_before = len(probe.state.calls)
    events, divergences = await replay(episode)
    assert divergences == []
    assert events[-1].answer == "Customer 789 owes 6,789,000 VND."
    assert len(probe.state.calls) == calls_before  # replay never calls a real tool


async def test_a_turn_quoting_the_tenant_s_questions_replays_the_ones_it_quoted(
    shared_settings: Settings, probe: ProbeThread, tmp_path: Path
) -> None:
    own = {"accounts": ["How much does customer 3428557611 owe?"]}
    host, _ = make_host(
        shared_settings,
        {"probe": probe.url},
        agents=[PROBE_AGENT, VISITS_AGENT],
        policy_set=POLICY,
        episodes=EpisodeStore(tmp_path),
        questions=GivenQuestions(own),
    )
    async with running(host):
        events = await collect(host.run_turn(TurnInput(caller=ACME, message="What can you do?")))
    assert own["accounts"][0] in events[-1].answer
    [path] = await anyio.to_thread.run_sync(lambda: list(tmp_path.rglob("*.json")))
    episode = read_episode(path)
    assert episode.questions == own
    _, divergences = await replay(episode)
    assert divergences == []


async def test_a_changed_answer_composition_is_flagged(
    shared_settings: Settings, probe: ProbeThread, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    episode = read_episode(await record(shared_settings, probe, tmp_path, QUESTION))
    original = LocalPlanner._answer

    def shouting(self: LocalPlanner, question, result, request):  # type: ignore[no-untyped-def]
        response = original(self, question, result, request)
        return response.model_copy(update={"text": response.text.upper()})

    monkeypatch.setattr(LocalPlanner, "_answer", shouting)
    _, divergences = await replay(episode)
    assert [d.where for d in divergences] == ["event 3 (final) answer"]
    assert divergences[0].recorded == "Customer 789 owes 6,789,000 VND."
    assert divergences[0].replayed == "CUSTOMER 789 OWES 6,789,000 VND."


async def test_a_changed_argument_extraction_is_flagged(
    shared_settings: Settings, probe: ProbeThread, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    episode = read_episode(await record(shared_settings, probe, tmp_path, QUESTION))
    monkeypatch.setattr("host.arguments._find_pattern", lambda pattern, message: ("0999999999", (0, 0)))
    _, divergences = await replay(episode)
    where = [d.where for d in divergences]
    assert "event 1 (tool_call) arguments" in where
    assert "event 2 (tool_result) text" in where  # the new call has no recorded result
    assert "event 3 (final) answer" in where


class ScriptedRemote:
    """Stands in for a remote LLM (unreachable here): calls the lookup, then answers."""

    name = "scripted:model"

    def __init__(self) -> None:
        self._steps = iter(
            [
                ModelResponse(
                    tool_calls=[
                        ToolCall(id="c1", name="probe__lookup_customer", arguments={"mst": "0123456789"})
                    ]
                ),
                ModelResponse(text="They owe 6,789,000 VND."),
            ]
        )

    async def stream(self, request: ModelRequest) -> AsyncIterator[TextDelta | ModelResponse]:
        step = next(self._steps)
        if step.text:
            yield TextDelta(text=step.text)
        yield step


class Scripted(ModelRegistry):
    async def resolve(self, spec: str, *, tenant_id: str, llm_version: int = 0) -> Model:
        return ScriptedRemote()


async def test_a_remote_model_turn_replays_its_recorded_outputs_and_a_policy_change_is_flagged(
    shared_settings: Settings, probe: ProbeThread, tmp_path: Path
) -> None:
    llm_agent = AgentConfig(
        name="llm-accounts",
        description="Balances by MST, answered by an LLM.",
        tools=["probe:*"],
        model="openai:x",
    )
    path = await record(
        shared_settings,
        probe,
        tmp_path,
        "how much does 0123456789 owe",
        agent="llm-accounts",
        agents=[llm_agent],
        models=Scripted(),
    )
    episode = read_episode(path)
    assert episode.model == "scripted:model" and len(episode.model_steps) == 2

    _, same = await replay(episode)
    assert same == []

    tightened = [
        {**document, "tools": {**document["tools"], "deny": ["probe:lookup_customer"]}}
        if document["tenant"] == "acme"
        else document
        for document in episode.policies
    ]
    _, diverged = await replay(episode.model_copy(update={"policies": tightened}))
    # Denied now, the tool is no longer offered: the recorded model's call is refused, not made.
    rule = next(d for d in diverged if d.where == "event 1 (tool_call) decision_rule")
    assert (rule.recorded, rule.replayed) == ("acme:tools.allow[probe:*]", "not-offered")
    result = next(d for d in diverged if d.where == "event 2 (tool_result) text")
    assert result.replayed == "tool 'probe__lookup_customer' is not available to this agent"


async def test_the_replay_command_reports_and_exits_non_zero_on_divergence(
    shared_settings: Settings, probe: ProbeThread, tmp_path: Path
) -> None:
    good = await record(shared_settings, probe, tmp_path / "episodes", QUESTION)
    tampered = tmp_path / "tampered.json"
    recorded = json.loads(good.read_text())
    recorded["events"][-1]["answer"] = "Customer 789 owes nothing."
    tampered.write_text(json.dumps(recorded))
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")

    def run(*files: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "agentmesh.cli", "replay", *map(str, files)],
            env=child_env(shared_settings.resolved_data_dir),
            capture_output=True,
            text=True,
            timeout=120,
        )

    result = run(good, tampered, broken)
    assert result.returncode == 2, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"OK {good}"
    assert lines[1] == f"DIVERGED {tampered} (1 difference)"
    assert lines[2] == (
        '  event 3 (final) answer: recorded "Customer 789 owes nothing.", '
        'replayed "Customer 789 owes 6,789,000 VND."'
    )
    assert f"ERROR {broken}: not a readable episode" in result.stderr
    assert (await replay(read_episode(good)))[1] == []  # exit status 0 exactly when this holds for all
