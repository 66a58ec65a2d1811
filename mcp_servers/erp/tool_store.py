"""Tool configurations kept in the platform database, for one tenant or for every tenant.

The gateway's admin API calls this store; the ERP server watches the catalog version it bumps
and republishes its tool list without a restart. Every write bumps the version in the same
transaction as the change, so a server never sees the one without the other.

The tenant passed in is always the caller's own (from their verified token): a tenant can
read and change only its own tools; `tenant_id=None` addresses the platform-wide tools. An
absolute tool URL passes the outbound guard before it is stored (a URL relative to the ERP base
URL goes to the platform's configured ERP API); the ERP server checks every call again.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
import structlog
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agentmesh.errors import AgentmeshError
from agentmesh.outbound import OutboundGuard
from agentmesh.tenant_rows import TenantRows, delete_declared
from mcp_servers.erp.forwarding import UserTokenForwarding
from mcp_servers.erp.tables import CATALOG_VERSION_ID, ErpCatalogVersionRow, ErpToolConfigRow, utcnow
from mcp_servers.erp.tool_config import HttpToolConfig, builtin_tools

log = structlog.get_logger(__name__)


class ToolStoreError(AgentmeshError):
    """A refused store operation; its `code` is mapped by whoever answers the caller."""


class ToolNameTaken(ToolStoreError):
    code = "tool_name_taken"


class ToolConfigNotFound(ToolStoreError):
    code = "tool_config_not_found"


class InvalidToolConfig(ToolStoreError):
    code = "invalid_tool_config"


@dataclass(frozen=True)
class StoredToolConfig:
    """A tool configuration with its owner (`None`: every tenant) and last change."""

    tenant_id: str | None
    config: HttpToolConfig
    updated_at: datetime


def parse_tool_config(raw: dict[str, Any] | HttpToolConfig) -> HttpToolConfig:
    """Validate an admin's configuration, raising `InvalidToolConfig` that lists each problem."""
    if isinstance(raw, HttpToolConfig):
        return raw
    try:
        return HttpToolConfig.model_validate(raw)
    except ValidationError as exc:
        problems = [
            {"field": ".".join(str(part) for part in error["loc"]) or "config", "problem": error["msg"]}
            for error in exc.errors()
        ]
        listed = "; ".join(f"{p['field']}: {p['problem']}" for p in problems)
        raise InvalidToolConfig(
            f"invalid tool configuration: {listed}", details={"problems": problems}
        ) from exc


def _scope(tenant_id: str | None) -> sa.ColumnElement[bool]:
    if tenant_id is None:
        return ErpToolConfigRow.tenant_id.is_(None)
    return ErpToolConfigRow.tenant_id == tenant_id


def _stored(row: ErpToolConfigRow) -> StoredToolConfig:
    return StoredToolConfig(row.tenant_id, HttpToolConfig.model_validate_json(row.config), row.updated_at)


