"""the demo ERP's tables

`IF NOT EXISTS` throughout: demo databases seeded before this history existed already have them.

Revision ID: 0001
Revises:
Create Date: 2026-12-02 05:59:13
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("key_sha256", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id"),
        sa.UniqueConstraint("key_sha256"),
        if_not_exists=True,
    )
    op.create_table(
        "customers",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("mst", sa.String(length=14), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("city", sa.String(length=100), nullable=False),
        sa.Column("address", sa.String(length=300), nullable=False),
        sa.Column("email", sa.String(length=200), nullable=False),
        sa.Column("payment_terms_days", sa.Integer(), nullable=False),
        sa.Column("credit_limit", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "mst"),
        if_not_exists=True,
    )
    op.create_table(
        "dataset",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("key"),
        if_not_exists=True,
    )
    op.create_table(
        "skus",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("sku", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("unit", sa.String(length=20), nullable=False),
        sa.Column("unit_price", sa.BigInteger(), nullable=False),
        sa.Column("reorder_point", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "sku"),
        if_not_exists=True,
    )
    op.create_table(
        "invoices",
        sa.Column("invoice_no", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("mst", sa.String(length=14), nullable=False),
        sa.Column("issue_date", sa.Date(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "mst"],
            ["customers.tenant_id", "customers.mst"],
        ),
        sa.PrimaryKeyConstraint("invoice_no"),
        if_not_exists=True,
    )
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.create_index("ix_invoices_customer", ["tenant_id", "mst"], unique=False, if_not_exists=True)

    op.create_table(
        "orders",
        sa.Column("order_id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("mst", sa.String(length=14), nullable=False),
        sa.Column("created_at", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id", "mst"],
            ["customers.tenant_id", "customers.mst"],
        ),
        sa.PrimaryKeyConstraint("order_id"),
        if_not_exists=True,
    )
    op.create_table(
        "stock_levels",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("sku", sa.String(length=32), nullable=False),
        sa.Column("warehouse", sa.String(length=16), nullable=False),
        sa.Column("on_hand", sa.Integer(), nullable=False),
        sa.Column("reserved", sa.Integer(), nullable=False),
        sa.CheckConstraint("reserved >= 0 AND reserved <= on_hand", name="reserved_within_on_hand"),
        sa.ForeignKeyConstraint(
            ["tenant_id", "sku"],
            ["skus.tenant_id", "skus.sku"],
        ),
        sa.PrimaryKeyConstraint("tenant_id", "sku", "warehouse"),
        if_not_exists=True,
    )
    op.create_table(
        "order_items",
        sa.Column("order_id", sa.String(length=32), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("sku", sa.String(length=32), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("unit_price", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.order_id"],
        ),
        sa.PrimaryKeyConstraint("order_id", "line"),
        if_not_exists=True,
    )
    op.create_table(
        "payments",
        sa.Column("payment_id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("invoice_no", sa.String(length=32), nullable=False),
        sa.Column("mst", sa.String(length=14), nullable=False),
        sa.Column("paid_on", sa.Date(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("method", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["invoice_no"],
            ["invoices.invoice_no"],
        ),
        sa.PrimaryKeyConstraint("payment_id"),
        if_not_exists=True,
    )
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.create_index("ix_payments_customer", ["tenant_id", "mst"], unique=False, if_not_exists=True)

    op.create_table(
        "shipments",
        sa.Column("shipment_id", sa.String(length=16), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("order_id", sa.String(length=32), nullable=False),
        sa.Column("mst", sa.String(length=14), nullable=False),
        sa.Column("carrier", sa.String(length=64), nullable=False),
        sa.Column("origin", sa.String(length=200), nullable=False),
        sa.Column("destination", sa.String(length=200), nullable=False),
        sa.Column("eta", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.order_id"],
        ),
        sa.PrimaryKeyConstraint("shipment_id"),
        if_not_exists=True,
    )
    op.create_table(
        "shipment_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("shipment_id", sa.String(length=16), nullable=False),
        sa.Column("at", sa.String(length=40), nullable=False),
        sa.Column("location", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("note", sa.String(length=300), nullable=False),
        sa.ForeignKeyConstraint(
            ["shipment_id"],
            ["shipments.shipment_id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        if_not_exists=True,
    )
    with op.batch_alter_table("shipment_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_shipment_events_shipment", ["shipment_id"], unique=False, if_not_exists=True
        )


def downgrade() -> None:
    with op.batch_alter_table("shipment_events", schema=None) as batch_op:
        batch_op.drop_index("ix_shipment_events_shipment")

    op.drop_table("shipment_events")
    op.drop_table("shipments")
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_index("ix_payments_customer")

    op.drop_table("payments")
    op.drop_table("order_items")
    op.drop_table("stock_levels")
    op.drop_table("orders")
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.drop_index("ix_invoices_customer")

    op.drop_table("invoices")
    op.drop_table("skus")
    op.drop_table("dataset")
    op.drop_table("customers")
    op.drop_table("api_keys")
