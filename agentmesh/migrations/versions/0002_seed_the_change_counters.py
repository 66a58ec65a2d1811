"""seed the change counters of the ERP tool catalog and the policy overrides

Each is one row that every write bumps in its own transaction, so it must exist before the first
write; until now the first process to start created it. It is part of the schema, so the
migrations create it (databases where a process already did keep theirs).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 06:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COUNTER_TABLES = ("erp_tool_catalog_version", "policy_override_versions")


def upgrade() -> None:
    for table in COUNTER_TABLES:
        op.execute(
            sa.text(
                f"INSERT INTO {table} (id, version) SELECT 1, 0 "
                f"WHERE NOT EXISTS (SELECT 1 FROM {table} WHERE id = 1)"
            )
        )


def downgrade() -> None:
    # The rows stay: the code of revision 0001 expects them too (it created them itself), and
    # deleting one would restart its count under replicas that remember a higher one.
    pass
