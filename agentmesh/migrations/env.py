"""Alembic environment: the one `Base.metadata` of every package, on the connection it is handed.

`agentmesh db upgrade`, `agentmesh db revision` and the gateway's start call Alembic with an
open connection in `config.attributes["connection"]` (see `agentmesh.db.upgrade_database`); the
async engine that made it decides the database, so there is no URL here.
"""

from __future__ import annotations

from typing import Any

from alembic import context
from alembic.operations import ops
from sqlalchemy import Connection

from agentmesh.db import Base, import_all_tables

import_all_tables()
target_metadata = Base.metadata


def _create_if_missing(context_: Any, revision: Any, directives: list[ops.MigrationScript]) -> None:
    """Generated CREATE TABLE/INDEX get IF NOT EXISTS: the ERP and search servers still create their
    own tables when they start, and may have done so before the first migration ran."""
    for script in directives:
        for upgrade_ops in script.upgrade_ops_list:
            for op in _walk(upgrade_ops.ops):
                if isinstance(op, ops.CreateTableOp | ops.CreateIndexOp):
                    op.if_not_exists = True


def _walk(operations: list[ops.MigrateOperation]) -> list[ops.MigrateOperation]:
    flat: list[ops.MigrateOperation] = []
    for op in operations:
        flat.append(op)
        if isinstance(op, ops.OpContainer):
            flat.extend(_walk(op.ops))
    return flat


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # Batch operations rebuild tables on SQLite (which cannot ALTER most things) and are plain
        # ALTERs on PostgreSQL, so one generated script serves both.
        render_as_batch=True,
        compare_type=True,
        process_revision_directives=_create_if_missing,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `agentmesh db ...`, which opens the database connection")
_run(connection)
