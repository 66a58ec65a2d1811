"""With one server gone its agent says so plainly, every other agent keeps working, and the pool
reconnects when the server comes back: a real server process is killed mid-call and restarted."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from agentmesh.settings import Settings
from host.agent_host import AgentHost
from host.agents import AgentConfig
from host.circuit import CircuitBreakers
from host.turn import TurnInput
from tests.host.conftest import (
    ACME,
    VISITS_AGENT,
    collect,
    make_host,
    of_type,
    policies,
    running,
    tenant_policy,
)
from tests.host.probe_server import ProbeThread
from tests.support.processes import child_env, free_port, stop, wait_healthy

LEDGER_AGENT = AgentConfig(
    name="ledger",
    description="Customer balances from the ledger service, by MST tax code.",
    tools=["ledger:lookup_customer"],
    model="local",
)
QUESTION = "What does customer 0123456789 owe?"


class LedgerProcess:
    """The probe server run as its own process named `ledger`, slow enough to be killed mid-call."""

    def __init__(self, data_dir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/mcp"
        self._env = child_env(data_dir, PROBE_NAME="ledger", PROBE_DELAY_SECONDS="1.5")
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.host.probe_server", "--port", str(self.port)], env=self._env
        )
        wait_healthy(f"http://127.0.0.1:{self.port}/healthz", self.process, timeout=30)

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)


@pytest.fixture
def ledger(shared_settings: Settings) -> Iterator[LedgerProcess]:
    process = LedgerProcess(shared_settings.resolved_data_dir)
    process.start()
    try:
        yield process
    finally:
        if process.process is not None:
            stop(process.process)


def ask(agent: str, message: str) -> TurnInput:
    return TurnInput(caller=ACME, message=message, agent=agent)


async def connected(host: AgentHost, server: str, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(state.name == server and state.connected for state in host.pool.states()):
            return True
        await anyio.sleep(0.1)
    return False


async def test_a_server_killed_mid_call_degrades_its_agent_only_and_recovers(
    shared_settings: Settings, probe: ProbeThread, ledger: LedgerProcess
) -> None:
    host, _ = make_host(
        shared_settings,
        {"ledger": ledger.url, "probe": probe.url},
        agents=[LEDGER_AGENT, VISITS_AGENT],
        policy_set=policies(
            tenant_policy("acme", agents=["ledger", "visits"], allow=["ledger:*", "probe:*"])
        ),
        breakers=CircuitBreakers(failure_threshold=5, reset_seconds=1),
    )
    async with running(host):
        warm = await collect(host.run_turn(ask("visits", "Record a visit labelled south")))
        assert warm[-1].outcome == "answered"
        events: list = []
        calling = anyio.Event()

        async def turn() -> None:
            async for event in host.run_turn(ask("ledger", QUESTION)):
                events.append(event)
                if event.type == "tool_call":
                    calling.set()

        async with anyio.create_task_group() as task_group:
            task_group.start_soon(turn)
            await calling.wait()
            await anyio.sleep(0.3)  # the lookup (1.5 s) is in flight on the ledger server
            killed = time.monotonic()
            ledger.kill()
        assert time.monotonic() - killed < 3  # no waiting on a dead server

        [result] = of_type(events, "tool_result")
        assert result.is_error and result.error_code == "server_unavailable"
        final = events[-1]
        assert final.outcome == "unavailable"
        assert final.answer == (
            "The 'ledger' assistant cannot answer right now: the ledger service is unavailable. "
            "Other assistants keep working; please try again shortly."
        )

        other = await collect(host.run_turn(ask("visits", "Record a visit labelled north")))
        assert other[-1].outcome == "answered"

        down = await collect(host.run_turn(ask("ledger", QUESTION)))
        assert down[-1].outcome == "unavailable"
        assert not any(s.connected for s in host.pool.states() if s.name == "ledger")

        ledger.start()
        assert await connected(host, "ledger"), host.pool.states()
        back = await collect(host.run_turn(ask("ledger", QUESTION)))
        assert back[-1].outcome == "answered", back[-1]
        assert back[-1].answer == "Customer 789 owes 6,789,000 VND."
        assert host.circuit_states()["ledger"] == "closed"