class ToolConfigStore:
    """Create, update, delete and list tool configurations in the platform database."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        outbound: OutboundGuard,
        forwarding: UserTokenForwarding | None = None,
        reserved_names: Iterable[str] | None = None,
    ) -> None:
        self._sessions = sessions
        self._outbound = outbound
        # A store that only reads (the ERP server's) checks forwarding when a tool is called.
        self._forwarding = forwarding
        self._reserved = frozenset(
            reserved_names if reserved_names is not None else (tool.name for tool in builtin_tools())
        )

    TENANT_ROWS = (TenantRows("erp_tool_configs"),)

    async def delete_tenant(self, db: AsyncSession, tenant_id: str) -> dict[str, int]:
        """Delete the tenant's own tools in `db`'s transaction; the servers reload their catalog."""
        removed = await delete_declared(db, self.TENANT_ROWS, tenant_id)
        if any(removed.values()):
            await self._bump(db)
        return removed

    @staticmethod
    async def _bump(session: AsyncSession) -> None:
        result = await session.execute(
            sa.update(ErpCatalogVersionRow)
            .where(ErpCatalogVersionRow.id == CATALOG_VERSION_ID)
            .values(version=ErpCatalogVersionRow.version + 1)
        )
        if not result.rowcount:  # type: ignore[attr-defined]
            # The migrations create the row; should it have been deleted, restart the counter rather
            # than lose the change.
            session.add(ErpCatalogVersionRow(id=CATALOG_VERSION_ID, version=1))

    async def create(
        self, tenant_id: str | None, config: dict[str, Any] | HttpToolConfig
    ) -> StoredToolConfig:
        """Add a tool for `tenant_id` (or every tenant); its name must be new to the whole server."""
        tool = await self._admitted(config)
        if tool.name in self._reserved:
            raise ToolNameTaken(f"tool name {tool.name!r} is a built-in tool", details={"name": tool.name})
        try:
            async with self._sessions.begin() as session:
                row = ErpToolConfigRow(name=tool.name, tenant_id=tenant_id, config=tool.model_dump_json())
                session.add(row)
                await session.flush()
                await self._bump(session)
        except IntegrityError as exc:
            raise ToolNameTaken(
                f"tool name {tool.name!r} is already in use", details={"name": tool.name}
            ) from exc
        return _stored(row)

    async def update(
        self, tenant_id: str | None, config: dict[str, Any] | HttpToolConfig
    ) -> StoredToolConfig:
        """Replace the configuration of the caller's tool with the same name."""
        tool = await self._admitted(config)
        async with self._sessions.begin() as session:
            row = await session.scalar(
                sa.select(ErpToolConfigRow).where(ErpToolConfigRow.name == tool.name, _scope(tenant_id))
            )
            if row is None:
                raise ToolConfigNotFound(f"no tool {tool.name!r} to update", details={"name": tool.name})
            row.config = tool.model_dump_json()
            row.updated_at = utcnow()
            await self._bump(session)
        return _stored(row)

    async def _admitted(self, config: dict[str, Any] | HttpToolConfig) -> HttpToolConfig:
        """A valid configuration whose URL the platform may call (`BlockedDestination` otherwise)."""
        tool = parse_tool_config(config)
        if tool.absolute_origin is not None:
            await self._outbound.check(tool.absolute_origin)
        if self._forwarding is not None:
            self._forwarding.check(tool)
        return tool

    async def delete(self, tenant_id: str | None, name: str) -> None:
        """Remove the caller's tool `name`."""
        async with self._sessions.begin() as session:
            result = await session.execute(
                sa.delete(ErpToolConfigRow).where(ErpToolConfigRow.name == name, _scope(tenant_id))
            )
            if not result.rowcount:  # type: ignore[attr-defined]
                raise ToolConfigNotFound(f"no tool {name!r} to delete", details={"name": name})
            await self._bump(session)

    async def get(self, tenant_id: str | None, name: str) -> StoredToolConfig:
        async with self._sessions() as session:
            row = await session.scalar(
                sa.select(ErpToolConfigRow).where(ErpToolConfigRow.name == name, _scope(tenant_id))
            )
        if row is None:
            raise ToolConfigNotFound(f"no tool {name!r}", details={"name": name})
        return _stored(row)

    async def for_tenant(self, tenant_id: str | None) -> list[StoredToolConfig]:
        """The caller's own tools (the platform-wide ones when `tenant_id` is None), by name."""
        async with self._sessions() as session:
            rows = await session.scalars(
                sa.select(ErpToolConfigRow).where(_scope(tenant_id)).order_by(ErpToolConfigRow.name)
            )
            return [_stored(row) for row in rows]

    async def list_all(self) -> list[StoredToolConfig]:
        """Every stored tool of every tenant: what the ERP server serves (never for an API caller).

        A row that no longer validates (written by an older version) is skipped and logged, so
        one bad configuration cannot take every other tool down with it.
        """
        async with self._sessions() as session:
            rows = list(await session.scalars(sa.select(ErpToolConfigRow).order_by(ErpToolConfigRow.name)))
        stored = []
        for row in rows:
            try:
                stored.append(_stored(row))
            except ValidationError as exc:
                log.warning(
                    "erp_tool_config_invalid",
                    tool=row.name,
                    tenant_id=row.tenant_id,
                    errors=exc.error_count(),
                )
        return stored

    async def version(self) -> int:
        """The catalog version: it changes whenever any stored tool changes."""
        async with self._sessions() as session:
            return int(
                await session.scalar(
                    sa.select(ErpCatalogVersionRow.version).where(
                        ErpCatalogVersionRow.id == CATALOG_VERSION_ID
                    )
                )
                or 0
            )
