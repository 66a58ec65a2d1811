"""One turn runner: a turn resumed after an approval is admitted, traced, counted, charged and
recorded exactly like a fresh turn, because both are run by `TurnRunner.run`.

Real parts throughout (the probe MCP server over HTTP, SQLite through the migrations, the
in-process rate limiter and turn slots, Prometheus metrics, OpenTelemetry spans); the model is
scripted, standing in for a remote LLM that reports its token use.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import CollectorRegistry
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agentmesh.db import create_engine, session_factory, upgrade_database
from agentmesh.settings import Settings, load_settings
from gateway.admission import Admission, RequestLimits
from gateway.auth import AuthenticatedUser
from gateway.errors import ApiError
from gateway.metrics import GatewayMetrics
from gateway.ratelimit import Charge, InProcessRateLimiter, Quota
from gateway.sessions import InProcessSessionWindows, SessionKey, SessionStore
from gateway.tables import UsageRecordRow
from gateway.tenants import DEMO_TENANTS, TenantDirectory
from gateway.turn_slots import InProcessTurnSlots
from gateway.turns import TurnRequest, TurnRunner, fold
from gateway.uploads import UploadStore
from gateway.usage import UsageLedger
from host.agents import AgentConfig
from host.approvals import ApprovalNotFound
from host.models.base import Model, ModelRequest, ModelResponse, TextDelta, ToolCall
from host.models.registry import ModelRegistry
from host.usage import Usage
from tests.host.conftest import make_host, policies, running, tenant_policy
from tests.host.probe_server import ProbeThread

NOTES = AgentConfig(
    name="notes", description="Creates notes.", tools=["probe:create_note"], model="scripted:x"
)
POLICY = policies(
    tenant_policy("acme", agents=["notes"], allow=["probe:*"], models={"allow": ["scripted:*"]}),
    base={"tools": {"approve": ["probe:create_note"], "users": ["probe:create_note"]}},
)
ALICE = AuthenticatedUser(tenant_id="acme", subject="alice", roles=["user"])
ADA = AuthenticatedUser(tenant_id="acme", subject="ada", roles=["tenant_admin"])
PROPOSAL_TOKENS = Usage(input_tokens=100, output_tokens=20, model_calls=1)
ANSWER_TOKENS = Usage(input_tokens=60, output_tokens=15, model_calls=1)
TOKENS_PER_MINUTE = 10_000


class NoteTaker:
    """A remote model's part: proposes a note, then answers once the tool has answered."""

    name = "scripted:x"

    async def stream(self, request: ModelRequest) -> AsyncIterator[TextDelta | ModelResponse]:
        if request.messages[-1].role == "tool":
            yield ModelResponse(text="The note is written.", usage=ANSWER_TOKENS)
            return
        call = ToolCall(id="note-1", name="probe__create_note", arguments={"text": "call the supplier"})
        yield ModelResponse(tool_calls=[call], usage=PROPOSAL_TOKENS)


class ScriptedModels(ModelRegistry):
    async def resolve(self, spec: str, *, tenant_id: str, llm_version: int = 0) -> Model:
        return NoteTaker()


@dataclass
class Parts:
    runner: TurnRunner
    slots: InProcessTurnSlots
    limiter: InProcessRateLimiter
    metrics: GatewayMetrics
    spans: InMemorySpanExporter
    db: async_sessionmaker[AsyncSession]
    sessions: SessionStore


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return load_settings(
        AGENTMESH_DATA_DIR=tmp_path_factory.mktemp("runner"), DATABASE_URL=None, REDIS_URL=None
    )


@pytest.fixture(scope="module")
def probe(settings: Settings) -> Iterator[ProbeThread]:
    with ProbeThread(settings) as thread:
        yield thread


def limits_for(tenant_id: str) -> RequestLimits:
    return RequestLimits(
        requests_per_minute=1_000,
        tokens_per_minute=TOKENS_PER_MINUTE,
        max_concurrent_turns=1,
        user_requests_per_minute=1_000,
        user_tokens_per_minute=TOKENS_PER_MINUTE,
    )


async def tokens_left(limiter: InProcessRateLimiter, key: str) -> int:
    [decision] = await limiter.hit_all(
        [Charge(key=key, quota=Quota(name="tenant-tokens", limit=TOKENS_PER_MINUTE), cost=0)]
    )
    return decision.remaining


def sample_count(metrics: GatewayMetrics, name: str, **labels: str) -> float:
    value = metrics.registry.get_sample_value(f"{name}_count", labels)
    return value or 0.0


