"""Agents in the database: the admin API writes them, every host replica reads them.

Each write bumps the `agents` counter of `host_config_versions` in the same transaction, so a
change takes effect on the next turn of every replica with no restart. The YAML demo agents are
the seed: written once into an empty store, never again (an admin's deletion stays deleted).
"""

from __future__ import annotations

import builtins
from datetime import UTC, datetime

from sqlalchemy import delete, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agentmesh.errors import AgentmeshError
from agentmesh.tenant_rows import TenantRows, delete_declared
from host.agents import AgentConfig
from host.config_versions import bump
from host.tables import PLATFORM_OWNER, AgentRow, ConfigVersionRow


class AgentNotFound(AgentmeshError):
    """No agent of that name for that owner."""

    code = "agent_not_found"


def _owner(tenant_id: str | None) -> str:
    return tenant_id or PLATFORM_OWNER


def _config(row: AgentRow) -> AgentConfig:
    return AgentConfig.model_validate({**row.config, "tenant_id": row.owner or None})


class AgentStore:
    """Platform agents and tenants' own agents, by owner and name."""

    TENANT_ROWS = (TenantRows("host_agents", "owner"),)

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def list(self, *, tenant_id: str | None = None) -> builtins.list[AgentConfig]:
        """Every agent; with `tenant_id`, only the platform's and that tenant's own."""
        query = select(AgentRow).order_by(AgentRow.owner, AgentRow.name)
        if tenant_id is not None:
            query = query.where(or_(AgentRow.owner == PLATFORM_OWNER, AgentRow.owner == tenant_id))
        async with self._sessions() as db:
            return [_config(row) for row in (await db.execute(query)).scalars()]

    async def get(self, name: str, *, tenant_id: str | None = None) -> AgentConfig | None:
        """The agent `name` owned by `tenant_id` (None: the platform's)."""
        async with self._sessions() as db:
            row = await db.get(AgentRow, (_owner(tenant_id), name))
            return _config(row) if row is not None else None

    async def upsert(self, agent: AgentConfig) -> AgentConfig:
        """Create or replace the agent of `agent.tenant_id` named `agent.name`."""
        stored = agent.model_dump(mode="json", exclude={"tenant_id"})
        async with self._sessions() as db, db.begin():
            row = await db.get(AgentRow, (_owner(agent.tenant_id), agent.name))
            now = datetime.now(UTC)
            if row is None:
                db.add(
                    AgentRow(owner=_owner(agent.tenant_id), name=agent.name, config=stored, updated_at=now)
                )
            else:
                row.config = stored
                row.updated_at = now
            await bump(db, "agents")
        return agent

    async def delete(self, name: str, *, tenant_id: str | None = None) -> None:
        """Remove the agent; `AgentNotFound` if there is none."""
        async with self._sessions() as db, db.begin():
            result = await db.execute(
                delete(AgentRow).where(AgentRow.owner == _owner(tenant_id), AgentRow.name == name)
            )
            if result.rowcount == 0:  # type: ignore[attr-defined]
                raise AgentNotFound(f"no agent named '{name}'")
            await bump(db, "agents")

    async def delete_tenant(self, db: AsyncSession, tenant_id: str) -> dict[str, int]:
        """Delete the tenant's own agents in `db`'s transaction; every replica reloads its agents."""
        removed = await delete_declared(db, self.TENANT_ROWS, tenant_id)
        if any(removed.values()):
            await bump(db, "agents")
        return removed

    async def seed(self, agents: builtins.list[AgentConfig]) -> bool:
        """Write `agents` if no agent was ever stored; returns whether it did."""
        try:
            async with self._sessions() as db, db.begin():
                counter = await db.get(ConfigVersionRow, "agents")
                if counter is not None and counter.version > 0:
                    return False
                now = datetime.now(UTC)
                for agent in agents:
                    db.add(
                        AgentRow(
                            owner=_owner(agent.tenant_id),
                            name=agent.name,
                            config=agent.model_dump(mode="json", exclude={"tenant_id"}),
                            updated_at=now,
                        )
                    )
                await bump(db, "agents")
        except IntegrityError:
            return False  # another replica seeded at the same moment
        return True
