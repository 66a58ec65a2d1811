"""`POST /api/admin/tenants/{tenant_id}/policy/check`: explain a policy decision and its rule.

The same questions as `agentmesh policy check` (a tool call with its arguments, an agent, a
model, a host page fetching would reach) decided by the same `PolicySet.decide` the host uses for
every turn, over the policy in force on this replica (files with the stored overrides). Each
answer names its effect, its rule and the reason; the overall effect is the strictest of them.
Nothing is called and nothing is audited: it is a question, not a use.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from starlette.requests import Request
from starlette.responses import Response

from gateway.admin_auth import TENANT_PATH, tenant_admin
from gateway.openapi import Operation
from policies.model import Action, Effect, Principal

_SEVERITY: dict[str, int] = {"allow": 0, "approve": 1, "deny": 2}


class PolicyQuestion(BaseModel):
    """What to decide, for which user; at least one of `tool`, `agent`, `model`, `host`."""

    model_config = ConfigDict(extra="forbid")

    tool: str | None = Field(
        default=None, pattern=r"^[A-Za-z0-9_.*-]{1,64}:[A-Za-z0-9_.*-]{1,128}$", description="server:tool"
    )
    arguments: dict[str, Any] | None = Field(default=None, description="the call's arguments (with `tool`)")
    agent: str | None = Field(default=None, min_length=1, max_length=64)
    model: str | None = Field(default=None, min_length=1, max_length=128, description="provider:model")
    host: str | None = Field(default=None, min_length=1, max_length=253, description="a host name")
    private: bool = Field(default=False, description="the host resolves to a private address")
    user: str = Field(default="console", min_length=1, max_length=256, description="the subject deciding for")
    roles: list[str] = Field(default_factory=lambda: ["user"], max_length=3)

    @model_validator(mode="after")
    def _asks_something(self) -> PolicyQuestion:
        if not (self.tool or self.agent or self.model or self.host):
            raise ValueError("say what to check: tool, agent, model or host")
        if self.arguments is not None and not self.tool:
            raise ValueError("arguments need a tool")
        return self

    def questions(self) -> list[tuple[str, Action, str, dict[str, Any] | None]]:
        """(label, action, resource, context) in the order `agentmesh policy check` asks them."""
        asked: list[tuple[str, Action, str, dict[str, Any] | None]] = []
        if self.agent:
            asked.append((f"agent {self.agent}", "use_agent", self.agent, None))
        if self.tool:
            context = {"arguments": self.arguments} if self.arguments is not None else None
            asked.append((f"tool {self.tool}", "call_tool", self.tool, context))
        if self.model:
            asked.append((f"model {self.model}", "use_model", self.model, None))
        if self.host:
            address = "private" if self.private else "public"
            asked.append((f"host {self.host} ({address})", "fetch_host", self.host, {"address": address}))
        return asked


class PolicyAnswer(BaseModel):
    check: str
    action: Action
    resource: str
    effect: Effect
    rule: str
    reason: str


class PolicyExplanation(BaseModel):
    """Each decision with its rule; `effect` is the strictest (deny over approve over allow)."""

    tenant_id: str
    effect: Literal["allow", "approve", "deny"]
    decisions: list[PolicyAnswer]


CHECK = Operation(
    "POST",
    "/api/admin/tenants/{tenant_id}/policy/check",
    "checkPolicy",
    "Explain a policy decision and its rule (the same decision as `agentmesh policy check`)",
    "permissions",
    PolicyExplanation,
    body=PolicyQuestion,
    errors=(400, 403, 404, 413),
    path_schemas=TENANT_PATH,
)


async def check_policy(request: Request) -> Response:
    access = await tenant_admin(request)
    assert access.tenant_id is not None
    body = await CHECK.read_body(request, access.state.settings.max_body_bytes)
    principal = Principal(tenant_id=access.tenant_id, subject=body.user, roles=body.roles)
    policies = access.state.host.policies
    answers = []
    for label, action, resource, context in body.questions():
        decision = policies.decide(principal, action, resource, context)
        answers.append(
            PolicyAnswer(
                check=label,
                action=action,
                resource=resource,
                effect=decision.effect,
                rule=decision.rule,
                reason=decision.reason,
            )
        )
    worst = max((answer.effect for answer in answers), key=_SEVERITY.__getitem__)
    return CHECK.reply(PolicyExplanation(tenant_id=access.tenant_id, effect=worst, decisions=answers))


operations = [CHECK.bind(check_policy)]
