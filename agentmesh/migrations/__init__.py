"""The platform's schema authority: the migration history, and every table it is written from.

Each package declares its tables on `agentmesh.db.Base` in its own `tables.py`; this package is
the one place that imports them all (the core's `agentmesh.db` imports none). Alembic's `env.py`
compares them with a database to write a revision, and `agentmesh db check` (through
`agentmesh.db.schema_differences`) that the history creates exactly what the code declares. A
package that adds a tables module adds it here.
"""

from __future__ import annotations

from sqlalchemy import MetaData

import agentmesh.tables
import gateway.tables
import host.tables
import mcp_servers.erp.tables
import mcp_servers.search.tables
import policies.tables
from agentmesh.db import Base

TABLE_MODULES = (
    agentmesh.tables,
    gateway.tables,
    host.tables,
    mcp_servers.erp.tables,
    mcp_servers.search.tables,
    policies.tables,
)


def declared_metadata() -> MetaData:
    """Every table the code declares (all of `TABLE_MODULES` are imported with this package)."""
    return Base.metadata
