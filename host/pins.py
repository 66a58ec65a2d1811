"""Tool pinning: a tool whose definition changes is withheld until an admin accepts it.

The first time the host sees a server's tool it records a hash of the tool's name, description
and schemas as accepted. When the server later serves a different definition, the new one is
recorded as pending, an audit event `tool.pin.changed` is raised, and the tool is withheld from
every catalog (so no model reads a description it was not meant to) until an admin accepts the
new definition with `accept`. A server that reverts to the accepted definition is served again.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import structlog
from pydantic import BaseModel
from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agentmesh.errors import AgentmeshError
from agentmesh.tenant_rows import TenantRows, delete_declared
from host.catalog import ToolSpec
from host.config_versions import bump
from host.tables import PLATFORM_OWNER, ToolPinRow
from policies.audit import AuditEvent, AuditLog

log = structlog.get_logger(__name__)

PLATFORM_AUDIT_TENANT = "*"
"""Audit tenant of events about platform tools (tenant-owned tools audit under their tenant)."""

PinKey = tuple[str, str]


class PinNotFound(AgentmeshError):
    """No changed definition of that tool is waiting for acceptance."""

    code = "pin_change_not_found"


class PinChange(BaseModel):
    """A tool whose served definition differs from the accepted one."""

    server: str
    tool: str
    owner_tenant: str | None
    accepted_hash: str
    pending_hash: str
    accepted_definition: dict[str, Any]
    pending_definition: dict[str, Any]
    changed_at: datetime | None

    @property
    def qualified_name(self) -> str:
        return f"{self.server}:{self.tool}"


def _change(row: ToolPinRow) -> PinChange:
    assert row.pending_hash is not None and row.pending_definition is not None
    return PinChange(
        server=row.server,
        tool=row.tool,
        owner_tenant=row.owner or None,
        accepted_hash=row.accepted_hash,
        pending_hash=row.pending_hash,
        accepted_definition=row.accepted_definition,
        pending_definition=row.pending_definition,
        changed_at=row.changed_at,
    )


class ToolPins:
    """Accepted tool definition hashes, shared by every host replica through the database."""

    TENANT_ROWS = (TenantRows("host_tool_pins", "owner"),)

    def __init__(self, sessions: async_sessionmaker[AsyncSession], audit: AuditLog) -> None:
        self._sessions = sessions
        self._audit = audit

    async def delete_tenant(self, db: AsyncSession, tenant_id: str) -> dict[str, int]:
        """Delete the pins of the tenant's own tools in `db`'s transaction."""
        removed = await delete_declared(db, self.TENANT_ROWS, tenant_id)
        if any(removed.values()):
            await bump(db, "pins")
        return removed

    async def accepted(self) -> dict[PinKey, str]:
        """Every pinned tool's accepted hash, by (server, tool)."""
        async with self._sessions() as db:
            rows = await db.execute(select(ToolPinRow.server, ToolPinRow.tool, ToolPinRow.accepted_hash))
            return {(server, tool): digest for server, tool, digest in rows}

    async def observe(self, server: str, tools: list[ToolSpec]) -> dict[PinKey, str]:
        """Record what `server` serves now; returns its accepted hashes (new tools pinned as seen)."""
        try:
            return await self._observe(server, tools)
        except IntegrityError:
            # another replica pinned the same new tool at the same moment: its pin stands
            return await self._observe(server, tools)

    async def _observe(self, server: str, tools: list[ToolSpec]) -> dict[PinKey, str]:
        now = datetime.now(UTC)
        changed: list[ToolSpec] = []
        async with self._sessions() as db, db.begin():
            rows = {
                row.tool: row
                for row in (await db.execute(select(ToolPinRow).where(ToolPinRow.server == server))).scalars()
            }
            for tool in tools:
                row = rows.get(tool.name)
                if row is None:
                    row = ToolPinRow(
                        server=server,
                        tool=tool.name,
                        owner=tool.owner_tenant or PLATFORM_OWNER,
                        accepted_hash=tool.definition_hash,
                        accepted_definition=tool.definition(),
                        first_seen_at=now,
                    )
                    db.add(row)
                    rows[tool.name] = row
                elif tool.definition_hash == row.accepted_hash:
                    if row.pending_hash is not None:  # the server went back to the accepted definition
                        row.pending_hash = None
                        row.pending_definition = None
                elif tool.definition_hash != row.pending_hash:
                    # Conditional, so that of several replicas seeing the change at once exactly one
                    # records it (and raises the audit event).
                    result = await db.execute(
                        update(ToolPinRow)
                        .where(
                            ToolPinRow.server == server,
                            ToolPinRow.tool == tool.name,
                            or_(
                                ToolPinRow.pending_hash.is_(None),
                                ToolPinRow.pending_hash != tool.definition_hash,
                            ),
                        )
                        .values(
                            pending_hash=tool.definition_hash,
                            pending_definition=tool.definition(),
                            changed_at=now,
                        )
                        .execution_options(synchronize_session=False)
                    )
                    if result.rowcount == 1:  # type: ignore[attr-defined]
                        changed.append(tool)
            if changed:
                await bump(db, "pins")
            accepted = {(server, name): row.accepted_hash for name, row in rows.items()}
        if changed:
            await self._audit.append(
                *(
                    AuditEvent(
                        tenant_id=tool.owner_tenant or PLATFORM_AUDIT_TENANT,
                        principal="agentmesh-host",
                        action="tool.pin.changed",
                        resource=tool.qualified_name,
                        effect="withheld",
                        rule="tool-pinning",
                        detail={"pending_hash": tool.definition_hash},
                    )
                    for tool in changed
                )
            )
            for tool in changed:
                log.warning("tool_pin_changed", tool=tool.qualified_name, withheld=True)
        return accepted

    async def changed(self, tenant_id: str | None = None) -> list[PinChange]:
        """Tools withheld for a changed definition; with `tenant_id`, only the platform's and its own."""
        query = select(ToolPinRow).where(ToolPinRow.pending_hash.is_not(None))
        if tenant_id is not None:
            query = query.where(or_(ToolPinRow.owner == PLATFORM_OWNER, ToolPinRow.owner == tenant_id))
        async with self._sessions() as db:
            rows = (await db.execute(query.order_by(ToolPinRow.server, ToolPinRow.tool))).scalars()
            return [_change(row) for row in rows]

    async def accept(self, server: str, tool: str, accepted_by: str) -> None:
        """Accept the pending definition of `server:tool`; every replica serves it from its next turn."""
        async with self._sessions() as db, db.begin():
            row = await db.get(ToolPinRow, (server, tool))
            if row is None or row.pending_hash is None or row.pending_definition is None:
                raise PinNotFound(f"'{server}:{tool}' has no changed definition waiting for acceptance")
            row.accepted_hash = row.pending_hash
            row.accepted_definition = row.pending_definition
            row.pending_hash = None
            row.pending_definition = None
            row.accepted_by = accepted_by
            row.accepted_at = datetime.now(UTC)
            owner = row.owner or PLATFORM_AUDIT_TENANT
            await bump(db, "pins")
        await self._audit.append(
            AuditEvent(
                tenant_id=owner,
                principal=accepted_by,
                action="tool.pin.accepted",
                resource=f"{server}:{tool}",
                effect="allow",
                rule="tool-pinning",
            )
        )
