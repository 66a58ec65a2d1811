"""`/api/admin/tenants/{tenant_id}/approvals`: tool calls waiting for a person, and deciding them.

A turn that reaches a tool under `approve` in the tenant's policy pauses; the pause is stored with
the whole turn. Approving or rejecting here resumes that turn on this replica (whichever one
paused it), through the gateway's one turn runner (`gateway.turns`: the turn's owner's slot and
quotas, its trace, metrics and transcript, like any turn), and answers with how it ended; a
decision is taken exactly once, so a second one is a 409. The decision and the calls it released
are audited by the host.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import Response

from gateway.admin_auth import TENANT_PATH, AdminAccess, tenant_admin
from gateway.openapi import Operation
from gateway.schemas import Step
from gateway.turns import fold
from host.answers import tool_titles
from host.approvals import PendingApproval
from host.catalog import ToolCatalog
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
    errors=(403, 404, 409, 429),
    path_schemas=APPROVAL_PATH,
)
REJECT = Operation(
    "POST",
    "/api/admin/tenants/{tenant_id}/approvals/{approval_id}/reject",
    "reject",
    "Reject the waiting calls; the turn ends telling the user so",
    "approvals",
    ResumedTurn,
    errors=(403, 404, 409, 429),
    path_schemas=APPROVAL_PATH,
)


async def list_approvals(request: Request) -> Response:
    access = await tenant_admin(request)
    assert access.tenant_id is not None
    host = access.state.host
    pending = await host.pending_approvals(access.tenant_id)
    return LIST.reply(ApprovalList(items=[_titled(approval, host.catalog) for approval in pending]))


def _titled(approval: PendingApproval, catalog: ToolCatalog) -> PendingApproval:
    """The approval with each call's tool title, so an approver reads what the call does."""
    calls = []
    for call in approval.calls:
        tool = catalog.find(call.server, call.tool)
        if tool is not None and tool.visible_to(approval.tenant_id):
            call = call.model_copy(update={"titles": tool_titles(tool.title, tool.render)})
        calls.append(call)
    return approval.model_copy(update={"calls": calls})


async def _decide(access: AdminAccess, approval_id: str, approve: bool) -> ResumedTurn:
    assert access.tenant_id is not None
    turn = await access.state.turns.resume(access.user, access.tenant_id, approval_id, approve=approve)
    async with turn:
        final, steps = await fold(turn.events())
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


async def approve(request: Request) -> Response:
    access = await tenant_admin(request)
    return APPROVE.reply(await _decide(access, request.path_params["approval_id"], approve=True))


async def reject(request: Request) -> Response:
    access = await tenant_admin(request)
    return REJECT.reply(await _decide(access, request.path_params["approval_id"], approve=False))


operations = [LIST.bind(list_approvals), APPROVE.bind(approve), REJECT.bind(reject)]
