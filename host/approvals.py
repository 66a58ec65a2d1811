"""Pending approvals: turns paused on tool calls that a person must approve or reject.

A pending approval holds the whole paused turn (the conversation so far, the calls waiting, the
session memory and attachments), so whichever host replica handles the decision resumes it from
the database alone. Claiming one is a conditional update (`status = 'pending'`): of two people
or replicas deciding at once, exactly one wins and the other is told it was already decided.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agentmesh.cloudevents import EventPublisher, EventType
from agentmesh.errors import AgentmeshError
from agentmesh.tenant_rows import TenantRows, delete_declared
from host.caller import Caller
from host.catalog import split_external_name
from host.language import DEFAULT_LANGUAGE, Language
from host.loop import PausedTurn
from host.models.base import Attachment
from host.tables import PendingApprovalRow

ApprovalStatus = Literal["pending", "approved", "rejected"]

APPROVER_ROLES = frozenset({"approver", "tenant_admin", "platform_admin"})
"""Roles allowed to decide on their tenant's approvals (a platform admin on any tenant's)."""


class ApprovalError(AgentmeshError):
    """Deciding on an approval failed."""


class ApprovalNotFound(ApprovalError):
    code = "approval_not_found"


class ApprovalAlreadyResolved(ApprovalError):
    code = "approval_already_resolved"


class ApprovalForbidden(ApprovalError):
    code = "approver_required"


class PendingCall(BaseModel):
    """One call waiting for a decision, as an approver sees it."""

    server: str
    tool: str
    arguments: dict[str, Any]
    reason: str = ""
    rule: str = Field(default="", description="the rule asking approval: `owner:tools.approve[pattern]`")
    titles: dict[Language, str] = Field(
        default_factory=dict, description="the tool's title per language, where its server gives one"
    )


class PendingApproval(BaseModel):
    """An approval request: who asked, which agent, which calls, and its status."""

    id: str
    tenant_id: str
    subject: str
    session_id: str | None
    agent: str
    calls: list[PendingCall]
    status: ApprovalStatus
    created_at: datetime
    resolved_at: datetime | None = None
    resolved_by: str | None = None


class PausedTurnRecord(BaseModel):
    """What is stored to resume a turn."""

    caller: Caller
    paused: PausedTurn
    memory: dict[str, Any] = Field(default_factory=dict)
    attachments: list[Attachment] = Field(default_factory=list)
    language: Language = DEFAULT_LANGUAGE


def _calls(paused: PausedTurn) -> list[PendingCall]:
    calls = []
    for call in paused.pending:
        server, tool = split_external_name(call.name)
        calls.append(
            PendingCall(
                server=server,
                tool=tool,
                arguments=call.arguments,
                reason=paused.reasons.get(call.id, ""),
                rule=paused.rules.get(call.id, ""),
            )
        )
    return calls


def _view(row: PendingApprovalRow) -> PendingApproval:
    record = PausedTurnRecord.model_validate(row.state)
    return PendingApproval(
        id=row.id,
        tenant_id=row.tenant_id,
        subject=row.subject,
        session_id=row.session_id,
        agent=row.agent,
        calls=_calls(record.paused),
        status=row.status,  # type: ignore[arg-type]
        created_at=row.created_at,
        resolved_at=row.resolved_at,
        resolved_by=row.resolved_by,
    )


def may_decide(approver: Caller, tenant_id: str) -> bool:
    """Whether `approver` may approve or reject `tenant_id`'s calls."""
    if "platform_admin" in approver.roles:
        return True
    return approver.tenant_id == tenant_id and bool(APPROVER_ROLES & set(approver.roles))


