"""The platform's SQL database: SQLite by default, PostgreSQL when `DATABASE_URL` says so.

Tables are declared by the package that owns them (`gateway/tables.py`, `host/tables.py`,
`policies/tables.py`, `mcp_servers/erp/tables.py`) on the one `Base` below, so a single
migration history covers them all.
"""

from __future__ import annotations

import fcntl
import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
from sqlalchemy import Connection, MetaData, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase

if TYPE_CHECKING:
    from alembic.config import Config

# Alembic is imported where migrations run, not here: every server imports this module to
# reach its database, and alembic would add about 0.3 s to each start (and to `initialize`).

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

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
    # In WAL mode NORMAL never corrupts the file; it only skips the fsync per commit (a power cut
    # may lose the last commits), which halves the cost of a turn's transcript write.
    cursor.execute("PRAGMA synchronous=NORMAL")
    # Writers queue for SQLite's one write lock; under a burst of turns a writer may wait its turn
    # for seconds, which is better than failing the turn after its answer was computed.
    cursor.execute("PRAGMA busy_timeout=30000")
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


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration for our migrations (no alembic.ini), bound to `connection`."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def _migration_lock_id(connection: Connection) -> int:
    digest = hashlib.sha256(f"agentmesh-migrations:{connection.engine.url.database}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _upgrade(connection: Connection, revision: str) -> None:
    from alembic import command

    config = alembic_config(connection)
    if connection.dialect.name != "postgresql":
        command.upgrade(config, revision)
        connection.commit()
        return
    # Replicas starting together: one migrates, the others wait, then find nothing to do. The
    # lock is the session's, so it is released only after the migration is committed.
    lock_id = _migration_lock_id(connection)
    connection.execute(text("SELECT pg_advisory_lock(:id)"), {"id": lock_id})
    connection.commit()
    try:
        command.upgrade(config, revision)
        connection.commit()
    except BaseException:
        connection.rollback()
        raise
    finally:
        connection.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": lock_id})
        connection.commit()


def _sqlite_lock_path(url: str) -> Path | None:
    database = make_url(url).database
    if not database or database == ":memory:":
        return None
    return Path(database).with_name(Path(database).name + ".migrate.lock")


async def upgrade_database(engine: AsyncEngine, revision: str = "head") -> None:
    """Apply the migrations up to `revision` (idempotent; safe when several processes start at once)."""
    lock_path = _sqlite_lock_path(str(engine.url)) if engine.dialect.name == "sqlite" else None
    lock_file = None
    if lock_path is not None:
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        lock_file = lock_path.open("a")
        await anyio.to_thread.run_sync(fcntl.flock, lock_file, fcntl.LOCK_EX)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_upgrade, revision)
    finally:
        if lock_file is not None:
            fcntl.flock(lock_file, fcntl.LOCK_UN)
            lock_file.close()


def _differences(connection: Connection) -> list[str]:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    import_all_tables()
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return [str(diff) for diff in compare_metadata(context, Base.metadata)]


async def schema_differences(engine: AsyncEngine) -> list[str]:
    """How the database differs from the tables the code declares (empty when migrations cover them)."""
    async with engine.connect() as connection:
        return await connection.run_sync(_differences)


async def current_revision(engine: AsyncEngine) -> str | None:
    from alembic.migration import MigrationContext

    def read(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    async with engine.connect() as connection:
        return await connection.run_sync(read)


async def write_revision(engine: AsyncEngine, message: str) -> str:
    """Autogenerate a migration from the difference between `engine`'s database and the models."""

    from alembic import command
    from alembic.script import ScriptDirectory

    def generate(connection: Connection) -> str:
        import_all_tables()
        config = alembic_config(connection)
        # Numbered revisions (0001, 0002, ...) read in order in the versions folder.
        rev_id = f"{len(list(ScriptDirectory.from_config(config).walk_revisions())) + 1:04d}"
        script = command.revision(config, message=message, autogenerate=True, rev_id=rev_id)
        scripts = script if isinstance(script, list) else [script]
        return ", ".join(str(s.path) for s in scripts if s is not None)

    async with engine.connect() as connection:
        return await connection.run_sync(generate)
