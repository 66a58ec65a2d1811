"""The platform's SQL database: SQLite by default, PostgreSQL when `DATABASE_URL` says so.

Tables are declared by the package that owns them (`gateway/tables.py`, `host/tables.py`,
`policies/tables.py`, `mcp_servers/erp/tables.py`, `mcp_servers/search/tables.py`) on the one
`Base` below, and created only by the migrations in `agentmesh/migrations`, the one package that
imports them all; this module, part of the core, imports none of them.

Who migrates: the gateway at every start, `agentmesh up` before its children, and
`agentmesh db upgrade`. Any other process that uses the tables (an MCP server or the demo ERP
run alone) calls `require_schema` first: on the embedded SQLite default, which belongs to this
machine's mesh, it migrates; on a configured database it only checks, and refuses to run on a
database that is not at the migrations' head, naming the command that fixes it.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
from pathlib import Path
from typing import Any

import anyio
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, MetaData, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase

from agentmesh.errors import AgentmeshError, ErrorCode

log = logging.getLogger(__name__)

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


class DatabaseNotAtHead(AgentmeshError):
    """The database's schema is not the one this code was written for."""

    code: ErrorCode = "database_not_at_head"


class DatabaseBehind(DatabaseNotAtHead):
    code = "database_behind"


class DatabaseAhead(DatabaseNotAtHead):
    code = "database_ahead"


def alembic_config(connection: Connection | None = None, *, migrations: Path = MIGRATIONS_DIR) -> Config:
    """Alembic's configuration for a migration history (no alembic.ini), bound to `connection`.

    Without an ini file Alembic configures no logging: its records reach the process's handler
    (`agentmesh.logging`) like every other library's.
    """
    config = Config()
    config.set_main_option("script_location", str(migrations))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision(migrations: Path = MIGRATIONS_DIR) -> str | None:
    return ScriptDirectory.from_config(alembic_config(migrations=migrations)).get_current_head()


def _migration_lock_id(connection: Connection, migrations: Path) -> int:
    key = f"agentmesh-migrations:{migrations.name}:{connection.engine.url.database}"
    digest = hashlib.sha256(key.encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _upgrade(connection: Connection, revision: str, migrations: Path) -> tuple[str | None, str | None]:
    """Migrate to `revision`; returns the revision before and after (read under the lock)."""
    if connection.dialect.name != "postgresql":
        return _upgrade_locked(connection, revision, migrations)
    # Replicas starting together: one migrates, the others wait, then find nothing to do. The
    # lock is the session's, so it is released only after the migration is committed.
    lock_id = _migration_lock_id(connection, migrations)
    connection.execute(text("SELECT pg_advisory_lock(:id)"), {"id": lock_id})
    connection.commit()
    try:
        return _upgrade_locked(connection, revision, migrations)
    except BaseException:
        connection.rollback()
        raise
    finally:
        connection.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": lock_id})
        connection.commit()


def _upgrade_locked(connection: Connection, revision: str, migrations: Path) -> tuple[str | None, str | None]:
    before = MigrationContext.configure(connection).get_current_revision()
    connection.commit()
    command.upgrade(alembic_config(connection, migrations=migrations), revision)
    connection.commit()
    return before, MigrationContext.configure(connection).get_current_revision()


def _sqlite_lock_path(url: str) -> Path | None:
    database = make_url(url).database
    if not database or database == ":memory:":
        return None
    return Path(database).with_name(Path(database).name + ".migrate.lock")


async def upgrade_database(
    engine: AsyncEngine, revision: str = "head", *, migrations: Path = MIGRATIONS_DIR
) -> None:
    """Apply the migrations up to `revision` (idempotent; safe when several processes start at once).

    A database migrated by newer code raises `DatabaseAhead` rather than Alembic's lookup error.
    """
    await _known_revision(engine, ScriptDirectory.from_config(alembic_config(migrations=migrations)))
    lock_path = _sqlite_lock_path(str(engine.url)) if engine.dialect.name == "sqlite" else None
    lock_file = None
    if lock_path is not None:
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        lock_file = lock_path.open("a")
        await anyio.to_thread.run_sync(fcntl.flock, lock_file, fcntl.LOCK_EX)
    try:
        async with engine.connect() as connection:
            before, after = await connection.run_sync(_upgrade, revision, migrations)
    finally:
        if lock_file is not None:
            fcntl.flock(lock_file, fcntl.LOCK_UN)
            lock_file.close()
    if after != before:
        # Alembic's own records are debug detail (`agentmesh.logging`); this is the event. A
        # standard-library record: a command that set up no logging prints nothing at INFO.
        where = _displayed(engine.url)
        log.info("migrated the database at %s from revision %s to %s", where, before or "none", after)


async def schema_differences(engine: AsyncEngine, metadata: MetaData) -> list[str]:
    """How the database differs from the tables `metadata` declares (empty when they agree)."""

    def differences(connection: Connection) -> list[str]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return [str(diff) for diff in compare_metadata(context, metadata)]

    async with engine.connect() as connection:
        return await connection.run_sync(differences)


async def current_revision(engine: AsyncEngine) -> str | None:
    def read(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    async with engine.connect() as connection:
        return await connection.run_sync(read)


async def require_schema(engine: AsyncEngine, *, migrate: bool, migrations: Path = MIGRATIONS_DIR) -> None:
    """Make sure the database is at the migrations' head before this process uses its tables.

    `migrate`: bring it there (the embedded SQLite default, which no one else upgrades); otherwise
    raise `DatabaseBehind`, whose message names the database and the command that fixes it. A
    database at a revision this code does not know raises `DatabaseAhead` either way.
    """
    if migrate:
        await upgrade_database(engine, migrations=migrations)
        return
    script = ScriptDirectory.from_config(alembic_config(migrations=migrations))
    current = await _known_revision(engine, script)
    head = script.get_current_head()
    if current != head:
        raise DatabaseBehind(
            f"the database at {_displayed(engine.url)} is at revision {current or 'none (never migrated)'}, "
            f"this code needs {head}: run `agentmesh db upgrade`"
        )


async def _known_revision(engine: AsyncEngine, script: ScriptDirectory) -> str | None:
    """The database's revision, which must be one of `script`'s (or none yet)."""
    current = await current_revision(engine)
    if current is not None and current not in {rev.revision for rev in script.walk_revisions()}:
        raise DatabaseAhead(
            f"the database at {_displayed(engine.url)} is at revision {current}, which this code does "
            f"not know (a newer release migrated it; this code needs {script.get_current_head()}): "
            "run the release that did"
        )
    return current


def _displayed(url: URL) -> str:
    """The database's address for a message: no user, password, driver or query parameters."""
    shown = URL.create(url.get_backend_name(), host=url.host, port=url.port, database=url.database)
    return shown.render_as_string()


async def write_revision(engine: AsyncEngine, message: str) -> str:
    """Autogenerate a migration from the difference between `engine`'s database and the models
    (Alembic's `env.py` loads every table module)."""

    def generate(connection: Connection) -> str:
        config = alembic_config(connection)
        # Numbered revisions (0001, 0002, ...) read in order in the versions folder.
        rev_id = f"{len(list(ScriptDirectory.from_config(config).walk_revisions())) + 1:04d}"
        script = command.revision(config, message=message, autogenerate=True, rev_id=rev_id)
        scripts = script if isinstance(script, list) else [script]
        return ", ".join(str(s.path) for s in scripts if s is not None)

    async with engine.connect() as connection:
        return await connection.run_sync(generate)