class ApprovalStore:
    """Pending approvals in the database, always read within one tenant."""

    TENANT_ROWS = (TenantRows("host_pending_approvals"),)

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], events: EventPublisher | None = None
    ) -> None:
        self._sessions = sessions
        self._events = events

    async def delete_tenant(self, db: AsyncSession, tenant_id: str) -> dict[str, int]:
        """Delete the tenant's rows in `db`'s transaction (tenant deletion)."""
        return await delete_declared(db, self.TENANT_ROWS, tenant_id)

    async def create(self, agent: str, record: PausedTurnRecord) -> PendingApproval:
        """Persist a paused turn as a new pending approval."""
        row = PendingApprovalRow(
            id=uuid.uuid4().hex,
            tenant_id=record.caller.tenant_id,
            subject=record.caller.subject,
            session_id=record.caller.session_id,
            agent=agent,
            tools=[f"{c.server}:{c.tool}" for c in _calls(record.paused)],
            status="pending",
            created_at=datetime.now(UTC),
            state=record.model_dump(mode="json"),
        )
        async with self._sessions() as db, db.begin():
            db.add(row)
        approval = _view(row)
        await self._publish("approval.requested", approval)
        return approval

    async def pending(self, tenant_id: str) -> list[PendingApproval]:
        """The tenant's approvals still waiting, oldest first."""
        query = (
            select(PendingApprovalRow)
            .where(PendingApprovalRow.tenant_id == tenant_id, PendingApprovalRow.status == "pending")
            .order_by(PendingApprovalRow.created_at)
        )
        async with self._sessions() as db:
            return [_view(row) for row in (await db.execute(query)).scalars()]

    async def get(self, approval_id: str, *, tenant_id: str) -> PendingApproval | None:
        """One of the tenant's approvals (None for another tenant's: its existence is not revealed)."""
        async with self._sessions() as db:
            row = await db.get(PendingApprovalRow, approval_id)
            if row is None or row.tenant_id != tenant_id:
                return None
            return _view(row)

    async def claim(
        self, approval_id: str, approver: Caller, *, approve: bool
    ) -> tuple[PendingApproval, PausedTurnRecord]:
        """Decide a pending approval, exactly once; returns it and the turn to resume."""
        async with self._sessions() as db, db.begin():
            row = await db.get(PendingApprovalRow, approval_id)
            foreign = row is not None and row.tenant_id != approver.tenant_id
            if row is None or (foreign and "platform_admin" not in approver.roles):
                raise ApprovalNotFound(f"no approval '{approval_id}'")  # another tenant's stays unrevealed
            if not may_decide(approver, row.tenant_id):
                raise ApprovalForbidden(
                    "deciding on approvals needs one of the roles " + ", ".join(sorted(APPROVER_ROLES))
                )
            now = datetime.now(UTC)
            result = await db.execute(
                update(PendingApprovalRow)
                .where(PendingApprovalRow.id == approval_id, PendingApprovalRow.status == "pending")
                .values(
                    status="approved" if approve else "rejected",
                    resolved_at=now,
                    resolved_by=approver.subject,
                )
                .execution_options(synchronize_session=False)
            )
            if result.rowcount == 0:  # type: ignore[attr-defined]
                raise ApprovalAlreadyResolved(f"approval '{approval_id}' was already decided")
            await db.refresh(row)
            decided = _view(row), PausedTurnRecord.model_validate(row.state)
        await self._publish("approval.decided", decided[0])
        return decided

    async def _publish(self, type: EventType, approval: PendingApproval) -> None:
        """Tell the tenant (its webhooks) what approval waits or how it was decided; the calls are
        named, their arguments stay in the platform (an approver reads them in the admin API)."""
        if self._events is None:
            return
        data = {
            "approval_id": approval.id,
            "status": approval.status,
            "agent": approval.agent,
            "requested_by": approval.subject,
            "session_id": approval.session_id,
            "calls": [{"server": c.server, "tool": c.tool, "reason": c.reason} for c in approval.calls],
            "decided_by": approval.resolved_by,
        }
        await self._events.publish(
            approval.tenant_id, type, data, subject=approval.id, event_id=f"{type}:{approval.id}"
        )


class ApprovalsUnavailable(ApprovalError):
    """This host has no database to keep paused turns in."""

    code = "approvals_unavailable"


class NoApprovals:
    """The approvals of a host without a database: nothing waits, and nothing can be paused."""

    async def create(self, agent: str, record: PausedTurnRecord) -> PendingApproval:
        raise ApprovalsUnavailable("approvals need the platform database")

    async def pending(self, tenant_id: str) -> list[PendingApproval]:
        return []

    async def get(self, approval_id: str, *, tenant_id: str) -> PendingApproval | None:
        return None

    async def claim(
        self, approval_id: str, approver: Caller, *, approve: bool
    ) -> tuple[PendingApproval, PausedTurnRecord]:
        raise ApprovalNotFound(f"no approval '{approval_id}'")


Approvals = ApprovalStore | NoApprovals
