"""The demo ERP's own SQLite database: its tables and the one-time seeding from the fixture.

This is the database of the *demo company ERP*, an outside system as far as the platform is
concerned, so its tables live on their own metadata in their own file (`demo_erp.db` in the
data directory), not on the platform's `Base`, with their own migration history
(`demo_migrations/`), which seeding applies first.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date
from pathlib import Path
from typing import Any

import anyio
import sqlalchemy as sa
import structlog
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from agentmesh.db import create_engine, upgrade_database
from agentmesh.settings import Settings

log = structlog.get_logger(__name__)

FIXTURE_FILE = Path(__file__).parent / "fixtures" / "demo_erp.json"
DEMO_MIGRATIONS_DIR = Path(__file__).parent / "demo_migrations"
DEMO_DB_FILE = "demo_erp.db"

metadata = sa.MetaData()

dataset = sa.Table(
    "dataset",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.String(200), nullable=False),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("tenant_id", sa.String(64), primary_key=True),
    sa.Column("key_sha256", sa.String(64), nullable=False, unique=True),
)

customers = sa.Table(
    "customers",
    metadata,
    sa.Column("tenant_id", sa.String(64), primary_key=True),
    sa.Column("mst", sa.String(14), primary_key=True),
    sa.Column("name", sa.String(300), nullable=False),
    sa.Column("city", sa.String(100), nullable=False),
    sa.Column("address", sa.String(300), nullable=False),
    sa.Column("email", sa.String(200), nullable=False),
    sa.Column("payment_terms_days", sa.Integer, nullable=False),
    sa.Column("credit_limit", sa.BigInteger, nullable=False),
)

invoices = sa.Table(
    "invoices",
    metadata,
    sa.Column("invoice_no", sa.String(32), primary_key=True),
    sa.Column("tenant_id", sa.String(64), nullable=False),
    sa.Column("mst", sa.String(14), nullable=False),
    sa.Column("issue_date", sa.Date, nullable=False),
    sa.Column("due_date", sa.Date, nullable=False),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.ForeignKeyConstraint(["tenant_id", "mst"], ["customers.tenant_id", "customers.mst"]),
    sa.Index("ix_invoices_customer", "tenant_id", "mst"),
)

payments = sa.Table(
    "payments",
    metadata,
    sa.Column("payment_id", sa.String(32), primary_key=True),
    sa.Column("tenant_id", sa.String(64), nullable=False),
    sa.Column("invoice_no", sa.String(32), sa.ForeignKey("invoices.invoice_no"), nullable=False),
    sa.Column("mst", sa.String(14), nullable=False),
    sa.Column("paid_on", sa.Date, nullable=False),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("method", sa.String(32), nullable=False),
    sa.Index("ix_payments_customer", "tenant_id", "mst"),
)

skus = sa.Table(
    "skus",
    metadata,
    sa.Column("tenant_id", sa.String(64), primary_key=True),
    sa.Column("sku", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(300), nullable=False),
    sa.Column("unit", sa.String(20), nullable=False),
    sa.Column("unit_price", sa.BigInteger, nullable=False),
    sa.Column("reorder_point", sa.Integer, nullable=False),
)

stock_levels = sa.Table(
    "stock_levels",
    metadata,
    sa.Column("tenant_id", sa.String(64), primary_key=True),
    sa.Column("sku", sa.String(32), primary_key=True),
    sa.Column("warehouse", sa.String(16), primary_key=True),
    sa.Column("on_hand", sa.Integer, nullable=False),
    sa.Column("reserved", sa.Integer, nullable=False),
    sa.ForeignKeyConstraint(["tenant_id", "sku"], ["skus.tenant_id", "skus.sku"]),
    sa.CheckConstraint("reserved >= 0 AND reserved <= on_hand", name="reserved_within_on_hand"),
)

orders = sa.Table(
    "orders",
    metadata,
    sa.Column("order_id", sa.String(32), primary_key=True),
    sa.Column("tenant_id", sa.String(64), nullable=False),
    sa.Column("mst", sa.String(14), nullable=False),
    sa.Column("created_at", sa.String(40), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("note", sa.String(500), nullable=True),
    sa.ForeignKeyConstraint(["tenant_id", "mst"], ["customers.tenant_id", "customers.mst"]),
)

order_items = sa.Table(
    "order_items",
    metadata,
    sa.Column("order_id", sa.String(32), sa.ForeignKey("orders.order_id"), primary_key=True),
    sa.Column("line", sa.Integer, primary_key=True),
    sa.Column("sku", sa.String(32), nullable=False),
    sa.Column("quantity", sa.Integer, nullable=False),
    sa.Column("unit_price", sa.BigInteger, nullable=False),
)

shipments = sa.Table(
    "shipments",
    metadata,
    sa.Column("shipment_id", sa.String(16), primary_key=True),
    sa.Column("tenant_id", sa.String(64), nullable=False),
    sa.Column("order_id", sa.String(32), sa.ForeignKey("orders.order_id"), nullable=False),
    sa.Column("mst", sa.String(14), nullable=False),
    sa.Column("carrier", sa.String(64), nullable=False),
    sa.Column("origin", sa.String(200), nullable=False),
    sa.Column("destination", sa.String(200), nullable=False),
    sa.Column("eta", sa.Date, nullable=False),
)

shipment_events = sa.Table(
    "shipment_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("shipment_id", sa.String(16), sa.ForeignKey("shipments.shipment_id"), nullable=False),
    sa.Column("at", sa.String(40), nullable=False),
    sa.Column("location", sa.String(200), nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("note", sa.String(300), nullable=False),
    sa.Index("ix_shipment_events_shipment", "shipment_id"),
)


def demo_engine(settings: Settings) -> AsyncEngine:
    """An engine on the demo ERP's SQLite file in the data directory."""
    return create_engine(f"sqlite+aiosqlite:///{settings.resolved_data_dir / DEMO_DB_FILE}")


