"""suggested questions per tenant and agent

The questions a tenant's users see under each assistant on the chat's welcome page
(`agent_suggestions`), set by the tenant's admins.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 22:40:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "agent_suggestions",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("agent", sa.String(length=40), nullable=False),
        sa.Column("questions", sa.JSON(), nullable=False),
        sa.Column("updated_by", sa.String(length=256), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "agent", name=op.f("pk_agent_suggestions")),
    )


def downgrade() -> None:
    op.drop_table("agent_suggestions")
