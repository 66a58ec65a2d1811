"""The agent host as the gateway uses it: single policy-checked tool calls, the tenant's catalog,
follow-up routing from session memory, per-tenant limits and models, and redacted responses."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agentmesh.settings import Settings
from host.agent_host import AgentHost
from host.agents import AgentConfig
from host.models.base import Model, ModelRequest, ModelResponse, TextDelta
from host.models.registry import ModelRegistry
from host.turn import TurnInput
from policies.audit import AuditLog
from tests.host.conftest import (
    ACME,
    GLOBEX,
    PROBE_AGENT,
    VISITS_AGENT,
    collect,
    make_host,
    of_type,
    policies,
    running,
    tenant_policy,
)
from tests.host.probe_server import ProbeThread

CONTACTS = AgentConfig(
    name="contacts",
    description="A customer's contact details (email, phone) by MST tax code.",
    examples=["How do I reach customer 0123456789?", "Contact details of MST 0312345678"],
    tools=["probe:customer_contact"],
    model="local",
)
POLICY = policies(
    tenant_policy(
        "acme",
        agents=["accounts", "visits", "contacts"],
        allow=["probe:*"],
        tools={
            "allow": ["probe:*"],
            "deny": ["probe:big_report"],
            "approve": ["probe:create_note"],
            "users": ["probe:create_note"],
        },
    ),
    tenant_policy(
        "globex",
        agents=["accounts", "contacts"],
        allow=["probe:lookup_customer", "probe:customer_contact", "probe:acme_discount"],
        data={"redact": ["email", "phone"]},
        limits={"max_steps": 1},
    ),
)


@pytest.fixture
def host(
    shared_settings: Settings, probe: ProbeThread, database: async_sessionmaker[AsyncSession]
) -> AgentHost:
    agent_host, _ = make_host(
        shared_settings,
        {"probe": probe.url},
        agents=[PROBE_AGENT, VISITS_AGENT, CONTACTS],
        policy_set=POLICY,
        sessions=database,
    )
    return agent_host


async def test_a_single_call_is_policy_checked_and_audited(
    host: AgentHost, probe: ProbeThread, database: async_sessionmaker[AsyncSession]
) -> None:
    async with running(host):
        allowed = await host.call_tool(ACME, "probe", "lookup_customer", {"mst": "0123456789"})
        denied = await host.call_tool(ACME, "probe", "big_report", {})
        needs_approval = await host.call_tool(ACME, "probe", "create_note", {"text": "x"})
        foreign = await host.call_tool(GLOBEX, "probe", "acme_discount", {"mst": "0123456789"})
        unknown = await host.call_tool(ACME, "probe", "no_such_tool", {})
        no_server = await host.call_tool(ACME, "nowhere", "tool", {})
    assert not allowed.is_error and allowed.structured["tenant"] == "acme"
    assert denied.error_code == "denied" and "probe:big_report" in denied.text
    assert needs_approval.error_code == "approval_required"
    assert foreign.error_code == unknown.error_code == no_server.error_code == "tool_not_found"
    assert probe.state.calls == ["lookup_customer:0123456789"]
    audit = [(e.action, e.resource, e.effect) for e in reversed(await AuditLog(database).for_tenant("acme"))]
    assert audit == [
        ("tool.call", "probe:lookup_customer", "ok"),
        ("policy.decision", "probe:big_report", "deny"),
        ("policy.decision", "probe:create_note", "approve"),
    ]
    assert await AuditLog(database).for_tenant("globex") == []  # a hidden tool gets no decision at all


async def test_only_a_tool_that_forwards_the_users_token_receives_it(host: AgentHost) -> None:
    signed_in = ACME.model_copy(update={"user_token": "alice-own-token"})
    async with running(host):
        forwarded = await host.call_tool(signed_in, "probe", "crm_profile", {})
        resumed = await host.call_tool(ACME, "probe", "crm_profile", {})  # e.g. after an approval
        elsewhere = await host.call_tool(signed_in, "probe", "lookup_customer", {"mst": "0123456789"})
    assert not forwarded.is_error and forwarded.text == "forwarded token: alice-own-token"
    assert resumed.error_code == "user_token_unavailable" and "ask again" in resumed.text
    assert not elsewhere.is_error
    assert "alice-own-token" not in signed_in.model_dump_json()  # never stored with a turn


async def test_the_catalog_is_the_tenants_own(host: AgentHost) -> None:
    async with running(host):
        acme = {tool.name for tool in await host.catalog_for(ACME)}
        globex = {tool.name for tool in await host.catalog_for(GLOBEX)}
    assert "big_report" not in acme and {"lookup_customer", "create_note", "acme_discount"} <= acme
    assert globex == {"lookup_customer", "customer_contact"}


async def test_a_short_unclear_follow_up_stays_with_the_previous_agent(host: AgentHost) -> None:
    async with running(host):
        alone = await collect(host.run_turn(TurnInput(caller=ACME, message="and 3190048330?")))
        followed = await collect(
            host.run_turn(TurnInput(caller=ACME, message="and 3190048330?", memory={"_agent": "accounts"}))
        )
        remembered = await collect(
            host.run_turn(
                TurnInput(
                    caller=ACME, message="and for him?", memory={"_agent": "accounts", "mst": "0123456789"}
                )
            )
        )
    # Alone, a bare tax code fits contacts about as well as accounts (the router may ask which):
    # the previous agent is what settles it.
    assert alone[0].agent != "accounts"
    assert (followed[0].agent, followed[0].reason) == ("accounts", "follow_up")
    assert of_type(followed, "tool_call")[0].arguments == {"mst": "3190048330"}
    assert followed[-1].memory == {
        "mst": "3190048330",
        "_agent": "accounts",
        "_language": "en",
        "_tool": "probe__lookup_customer",
    }
    assert of_type(remembered, "tool_call")[0].arguments == {"mst": "0123456789"}


async def test_the_tenants_step_limit_applies(host: AgentHost) -> None:
    async with running(host):
        acme = await collect(host.run_turn(TurnInput(caller=ACME, message="x 0123456789", agent="accounts")))
        globex = await collect(
            host.run_turn(TurnInput(caller=GLOBEX, message="x 0123456789", agent="accounts"))
        )
    assert acme[-1].outcome == "answered"
    assert globex[-1].outcome == "limit_reached"  # globex allows one step: the call, but no answer step


async def test_answers_are_redacted_where_the_tenants_policy_says(host: AgentHost) -> None:
    ask = "How do I reach customer 0123456789?"
    async with running(host):
        acme = await collect(host.run_turn(TurnInput(caller=ACME, message=ask)))
        globex_host_policy = host.policies.limits("globex")
        globex = await collect(host.run_turn(TurnInput(caller=GLOBEX, message=ask, agent="contacts")))
    assert acme[-1].answer == "Reach ap@customer789.vn or 0912 345 678."
    [result] = of_type(globex, "tool_result")
    assert result.text == "Reach [EMAIL] or [PHONE]."
    assert result.structured == {"mst": "0123456789", "email": "[EMAIL]", "phone": "[PHONE]"}
    assert globex_host_policy.max_steps == 1


class Streaming:
    """Stands in for a remote LLM whose text streams in pieces that split an email address."""

    name = "streaming:model"

    async def stream(self, request: ModelRequest) -> AsyncIterator[TextDelta | ModelResponse]:
        pieces = ["Write to ap@cus", "tomer789.vn today.\nOr call 0912 3", "45 678."]
        for piece in pieces:
            yield TextDelta(text=piece)
        yield ModelResponse(text="".join(pieces))


class StreamingModels(ModelRegistry):
    async def resolve(self, spec: str, *, tenant_id: str, llm_version: int = 0) -> Model:
        return Streaming()


async def test_streamed_text_is_redacted_even_when_split_across_pieces(
    shared_settings: Settings, probe: ProbeThread
) -> None:
    llm = AgentConfig(
        name="contacts", description="Contacts.", tools=["probe:customer_contact"], model="streaming:x"
    )
    globex = policies(
        tenant_policy(
            "globex",
            agents=["contacts"],
            allow=["probe:*"],
            data={"redact": ["email", "phone"]},
            models={"allow": ["streaming:*"]},
        )
    )
    host, _ = make_host(
        shared_settings, {"probe": probe.url}, agents=[llm], policy_set=globex, models=StreamingModels()
    )
    async with running(host):
        events = await collect(host.run_turn(TurnInput(caller=GLOBEX, message="contact?", agent="contacts")))
    streamed = "".join(event.text for event in of_type(events, "delta"))
    assert streamed == "Write to [EMAIL] today.\nOr call [PHONE]."
    assert events[-1].answer == streamed


async def test_a_model_without_a_key_or_not_allowed_ends_the_turn_with_a_clear_error(
    shared_settings: Settings, probe: ProbeThread
) -> None:
    remote = AgentConfig(
        name="remote", description="Remote.", tools=["probe:*"], model="anthropic:claude-sonnet-5"
    )
    local = AgentConfig(name="local", description="Local.", tools=["probe:*"], model="local")
    no_local = policies(
        tenant_policy("acme", agents=["*"], allow=["probe:*"], models={"allow": ["anthropic:*"]}),
        base={"models": {}},
    )
    host, _ = make_host(shared_settings, {"probe": probe.url}, agents=[remote, local], policy_set=no_local)
    async with running(host):
        asked = "look up customer 3190048330"
        keyless = await collect(host.run_turn(TurnInput(caller=ACME, message=asked, agent="remote")))
        forbidden = await collect(host.run_turn(TurnInput(caller=ACME, message=asked, agent="local")))
    [error] = of_type(keyless, "error")
    assert error.code == "model_unavailable"
    assert keyless[-1].outcome == "error"
    assert keyless[-1].answer.startswith("This assistant cannot answer: no API key for anthropic")
    [denied] = of_type(forbidden, "error")
    assert denied.code == "model_denied" and "'local'" in denied.message