def load_fixture(path: Path = FIXTURE_FILE) -> dict[str, Any]:
    return dict(json.loads(path.read_text(encoding="utf-8")))


def fixture_as_of(path: Path = FIXTURE_FILE) -> date:
    """The data set's fixed "today"."""
    return date.fromisoformat(load_fixture(path)["as_of"])


def _rows(tenant_id: str, data: dict[str, Any]) -> dict[sa.Table, list[dict[str, Any]]]:
    def day(value: str) -> date:
        return date.fromisoformat(value)

    return {
        customers: [{"tenant_id": tenant_id, **c} for c in data["customers"]],
        invoices: [
            {**i, "tenant_id": tenant_id, "issue_date": day(i["issue_date"]), "due_date": day(i["due_date"])}
            for i in data["invoices"]
        ],
        payments: [{**p, "tenant_id": tenant_id, "paid_on": day(p["paid_on"])} for p in data["payments"]],
        skus: [{k: v for k, v in s.items() if k != "stock"} | {"tenant_id": tenant_id} for s in data["skus"]],
        stock_levels: [
            {"tenant_id": tenant_id, "sku": s["sku"], **level} for s in data["skus"] for level in s["stock"]
        ],
        orders: [
            {"tenant_id": tenant_id, **{k: v for k, v in o.items() if k != "items"}, "note": None}
            for o in data["orders"]
        ],
        order_items: [
            {"order_id": o["order_id"], "line": line, **item}
            for o in data["orders"]
            for line, item in enumerate(o["items"], start=1)
        ],
        shipments: [
            {"tenant_id": tenant_id, **{k: v for k, v in s.items() if k != "events"}, "eta": day(s["eta"])}
            for s in data["shipments"]
        ],
        shipment_events: [
            {"shipment_id": s["shipment_id"], **e} for s in data["shipments"] for e in s["events"]
        ],
    }


async def seed_demo_database(engine: AsyncEngine, fixture_path: Path = FIXTURE_FILE) -> bool:
    """Migrate the demo database and load the fixture once; returns whether this call loaded it.

    The `dataset` marker row is inserted first in the same transaction, so a second process
    seeding at the same moment fails on its primary key and backs off, and a failed load
    leaves nothing behind.
    """
    raw = await anyio.Path(fixture_path).read_bytes()
    fixture = json.loads(raw)
    await upgrade_database(engine, migrations=DEMO_MIGRATIONS_DIR)
    try:
        async with engine.begin() as conn:
            if (await conn.execute(sa.select(dataset.c.value).where(dataset.c.key == "fixture"))).first():
                return False
            await conn.execute(
                dataset.insert(),
                [
                    {"key": "fixture", "value": hashlib.sha256(raw).hexdigest()},
                    {"key": "as_of", "value": fixture["as_of"]},
                    {"key": "currency", "value": fixture["currency"]},
                ],
            )
            for tenant_id, data in fixture["tenants"].items():
                for table, rows in _rows(tenant_id, data).items():
                    if rows:
                        await conn.execute(table.insert(), rows)
    except IntegrityError:
        log.info("demo_erp_seeded_elsewhere")
        return False
    log.info("demo_erp_seeded", tenants=sorted(fixture["tenants"]))
    return True
