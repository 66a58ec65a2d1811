"""A tenant's daily model budget is enforced before every paid model step, and the usage ledger
and the Prometheus counters agree on what was spent, to the millionth of a dollar.

Real parts (the probe MCP server, SQLite through the migrations, the usage ledger, the turn
runner); the model is scripted, standing in for a remote LLM that reports its cost.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, time, timedelta

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import func, select

from agentmesh.bus_sql import SqlBus
from agentmesh.cloudevents import EventPublisher
from agentmesh.db import create_engine, session_factory, upgrade_database
from agentmesh.settings import Settings, load_settings
from gateway.admission import Admission, RequestLimits
from gateway.auth import AuthenticatedUser
from gateway.budgets import DailyBudgets
from gateway.metrics import GatewayMetrics
from gateway.ratelimit import InProcessRateLimiter
from gateway.sessions import InProcessSessionWindows, SessionStore
from gateway.tables import UsageRecordRow
from gateway.tenants import DEMO_TENANTS, TenantDirectory
from gateway.turn_slots import InProcessTurnSlots
from gateway.turns import TurnRequest, TurnRunner, fold
from gateway.uploads import UploadStore
from gateway.usage import UsageLedger
from host.agents import AgentConfig
from host.models.base import Model, ModelRequest, ModelResponse, TextDelta
from host.models.registry import ModelRegistry
from host.usage import Usage
from tests.host.conftest import make_host, policies, running, tenant_policy
from tests.host.probe_server import ProbeThread
from tests.support.bus import drain

PAID = AgentConfig(
    name="paid", description="A remote model.", tools=["probe:lookup_customer"], model="paid:x"
)
FREE = AgentConfig(
    name="free", description="The local planner.", tools=["probe:lookup_customer"], model="local"
)
DAILY_BUDGET_USD = 0.003
STEP_COST = Usage(input_tokens=50, output_tokens=10, cost_usd=0.002, model_calls=1)
POLICY = policies(
    tenant_policy(
        "acme",
        agents=["paid", "free"],
        allow=["probe:*"],
        models={"allow": ["paid:*", "local"]},
        limits={"daily_cost_usd": DAILY_BUDGET_USD},
    )
)
ALICE = AuthenticatedUser(tenant_id="acme", subject="alice")
# Noon of the day the test runs: the ledger dates its rows by the wall clock, so the budget's clock
# must name the same day (a fixed date passed only on that date).
NOON = datetime.combine(datetime.now(UTC).date(), time(12), tzinfo=UTC)


class PaidModel:
    name = "paid:x"

    def __init__(self) -> None:
        self.steps = 0

    async def stream(self, request: ModelRequest) -> AsyncIterator[TextDelta | ModelResponse]:
        self.steps += 1
        yield ModelResponse(text="Here you are.", usage=STEP_COST)


class PaidModels(ModelRegistry):
    def __init__(self, model: PaidModel) -> None:
        super().__init__()
        self._model = model

    async def resolve(self, spec: str, *, tenant_id: str, llm_version: int = 0) -> Model:
        return self._model if spec.startswith("paid") else self.local


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return load_settings(
        AGENTMESH_DATA_DIR=tmp_path_factory.mktemp("budgets"), DATABASE_URL=None, REDIS_URL=None
    )


@pytest.fixture(scope="module")
def probe(settings: Settings) -> Iterator[ProbeThread]:
    with ProbeThread(settings) as thread:
        yield thread


def limits_for(tenant_id: str) -> RequestLimits:
    return RequestLimits(
        requests_per_minute=1_000,
        tokens_per_minute=1_000_000,
        max_concurrent_turns=4,
        user_requests_per_minute=1_000,
        user_tokens_per_minute=1_000_000,
    )


async def test_a_spent_budget_refuses_the_next_paid_step_and_the_ledger_and_metrics_agree(
    settings: Settings, probe: ProbeThread
) -> None:
    engine = create_engine(settings.resolved_database_url)
    await upgrade_database(engine)
    db = session_factory(engine)
    await TenantDirectory(db).ensure(DEMO_TENANTS)
    ledger = UsageLedger(db)
    bus = SqlBus(db, ack_wait_seconds=30)
    model = PaidModel()
    host, _ = make_host(
        settings,
        {"probe": probe.url},
        agents=[PAID, FREE],
        policy_set=POLICY,
        sessions=db,
        models=PaidModels(model),
        budget=DailyBudgets(ledger, POLICY, events=EventPublisher(bus, "/test"), clock=lambda: NOON),
    )
    metrics = GatewayMetrics(CollectorRegistry())
    sessions = SessionStore(db, window=10, windows=InProcessSessionWindows(window=10, ttl_seconds=600))
    admission = Admission(InProcessRateLimiter(), InProcessTurnSlots(lease_seconds=60), limits_for, metrics)
    uploads = UploadStore(
        db,
        max_bytes=1_000_000,
        tenant_quota_bytes=10_000_000,
        retention=timedelta(days=1),
    )
    runner = TurnRunner(host, sessions, admission, metrics, ledger, uploads)

    async def ask(message: str, agent: str) -> tuple[str, str]:
        turn = await runner.start(ALICE, TurnRequest(message=message, agent=agent))
        async with turn:
            final, _ = await fold(turn.events())
        return final.outcome, final.answer

    async with running(host):
        first = await ask("What does customer 0123456789 owe?", "paid")  # spent 0 of 0.003
        second = await ask("And customer 0312345678?", "paid")  # spent 0.002: still under
        refused = await ask("One more, for 0101234567?", "paid")  # spent 0.004: over
        refused_vi = await ask("Khách hàng 0101234567 còn nợ bao nhiêu?", "paid")
        free = await ask("What does customer 0123456789 owe?", "free")  # the local planner costs nothing
    assert [first[0], second[0]] == ["answered", "answered"]
    assert model.steps == 2, "no paid step ran once the budget was spent"
    assert refused == (
        "error",
        "Your organisation has used its model budget for today ($0.003 a day); assistants that use a "
        "language model can answer again after 00:00 UTC.",
    )
    assert refused_vi[0] == "error" and refused_vi[1].startswith("Tổ chức của bạn đã dùng hết ngân sách")
    assert free[0] == "answered"

    async with db() as session:
        ledger_micro = (await session.execute(select(func.sum(UsageRecordRow.cost_micro_usd)))).scalar_one()
    counted = metrics.registry.get_sample_value("agentmesh_cost_microdollars_total", {"tenant": "acme"})
    assert ledger_micro == counted == 2 * round(STEP_COST.cost_usd * 1_000_000)

    # The crossing was told once per threshold, though three more turns saw the budget spent.
    told = await drain(bus, "budget-watch", "acme")
    assert [(e.type, e.body["data"]["percent"]) for e in told] == [
        ("budget.threshold", 80),
        ("budget.threshold", 100),
    ]
    assert told[0].body["data"]["limit_usd"] == 0.003 and told[0].body["tenantid"] == "acme"
    await engine.dispose()