async def test_a_resumed_turn_is_slotted_traced_counted_charged_and_recorded_like_a_fresh_one(
    settings: Settings, probe: ProbeThread
) -> None:
    engine = create_engine(settings.resolved_database_url)
    await upgrade_database(engine)
    db = session_factory(engine)
    await TenantDirectory(db).ensure(DEMO_TENANTS)
    host, _ = make_host(
        settings,
        {"probe": probe.url},
        agents=[NOTES],
        policy_set=POLICY,
        sessions=db,
        models=ScriptedModels(),
    )
    slots = InProcessTurnSlots(lease_seconds=60)
    limiter = InProcessRateLimiter(clock=lambda: 1_000.0)  # time stands still: no quota refills
    metrics = GatewayMetrics(CollectorRegistry())
    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    sessions = SessionStore(db, window=10, windows=InProcessSessionWindows(window=10, ttl_seconds=600))
    admission = Admission(limiter, slots, limits_for, metrics)
    uploads = UploadStore(db, max_bytes=1024, tenant_quota_bytes=4096, retention=timedelta(days=1))
    runner = TurnRunner(
        host, sessions, admission, metrics, UsageLedger(db), uploads, tracer=provider.get_tracer("test")
    )
    key = SessionKey(tenant_id="acme", user_id="alice", session_id="s-notes")

    async with running(host):
        # A fresh turn: it holds acme's one slot while it runs, then pauses for approval.
        fresh = await runner.start(
            ALICE, TurnRequest(message="Note: call the supplier", agent="notes", session=key)
        )
        with pytest.raises(ApprovalNotFound):
            await runner.resume(ADA, "acme", "no-approval-yet", approve=True)
        async with fresh:
            assert await slots.in_use("acme") == 1
            paused, _ = await fold(fresh.events())
        assert paused.outcome == "pending_approval" and paused.approval_id
        assert await slots.in_use("acme") == 0

        # While another turn of acme runs, the resumed turn is refused a slot, and nothing is decided.
        other = await runner.start(ALICE, TurnRequest(message="another", agent="notes"))
        with pytest.raises(ApiError) as busy:
            await runner.resume(ADA, "acme", paused.approval_id, approve=True)
        assert (busy.value.status, busy.value.code) == (429, "too_many_turns")
        await other.aclose()
        assert [a.id for a in await host.pending_approvals("acme")] == [paused.approval_id]

        # Resumed: the same slot, span, metrics, token charge and transcript as the fresh turn.
        resumed = await runner.resume(ADA, "acme", paused.approval_id, approve=True)
        async with resumed:
            assert await slots.in_use("acme") == 1
            answered, steps = await fold(resumed.events())
        assert await slots.in_use("acme") == 0
    assert answered.outcome == "answered" and answered.answer == "The note is written."
    assert [step.type for step in steps] == ["tool_call", "tool_result", "final"]
    assert probe.state.calls == ["create_note:call the supplier"]

    turns = [span for span in spans.get_finished_spans() if span.name == "chat turn"]
    assert [(s.attributes or {}).get("agentmesh.channel") for s in turns] == ["chat", "approval"]
    assert [(s.attributes or {}).get("agentmesh.outcome") for s in turns] == ["pending_approval", "answered"]
    assert (
        sample_count(metrics, "agentmesh_turn_duration_seconds", tenant="acme", outcome="pending_approval")
        == 1
    )
    assert sample_count(metrics, "agentmesh_turn_duration_seconds", tenant="acme", outcome="answered") == 1
    assert (
        sample_count(
            metrics, "agentmesh_tool_call_duration_seconds", server="probe", tool="create_note", outcome="ok"
        )
        == 1
    )
    charged = (PROPOSAL_TOKENS.total_tokens, ANSWER_TOKENS.total_tokens)
    assert (
        metrics.registry.get_sample_value("agentmesh_tokens_total", {"tenant": "acme", "direction": "input"})
        == PROPOSAL_TOKENS.input_tokens + ANSWER_TOKENS.input_tokens
    )
    assert await tokens_left(limiter, "{acme}:tokens") == TOKENS_PER_MINUTE - sum(charged)
    assert await tokens_left(limiter, "{acme}:user:alice:tokens") == TOKENS_PER_MINUTE - sum(charged)

    transcript = await sessions.transcript(key)
    assert [(m.role, m.content) for m in transcript] == [
        ("user", "Note: call the supplier"),
        ("assistant", paused.answer),
        ("assistant", "The note is written."),
    ]
    assert transcript[-1].meta["approval_id"] == paused.approval_id
    assert transcript[-1].meta["decided_by"] == "ada"
    async with db() as session:
        rows = (await session.execute(select(UsageRecordRow).order_by(UsageRecordRow.id))).scalars().all()
    assert [(r.user_id, r.channel, r.outcome, r.input_tokens) for r in rows] == [
        ("alice", "chat", "pending_approval", PROPOSAL_TOKENS.input_tokens),
        ("alice", "approval", "answered", ANSWER_TOKENS.input_tokens),
    ]
    await engine.dispose()
