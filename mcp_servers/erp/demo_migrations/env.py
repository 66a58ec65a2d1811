"""Alembic environment of the demo ERP's own SQLite database (`demo_erp.db`), not the platform's.

The demo ERP stands for a company's system outside the platform, so its tables have their own
metadata and their own short history here; `seed_demo_database` applies it through
`agentmesh.db.upgrade_database(engine, migrations=DEMO_MIGRATIONS_DIR)` with an open connection.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from mcp_servers.erp.demo_schema import metadata

target_metadata = metadata


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "the demo ERP's migrations run through `seed_demo_database`, which opens the connection"
    )
_run(connection)
