"""The audit log: every policy decision, tool call and admin change, appended with its rule.

Arguments are never stored, only a hash of their canonical JSON, so the log proves what was
asked without keeping the data itself; personal data in an event's details is masked before it
is written. Reads are always scoped to one tenant.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agentmesh.redaction import Redactor
from agentmesh.tenant_rows import TenantRows, delete_declared
from policies.tables import AuditEventRow

_DETAIL_REDACTOR = Redactor()


def arguments_hash(arguments: Mapping[str, Any] | None) -> str | None:
    """SHA-256 of the canonical JSON of `arguments` (None when there are none)."""
    if arguments is None:
        return None
    canonical = json.dumps(arguments, sort_keys=True, separators=(",", ":"), default=str, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


class AuditEvent(BaseModel):
    """What happened, who did it, to what, with which outcome and under which rule."""

    tenant_id: str
    principal: str
    action: str = Field(description="e.g. policy.decision, tool.call, admin.agent.update, tool.pin.changed")
    resource: str = Field(description="e.g. erp:get_customer_debt, agent:debt")
    effect: str = Field(description="allow, deny, approve, ok, error, ...")
    rule: str = ""
    arguments_hash: str | None = None
    detail: dict[str, Any] = Field(default_factory=dict)
    at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    id: int | None = None


def audit_row(event: AuditEvent, redactor: Redactor = _DETAIL_REDACTOR) -> AuditEventRow:
    """The row for `event`, its details redacted; add it to a transaction that also writes the
    change it records, so the change and its audit record commit or fail together."""
    row = AuditEventRow(**event.model_dump(exclude={"id", "detail"}))
    row.detail = redactor.redact_obj(event.detail)
    return row


class AuditLog:
    """Appends to and reads from the audit table.

    Records are never changed; they are deleted only with their tenant (`delete_tenant`), whose
    deletion is itself recorded under the platform.
    """

    TENANT_ROWS = (TenantRows("audit_events"),)

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], *, redactor: Redactor | None = None
    ) -> None:
        self._sessions = sessions
        self._redactor = redactor or _DETAIL_REDACTOR

    async def delete_tenant(self, db: AsyncSession, tenant_id: str) -> dict[str, int]:
        """Delete the tenant's rows in `db`'s transaction (tenant deletion)."""
        return await delete_declared(db, self.TENANT_ROWS, tenant_id)

    async def append(self, *events: AuditEvent) -> None:
        """Write `events` in one transaction (details redacted)."""
        async with self._sessions() as db, db.begin():
            db.add_all(audit_row(event, self._redactor) for event in events)

    async def for_tenant(
        self,
        tenant_id: str,
        *,
        limit: int = 100,
        before_id: int | None = None,
        action: str | None = None,
        resource: str | None = None,
        principal: str | None = None,
        effect: str | None = None,
    ) -> list[AuditEvent]:
        """The tenant's most recent events, newest first (page with `before_id`); `action` and
        `resource` match as prefixes (`admin.`, `erp:`), `principal` and `effect` exactly."""
        query = select(AuditEventRow).where(AuditEventRow.tenant_id == tenant_id)
        if before_id is not None:
            query = query.where(AuditEventRow.id < before_id)
        if action:
            query = query.where(AuditEventRow.action.startswith(action, autoescape=True))
        if resource:
            query = query.where(AuditEventRow.resource.startswith(resource, autoescape=True))
        if principal:
            query = query.where(AuditEventRow.principal == principal)
        if effect:
            query = query.where(AuditEventRow.effect == effect)
        async with self._sessions() as db:
            rows = (await db.execute(query.order_by(AuditEventRow.id.desc()).limit(limit))).scalars()
            return [
                AuditEvent(
                    id=row.id,
                    at=row.at,
                    tenant_id=row.tenant_id,
                    principal=row.principal,
                    action=row.action,
                    resource=row.resource,
                    effect=row.effect,
                    rule=row.rule,
                    arguments_hash=row.arguments_hash,
                    detail=row.detail or {},
                )
                for row in rows
            ]
