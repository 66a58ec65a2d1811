"""The usage ledger: what each tenant's requests consumed, appended when each request ends.

One row per turn (a chat turn, an OpenAI-compatible completion, a turn resumed after an approval)
with its tokens, cost and tool calls, appended when the turn ends. Tool calls through `/mcp` use
no model and are counted in the audit log instead. Summaries are SQL aggregates over one
tenant's rows.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, Literal

import sqlalchemy as sa
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agentmesh.tenant_rows import TenantRows, delete_declared
from gateway.tables import UsageRecordRow
from host.usage import Usage

Channel = Literal["chat", "openai", "approval"]
MICRO = 1_000_000


class UsageTotals(BaseModel):
    """Sums over a set of requests."""

    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    cost_usd: float = 0.0
    model_calls: int = 0
    tool_calls: int = 0


class DailyUsage(UsageTotals):
    day: date


class AgentUsage(UsageTotals):
    agent: str | None = Field(description="the agent that answered; null for turns no agent took")


class ChannelUsage(UsageTotals):
    channel: Channel


class UsageSummary(BaseModel):
    """A tenant's usage between `since` and `until` (inclusive days, UTC)."""

    tenant_id: str
    since: date
    until: date
    totals: UsageTotals
    by_day: list[DailyUsage]
    by_agent: list[AgentUsage]
    by_channel: list[ChannelUsage]


_SUMS = (
    sa.func.count(UsageRecordRow.id),
    sa.func.coalesce(sa.func.sum(UsageRecordRow.input_tokens), 0),
    sa.func.coalesce(sa.func.sum(UsageRecordRow.output_tokens), 0),
    sa.func.coalesce(sa.func.sum(UsageRecordRow.cost_micro_usd), 0),
    sa.func.coalesce(sa.func.sum(UsageRecordRow.model_calls), 0),
    sa.func.coalesce(sa.func.sum(UsageRecordRow.tool_calls), 0),
)


def _totals(row: Any) -> dict[str, Any]:
    requests, input_tokens, output_tokens, cost, model_calls, tool_calls = (int(v) for v in row)
    return {
        "requests": requests,
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "total_tokens": input_tokens + output_tokens,
        "cost_usd": cost / MICRO,
        "model_calls": model_calls,
        "tool_calls": tool_calls,
    }


class UsageLedger:
    """Appends usage rows and summarises one tenant's."""

    TENANT_ROWS = (TenantRows("usage_records"),)

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def delete_tenant(self, db: AsyncSession, tenant_id: str) -> dict[str, int]:
        """Delete the tenant's rows in `db`'s transaction (tenant deletion)."""
        return await delete_declared(db, self.TENANT_ROWS, tenant_id)

    async def record(
        self,
        *,
        tenant_id: str,
        user_id: str,
        channel: Channel,
        outcome: str,
        usage: Usage,
        agent: str | None = None,
        at: datetime | None = None,
    ) -> None:
        """Append one request's usage."""
        entry = self.entry(
            tenant_id=tenant_id,
            user_id=user_id,
            channel=channel,
            outcome=outcome,
            usage=usage,
            agent=agent,
            at=at,
        )
        await self.add(entry)

    async def add(self, entry: UsageRecordRow) -> None:
        """Append a row made by `entry`."""
        async with self._sessions() as db, db.begin():
            db.add(entry)

    @staticmethod
    def entry(
        *,
        tenant_id: str,
        user_id: str,
        channel: Channel,
        outcome: str,
        usage: Usage,
        agent: str | None = None,
        at: datetime | None = None,
    ) -> UsageRecordRow:
        """One request's usage row, for a caller that adds it to a transaction of its own (a chat
        turn writes it with the transcript, so a turn costs one database write)."""
        at = at or datetime.now(UTC)
        return UsageRecordRow(
            tenant_id=tenant_id,
            user_id=user_id,
            channel=channel,
            agent=agent,
            outcome=outcome,
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cost_micro_usd=round(usage.cost_usd * MICRO),
            model_calls=usage.model_calls,
            tool_calls=usage.tool_calls,
            day=at.astimezone(UTC).date().isoformat(),
            at=at,
        )

    async def cost_micro_usd(self, tenant_id: str, day: date) -> int:
        """What `tenant_id`'s turns cost on `day` (UTC), in millionths of a dollar."""
        query = sa.select(sa.func.coalesce(sa.func.sum(UsageRecordRow.cost_micro_usd), 0)).where(
            UsageRecordRow.tenant_id == tenant_id, UsageRecordRow.day == day.isoformat()
        )
        async with self._sessions() as db:
            return int((await db.execute(query)).scalar_one())

    async def summary(self, tenant_id: str, since: date, until: date) -> UsageSummary:
        """Totals, per day, per agent and per channel, for `tenant_id` only."""
        scope = sa.and_(
            UsageRecordRow.tenant_id == tenant_id,
            UsageRecordRow.day >= since.isoformat(),
            UsageRecordRow.day <= until.isoformat(),
        )
        async with self._sessions() as db:
            totals = (await db.execute(sa.select(*_SUMS).where(scope))).one()
            days = await db.execute(
                sa.select(UsageRecordRow.day, *_SUMS)
                .where(scope)
                .group_by(UsageRecordRow.day)
                .order_by(UsageRecordRow.day)
            )
            agents = await db.execute(
                sa.select(UsageRecordRow.agent, *_SUMS)
                .where(scope)
                .group_by(UsageRecordRow.agent)
                .order_by(UsageRecordRow.agent)
            )
            channels = await db.execute(
                sa.select(UsageRecordRow.channel, *_SUMS)
                .where(scope)
                .group_by(UsageRecordRow.channel)
                .order_by(UsageRecordRow.channel)
            )
            return UsageSummary(
                tenant_id=tenant_id,
                since=since,
                until=until,
                totals=UsageTotals(**_totals(totals)),
                by_day=[DailyUsage(day=date.fromisoformat(r[0]), **_totals(r[1:])) for r in days],
                by_agent=[AgentUsage(agent=r[0], **_totals(r[1:])) for r in agents],
                by_channel=[
                    ChannelUsage.model_validate({"channel": r[0], **_totals(r[1:])}) for r in channels
                ],
            )
