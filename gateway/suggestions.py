"""Suggested questions: what a tenant's users see under each assistant on the chat's welcome page.

An agent's examples serve every tenant that uses it, so a platform agent's examples can name no
tenant's records, and clicked they find nothing ("What is the debt of MST 0123456789?"). A
tenant's admins set, per agent, questions about the tenant's own customers, shipments and orders;
the tenant's users see those, and the agent's examples where the tenant has set none.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agentmesh.tenant_rows import TenantRows, delete_declared
from gateway.tables import AgentSuggestionRow, utcnow

MAX_SUGGESTIONS = 8

Question = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]


class SuggestionsIn(BaseModel):
    """The questions suggested under one agent, in the order shown; none: the agent's examples."""

    model_config = ConfigDict(extra="forbid")

    questions: list[Question] = Field(max_length=MAX_SUGGESTIONS)


class SuggestionsView(BaseModel):
    """The questions a tenant's users see under one agent, and whether the tenant chose them."""

    agent: str
    questions: list[str]
    tenant_set: bool = Field(description="the tenant's own questions rather than the agent's examples")


DEMO_SUGGESTIONS: Mapping[str, Mapping[str, list[str]]] = {
    "acme": {
        "debt": [
            "Công nợ của khách hàng có MST 3428557611 là bao nhiêu?",
            "What is the debt for customer MST 3428557611?",
            "Khách hàng nào quá hạn thanh toán?",
            "Which customers are overdue?",
        ],
        "shipment": [
            "Vận đơn SH-1042 đang ở đâu?",
            "Where is shipment SH-1042?",
            "Đơn hàng SO-A5001 thế nào rồi?",
            "What is the stock level of ACM-0001?",
        ],
    },
    "globex": {
        "debt": [
            "Công nợ của khách hàng có MST 0156756353 là bao nhiêu?",
            "What is the debt for customer MST 0156756353?",
            "Khách hàng nào quá hạn thanh toán?",
            "Which customers are overdue?",
        ],
    },
}
"""The demo tenants' questions, about their own demo ERP records (globex's policy enables no
shipment agent)."""


class SuggestionStore:
    """Suggested questions by tenant and agent, in the platform database."""

    TENANT_ROWS = (TenantRows("agent_suggestions"),)

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def of_tenant(self, tenant_id: str) -> dict[str, list[str]]:
        """The tenant's questions by agent (an agent it never set is absent; one it cleared, empty)."""
        async with self._sessions() as db:
            rows = await db.scalars(
                select(AgentSuggestionRow).where(AgentSuggestionRow.tenant_id == tenant_id)
            )
            return {row.agent: list(row.questions) for row in rows}

    async def put(self, tenant_id: str, agent: str, questions: list[str], by: str) -> None:
        """Set the tenant's questions under `agent`. None shows the agent's examples again; the row
        stays, so the demo's questions are not seeded back over an admin's choice."""
        try:
            await self._write(tenant_id, agent, questions, by)
        except IntegrityError:
            # Another request (or replica) inserted the row between our read and write: it exists now.
            await self._write(tenant_id, agent, questions, by)

    async def _write(self, tenant_id: str, agent: str, questions: list[str], by: str) -> None:
        async with self._sessions() as db, db.begin():
            row = await db.get(AgentSuggestionRow, (tenant_id, agent))
            if row is None:
                row = AgentSuggestionRow(tenant_id=tenant_id, agent=agent, questions=questions, updated_by=by)
                db.add(row)
            else:
                row.questions, row.updated_by, row.updated_at = questions, by, utcnow()

    async def ensure_demo(self) -> None:
        """The demo tenants' questions, where their admins have set none (their edits are kept);
        safe when replicas start together."""
        for tenant_id, by_agent in DEMO_SUGGESTIONS.items():
            for agent, questions in by_agent.items():
                try:
                    async with self._sessions() as db, db.begin():
                        if await db.get(AgentSuggestionRow, (tenant_id, agent)) is None:
                            db.add(
                                AgentSuggestionRow(
                                    tenant_id=tenant_id, agent=agent, questions=questions, updated_by="demo"
                                )
                            )
                except IntegrityError:
                    continue  # another replica seeded it first

    async def delete_tenant(self, db: AsyncSession, tenant_id: str) -> dict[str, int]:
        """Delete the tenant's rows in `db`'s transaction (tenant deletion)."""
        return await delete_declared(db, self.TENANT_ROWS, tenant_id)
