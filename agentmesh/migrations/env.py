"""Alembic environment: the one `Base.metadata` of every package, on the connection it is handed.

`agentmesh db upgrade`, `agentmesh db revision` and the gateway's start call Alembic with an
open connection in `config.attributes["connection"]` (see `agentmesh.db.upgrade_database`); the
async engine that made it decides the database, so there is no URL here.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from agentmesh.migrations import declared_metadata

target_metadata = declared_metadata()


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # Batch operations rebuild tables on SQLite (which cannot ALTER most things) and are plain
        # ALTERs on PostgreSQL, so one generated script serves both.
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `agentmesh db ...`, which opens the database connection")
_run(connection)
