"""`POST /api/admin/tenants/{tenant_id}/routing/explain`: which agent would answer a message, and why.

The supervisor's own decision for a user of the tenant (`host.supervisor`), over the agents and
policy in force now: the chosen agent or none, the router's confidence and reason, every
candidate with its score and whether the tenant's policy enables it, whether a short message
would stay with the previous agent (a follow-up), and, when nobody answers, what the user would
be told instead. Nothing runs: no model, no tool.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import Response

from gateway.admin_auth import TENANT_PATH, tenant_admin
from gateway.openapi import Operation
from gateway.schemas import MAX_MESSAGE_CHARS
from host.caller import Caller
from host.turn import LAST_AGENT_KEY, TurnInput
from policies.model import Principal

AGENT_NAME_PATTERN = r"^[a-z][a-z0-9_-]{0,39}$"


class RoutingQuestion(BaseModel):
    """A message to route as a user of the tenant would send it."""

    model_config = ConfigDict(extra="forbid")

    message: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS)
    previous_agent: str | None = Field(
        default=None,
        pattern=AGENT_NAME_PATTERN,
        description="the agent that answered the previous turn of the conversation (for follow-ups)",
    )
    roles: list[str] = Field(default_factory=lambda: ["user"], max_length=3, description="the user's roles")


class RoutingCandidate(BaseModel):
    agent: str
    score: float
    enabled: bool = Field(description="the tenant's policy lets its users talk to this agent")


class RoutingExplanation(BaseModel):
    """The supervisor's decision for the message."""

    agent: str | None = Field(description="the agent that would answer; null: nobody, `answer` says why")
    confidence: float
    reason: str = Field(
        description="e.g. confident, follow_up, low_confidence, multiple_intents, agent_not_enabled, "
        "greeting, thanks, farewell, capabilities (small talk, answered without an agent)"
    )
    follow_up: bool
    candidates: list[RoutingCandidate]
    enabled_agents: list[str]
    answer: str | None = Field(default=None, description="when no agent answers: what the user is told")
    duration_ms: float


EXPLAIN = Operation(
    "POST",
    "/api/admin/tenants/{tenant_id}/routing/explain",
    "explainRouting",
    "Which agent would answer a message for a user of the tenant, and why",
    "agents",
    RoutingExplanation,
    body=RoutingQuestion,
    errors=(400, 403, 404, 413),
    path_schemas=TENANT_PATH,
)


async def explain_routing(request: Request) -> Response:
    access = await tenant_admin(request)
    assert access.tenant_id is not None
    body = await EXPLAIN.read_body(request, access.state.settings.max_body_bytes)
    host = access.state.host
    await host.config.refresh()
    registry = host.config.registry
    caller = Caller(tenant_id=access.tenant_id, subject=access.user.subject, roles=body.roles)
    memory: dict[str, Any] = {LAST_AGENT_KEY: body.previous_agent} if body.previous_agent else {}
    turn = TurnInput(caller=caller, message=body.message, memory=memory)
    routing = await host.supervisor.choose(registry, turn)
    event = routing.event
    principal = Principal(tenant_id=access.tenant_id, subject=access.user.subject, roles=body.roles)
    candidates = [
        RoutingCandidate(
            agent=str(candidate["agent"]),
            score=round(float(candidate["score"]), 4),
            enabled=host.policies.decide(principal, "use_agent", str(candidate["agent"])).allowed,
        )
        for candidate in event.candidates
    ]
    answer = None
    if routing.agent is None:
        answer, _ = await host.supervisor.without_agent(
            registry, turn, event, turn.user_language(), host.questions
        )
    return EXPLAIN.reply(
        RoutingExplanation(
            agent=event.agent,
            confidence=round(event.confidence, 4),
            reason=event.reason,
            follow_up=event.reason == "follow_up",
            candidates=candidates,
            enabled_agents=sorted(agent.name for agent in host.agents_for(access.tenant_id)),
            answer=answer,
            duration_ms=event.duration_ms,
        )
    )


operations = [EXPLAIN.bind(explain_routing)]
