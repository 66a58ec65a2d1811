"""`/api/admin/tenants/{tenant_id}/approvals`: tool calls waiting for a person, and deciding them.

A turn that reaches a tool under `approve` in the tenant's policy pauses; the pause is stored with
the whole turn. Approving or rejecting here resumes that turn on this replica (whichever one
paused it) and answers with how it ended; a decision is taken exactly once, so a second one is
a 409. The decision and the calls it released are audited by the host.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import Response

from gateway.admin_auth import TENANT_PATH, AdminAccess, tenant_admin
from gateway.openapi import Operation
from gateway.schemas import Step
from gateway.sessions import SessionKey, StoredMessage
from gateway.turns import step_of
from host.approvals import ApprovalNotFound, PendingApproval
from host.caller import Caller
from host.events import FinalEvent
from host.usage import Usage

APPROVAL_PATH: dict[str, dict[str, Any]] = {
    **TENANT_PATH,
    "approval_id": {"type": "string", "pattern": r"^[A-Za-z0-9_-]{1,64}$"},
}


class ApprovalList(BaseModel):
    """The tenant's turns waiting for a decision, oldest first."""

    items: list[PendingApproval]


class ResumedTurn(BaseModel):
    """How the paused turn ended after the decision."""

    approval_id: str
    decision: Literal["approved", "rejected"]
    agent: str | None
    answer: str
    outcome: str
    data: dict[str, Any] | None = None
    render: dict[str, Any] | None = None
    citations: list[dict[str, Any]] = Field(default_factory=list)
    steps: list[Step]
    usage: Usage
    next_approval_id: str | None = Field(default=None, description="set when the turn paused again")


LIST = Operation(
    "GET",
    "/api/admin/tenants/{tenant_id}/approvals",
    "listApprovals",
    "List the tenant's tool calls waiting for approval",
    "approvals",
    ApprovalList,
    errors=(403, 404),
    path_schemas=TENANT_PATH,
)
APPROVE = Operation(
    "POST",
    "/api/admin/tenants/{tenant_id}/approvals/{approval_id}/approve",
    "approve",
    "Approve the waiting calls and resume the turn",
    "approvals",
    ResumedTurn,
    errors=(403, 404, 409),
    path_schemas=APPROVAL_PATH,
)
REJECT = Operation(
    "POST",
    "/api/admin/tenants/{tenant_id}/approvals/{approval_id}/reject",
    "reject",
    "Reject the waiting calls; the turn ends telling the user so",
    "approvals",
    ResumedTurn,
    errors=(403, 404, 409),
    path_schemas=APPROVAL_PATH,
)


async def list_approvals(request: Request) -> Response:
    access = await tenant_admin(request)
    assert access.tenant_id is not None
    return LIST.reply(ApprovalList(items=await access.state.host.pending_approvals(access.tenant_id)))


async def _decide(access: AdminAccess, approval_id: str, approve: bool) -> ResumedTurn:
    assert access.tenant_id is not None
    host = access.state.host
    pending = await host.approvals.get(approval_id, tenant_id=access.tenant_id) if host.approvals else None
    if pending is None:
        raise ApprovalNotFound(f"no approval '{approval_id}' for tenant '{access.tenant_id}'")
    approver = Caller(tenant_id=access.user.tenant_id, subject=access.user.subject, roles=access.user.roles)
    steps: list[Step] = []
    final: FinalEvent | None = None
    async for event in host.resolve_approval(approval_id, approver, approve):
        step = step_of(event)
        if step is not None:
            steps.append(step)
        if isinstance(event, FinalEvent):
            final = event
    assert final is not None, "a resumed turn always ends with a final event"
    await _record(access, pending, final, steps)
    return ResumedTurn(
        approval_id=approval_id,
        decision="approved" if approve else "rejected",
        agent=final.agent,
        answer=final.answer,
        outcome=final.outcome,
        data=final.data,
        render=final.render,
        citations=final.citations,
        steps=steps,
        usage=final.usage,
        next_approval_id=final.approval_id,
    )


async def _record(
    access: AdminAccess, pending: PendingApproval, final: FinalEvent, steps: list[Step]
) -> None:
    """The resumed answer joins the paused turn's session, with its usage in the same write."""
    ledger = access.state.admin.usage
    entry = ledger.entry(
        tenant_id=pending.tenant_id,
        user_id=access.user.subject,
        channel="approval",
        outcome=final.outcome,
        usage=final.usage,
        agent=final.agent,
    )
    if pending.session_id is not None:
        answer = StoredMessage(
            role="assistant",
            content=final.answer,
            agent=final.agent,
            meta={
                "outcome": final.outcome,
                "approval_id": pending.id,
                "decided_by": access.user.subject,
                "tool_calls": [
                    {"server": step.server, "tool": step.tool, "arguments": step.arguments}
                    for step in steps
                    if step.type == "tool_call"
                ],
                "usage": final.usage.model_dump(),
            },
        )
        key = SessionKey(tenant_id=pending.tenant_id, user_id=pending.subject, session_id=pending.session_id)
        if await access.state.sessions.append_answer(key, answer, final.memory, also=[entry]):
            return
    await ledger.add(entry)


async def approve(request: Request) -> Response:
    access = await tenant_admin(request)
    return APPROVE.reply(await _decide(access, request.path_params["approval_id"], approve=True))


async def reject(request: Request) -> Response:
    access = await tenant_admin(request)
    return REJECT.reply(await _decide(access, request.path_params["approval_id"], approve=False))


operations = [LIST, APPROVE, REJECT]
routes = [LIST.route(list_approvals), APPROVE.route(approve), REJECT.route(reject)]
