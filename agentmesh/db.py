"""The platform's SQL database: SQLite by default, PostgreSQL when `DATABASE_URL` says so.

Tables are declared by the package that owns them (`gateway/tables.py`, `host/tables.py`,
`policies/tables.py`, `mcp_servers/erp/tables.py`) on the one `Base` below, so a single
migration history covers them all.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import MetaData, event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base of every agentmesh table."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _sqlite_pragmas(dbapi_connection: Any, _: Any) -> None:
    # WAL lets the gateway and the servers (separate processes) share one SQLite file.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine for `url` with the pragmas or pool settings that backend needs."""
    if url.startswith("sqlite"):
        engine = create_async_engine(url, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    kwargs.setdefault("pool_pre_ping", True)
    return create_async_engine(url, **kwargs)


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def import_all_tables() -> None:
    """Import every module that declares tables, so `Base.metadata` is complete.

    Migrations and `create_all` need every table known; a package that adds a tables module
    adds its import here.
    """
    import gateway.tables  # noqa: F401
    import host.tables  # noqa: F401
    import mcp_servers.erp.tables
    import mcp_servers.search.tables  # noqa: F401
    import policies.tables  # noqa: F401
