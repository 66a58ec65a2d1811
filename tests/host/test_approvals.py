"""Human approval: a call under policy effect `approve` pauses the turn in the database; an authorised
person of the same tenant approves or rejects it, and the turn resumes on any replica, once."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agentmesh.bus_sql import SqlBus
from agentmesh.cloudevents import EventPublisher
from agentmesh.settings import Settings
from host.agent_host import AgentHost
from host.agents import AgentConfig
from host.approvals import ApprovalAlreadyResolved, ApprovalForbidden, ApprovalNotFound
from host.caller import Caller
from host.events import TurnEvent
from host.turn import TurnInput
from policies.audit import AuditLog
from tests.host.conftest import ACME, collect, make_host, of_type, policies, running, tenant_policy
from tests.host.probe_server import ProbeThread
from tests.support.bus import drain

NOTES = AgentConfig(name="notes", description="Creates notes.", tools=["probe:create_note"], model="local")
POLICY = policies(
    tenant_policy("acme", agents=["notes"], allow=["probe:*"]),
    tenant_policy("globex", agents=["notes"], allow=["probe:*"]),
    base={"tools": {"approve": ["probe:create_note"], "users": ["probe:create_note"]}},
)
ACME_ADMIN = Caller(tenant_id="acme", subject="ada", roles=["tenant_admin"])
GLOBEX_ADMIN = Caller(tenant_id="globex", subject="gil", roles=["tenant_admin"])
ACME_USER = Caller(tenant_id="acme", subject="bob", roles=["user"])
MESSAGE = "Create a note: call the supplier"


async def decide(host: AgentHost, approval_id: str, approver: Caller, *, approve: bool) -> list[TurnEvent]:
    """A person's decision on a paused turn, and the events of the turn it resumes."""
    claimed = await host.claim_approval(approval_id, approver, approve)
    return await collect(host.resume_turn(claimed))


def replica(
    settings: Settings,
    url: str,
    database: async_sessionmaker[AsyncSession],
    events: EventPublisher | None = None,
) -> AgentHost:
    host, _ = make_host(
        settings, {"probe": url}, agents=[NOTES], policy_set=POLICY, sessions=database, events=events
    )
    return host


async def test_an_approval_requested_and_decided_is_told_to_its_tenant_only(
    shared_settings: Settings, probe: ProbeThread, database: async_sessionmaker[AsyncSession]
) -> None:
    bus = SqlBus(database, ack_wait_seconds=30)
    host = replica(shared_settings, probe.url, database, EventPublisher(bus, "/agentmesh/host"))
    async with running(host):
        final = (await collect(host.run_turn(TurnInput(caller=ACME, message=MESSAGE, agent="notes"))))[-1]
        await decide(host, final.approval_id, ACME_ADMIN, approve=False)

    told = await drain(bus, "approvals-watch", "acme")
    assert [(e.type, e.body["subject"], e.body["data"]["status"]) for e in told] == [
        ("approval.requested", final.approval_id, "pending"),
        ("approval.decided", final.approval_id, "rejected"),
    ]
    requested, decided = (e.body["data"] for e in told)
    assert requested["calls"] == [
        {"server": "probe", "tool": "create_note", "reason": requested["calls"][0]["reason"]}
    ]
    assert "arguments" not in requested["calls"][0]  # the call's arguments stay in the platform
    assert (requested["requested_by"], decided["decided_by"]) == ("alice", "ada")
    assert told[0].body["source"] == "/agentmesh/host" and told[0].body["tenantid"] == "acme"
    assert await drain(bus, "approvals-watch-globex", "globex") == []


async def test_a_paused_turn_resumes_on_another_replica_when_approved(
    shared_settings: Settings, probe: ProbeThread, database: async_sessionmaker[AsyncSession]
) -> None:
    first, second = (
        replica(shared_settings, probe.url, database),
        replica(shared_settings, probe.url, database),
    )
    async with running(first), running(second):
        paused = await collect(first.run_turn(TurnInput(caller=ACME, message=MESSAGE, agent="notes")))
        final = paused[-1]
        assert final.outcome == "pending_approval" and final.approval_id
        assert probe.state.calls == []

        [pending] = await second.pending_approvals("acme")
        assert pending.id == final.approval_id
        assert (pending.subject, pending.session_id, pending.agent) == ("alice", "s-acme", "notes")
        assert [(c.server, c.tool, c.arguments) for c in pending.calls] == [
            ("probe", "create_note", {"text": MESSAGE})
        ]
        assert "needs a human approval" in pending.calls[0].reason
        assert pending.calls[0].rule == "base:tools.approve[probe:create_note]"
        assert await second.pending_approvals("globex") == []

        resumed = await decide(second, final.approval_id, ACME_ADMIN, approve=True)
        assert probe.state.calls == [f"create_note:{MESSAGE}"]
        assert [e.type for e in resumed] == ["tool_call", "tool_result", "final"]
        assert resumed[-1].outcome == "answered"
        assert resumed[-1].answer == f"note created: {MESSAGE}"
        assert await first.pending_approvals("acme") == []

        with pytest.raises(ApprovalAlreadyResolved):
            await decide(first, final.approval_id, ACME_ADMIN, approve=True)
        assert len(probe.state.calls) == 1

    for host in (first, second):
        assert host.audit.pending == 0
    events = await AuditLog(database).for_tenant("acme")
    actions = [(e.action, e.resource, e.effect) for e in reversed(events)]
    assert ("approval.requested", "probe:create_note", "approve") in actions
    assert ("approval.resolved", "probe:create_note", "approved") in actions
    assert ("tool.call", "probe:create_note", "ok") in actions
    resolved = next(e for e in events if e.action == "approval.resolved")
    assert resolved.principal == "ada" and resolved.detail == {"requested_by": "alice"}


async def test_a_rejected_call_is_never_made(
    shared_settings: Settings, probe: ProbeThread, database: async_sessionmaker[AsyncSession]
) -> None:
    host = replica(shared_settings, probe.url, database)
    async with running(host):
        final = (await collect(host.run_turn(TurnInput(caller=ACME, message=MESSAGE, agent="notes"))))[-1]
        resumed = await decide(host, final.approval_id, ACME_ADMIN, approve=False)
    assert probe.state.calls == []
    [result] = of_type(resumed, "tool_result")
    assert result.error_code == "rejected"
    assert resumed[-1].answer == "The approver rejected this request; nothing was done."
    assert resumed[-1].outcome == "denied"


async def test_only_an_authorised_person_of_the_same_tenant_may_decide(
    shared_settings: Settings, probe: ProbeThread, database: async_sessionmaker[AsyncSession]
) -> None:
    host = replica(shared_settings, probe.url, database)
    async with running(host):
        final = (await collect(host.run_turn(TurnInput(caller=ACME, message=MESSAGE, agent="notes"))))[-1]
        with pytest.raises(ApprovalNotFound):  # another tenant's approval does not even exist for globex
            await decide(host, final.approval_id, GLOBEX_ADMIN, approve=True)
        with pytest.raises(
            ApprovalForbidden, match="needs one of the roles approver, platform_admin, tenant_admin"
        ):
            await decide(host, final.approval_id, ACME_USER, approve=True)
        with pytest.raises(ApprovalNotFound):
            await decide(host, "no-such-approval", ACME_ADMIN, approve=True)
        assert len(await host.pending_approvals("acme")) == 1
        assert await host.approvals.get(final.approval_id, tenant_id="globex") is None
    assert probe.state.calls == []
