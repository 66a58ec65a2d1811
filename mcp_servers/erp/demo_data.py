"""What the demo ERP knows, always for one tenant: debts, payments, shipments, stock and orders.

Every query takes the tenant first and filters on it, so no answer can contain another tenant's
rows. Debt is computed "as of" a date: invoices issued later and payments received later are
ignored, which keeps answers about the fixed demo data set reproducible.
"""

from __future__ import annotations

import re
import secrets
from collections import defaultdict
from datetime import UTC, date, datetime
from typing import Literal

import sqlalchemy as sa
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from agentmesh.errors import AgentmeshError, ErrorCode
from mcp_servers.erp.demo_schema import (
    customers,
    invoices,
    order_items,
    orders,
    payments,
    shipment_events,
    shipments,
    skus,
    stock_levels,
)

MST_PATTERN = re.compile(r"^[0-9]{10}(-[0-9]{3})?$")
MST_FORMAT = "10 digits, optionally followed by a -NNN branch suffix (e.g. 0312345678 or 0312345678-001)"


class DemoErpError(AgentmeshError):
    """A request the demo ERP refuses as invalid; the demo API's HTTP layer picks the status."""

    code: ErrorCode = "invalid_request"


class RecordNotFound(DemoErpError):
    code = "not_found"


class Conflict(DemoErpError):
    code = "conflict"


def check_mst(mst: str) -> str:
    if not MST_PATTERN.match(mst):
        raise DemoErpError(f"malformed MST {mst!r}: expected {MST_FORMAT}", details={"field": "mst"})
    return mst


class CustomerRef(BaseModel):
    mst: str
    name: str


class Customer(CustomerRef):
    city: str
    address: str
    email: str
    payment_terms_days: int
    credit_limit: int


class OpenInvoice(BaseModel):
    invoice_no: str
    issue_date: date
    due_date: date
    amount: int
    paid: int
    balance: int
    status: Literal["unpaid", "partially_paid"]
    days_overdue: int = Field(description="0 when not yet due")


class CustomerDebt(BaseModel):
    customer: CustomerRef
    as_of: date
    currency: str
    outstanding: int
    overdue: int
    not_yet_due: int
    credit_limit: int
    open_invoice_count: int
    open_invoices: list[OpenInvoice]


class Payment(BaseModel):
    payment_id: str
    paid_on: date
    invoice_no: str
    amount: int
    method: str


class PaymentHistory(BaseModel):
    customer: CustomerRef
    currency: str
    count: int
    total_paid: int
    payments: list[Payment]


class OverdueCustomer(BaseModel):
    mst: str
    name: str
    overdue: int
    outstanding: int
    overdue_invoice_count: int
    oldest_due_date: date
    max_days_overdue: int


class OverdueCustomers(BaseModel):
    as_of: date
    currency: str
    count: int
    total_overdue: int
    customers: list[OverdueCustomer]


class ShipmentEvent(BaseModel):
    at: str
    location: str
    status: str
    note: str


class ShipmentStatus(BaseModel):
    shipment_id: str
    order_id: str
    customer: CustomerRef
    carrier: str
    origin: str
    destination: str
    eta: date
    status: str
    status_at: str
    location: str
    delivered: bool


class ShipmentEvents(BaseModel):
    shipment_id: str
    status: str
    count: int
    events: list[ShipmentEvent]


class WarehouseStock(BaseModel):
    warehouse: str
    on_hand: int
    reserved: int
    available: int


class StockLevel(BaseModel):
    sku: str
    name: str
    unit: str
    unit_price: int
    reorder_point: int
    on_hand: int
    reserved: int
    available: int
    below_reorder_point: bool
    warehouses: list[WarehouseStock]


class OrderLineRequest(BaseModel):
    sku: str = Field(min_length=1, max_length=32)
    quantity: int = Field(ge=1, le=100_000)


class OrderRequest(BaseModel):
    mst: str
    items: list[OrderLineRequest] = Field(min_length=1, max_length=50)
    note: str | None = Field(default=None, max_length=500)


class OrderLine(BaseModel):
    sku: str
    name: str
    quantity: int
    unit_price: int
    line_total: int


class Order(BaseModel):
    order_id: str
    status: str
    customer: CustomerRef
    created_at: str
    currency: str
    total: int
    items: list[OrderLine]
    shipment_id: str | None = None
    note: str | None = None


class Identifier(BaseModel):
    id: str
    label: str = Field(description="what the id names, for a person choosing one")


class Identifiers(BaseModel):
    """The tenant's ids of one kind that start with a prefix (argument completion)."""

    items: list[Identifier]
    total: int = Field(description="how many ids match, of which `items` holds the first")


IdentifierKind = Literal["customers", "shipments", "skus"]
_IDENTIFIERS = {
    "customers": (customers, "mst", "name"),
    "shipments": (shipments, "shipment_id", "destination"),
    "skus": (skus, "sku", "name"),
}
_LIKE_SPECIALS = re.compile(r"([\\%_])")


class DemoErp:
    """Tenant-scoped queries and the one write (placing an order) over the demo database."""

    def __init__(self, engine: AsyncEngine, *, as_of: date, currency: str = "VND") -> None:
        self._engine = engine
        self.as_of = as_of
        self.currency = currency

    async def _customer(self, conn: AsyncConnection, tenant_id: str, mst: str) -> Customer:
        row = (
            (
                await conn.execute(
                    sa.select(customers).where(
                        customers.c.tenant_id == tenant_id, customers.c.mst == check_mst(mst)
                    )
                )
            )
            .mappings()
            .first()
        )
        if row is None:
            raise RecordNotFound(f"no customer with MST {mst}", details={"mst": mst})
        return Customer.model_validate(dict(row))

    async def customer(self, tenant_id: str, mst: str) -> Customer:
        async with self._engine.connect() as conn:
            return await self._customer(conn, tenant_id, mst)

    async def identifiers(self, tenant_id: str, kind: IdentifierKind, prefix: str, limit: int) -> Identifiers:
        """The tenant's `kind` ids starting with `prefix` (case-insensitive), in order."""
        table, id_column, label_column = _IDENTIFIERS[kind]
        key, label = table.c[id_column], table.c[label_column]
        pattern = _LIKE_SPECIALS.sub(r"\\\1", prefix.upper()) + "%"
        matching = sa.and_(table.c.tenant_id == tenant_id, sa.func.upper(key).like(pattern, escape="\\"))
        async with self._engine.connect() as conn:
            total = (await conn.execute(sa.select(sa.func.count()).where(matching))).scalar_one()
            page = sa.select(key, label).where(matching).order_by(key).limit(limit)
            rows = (await conn.execute(page)).all()
        return Identifiers(items=[Identifier(id=row[0], label=str(row[1])) for row in rows], total=total)

    async def _open_invoices(
        self, conn: AsyncConnection, tenant_id: str, as_of: date, mst: str | None = None
    ) -> dict[str, list[OpenInvoice]]:
        """Invoices with a balance left on `as_of`, by customer MST."""
        paid = (
            sa.select(payments.c.invoice_no, sa.func.sum(payments.c.amount).label("paid"))
            .where(payments.c.tenant_id == tenant_id, payments.c.paid_on <= as_of)
            .group_by(payments.c.invoice_no)
            .subquery()
        )
        query = (
            sa.select(invoices, sa.func.coalesce(paid.c.paid, 0).label("paid"))
            .outerjoin(paid, paid.c.invoice_no == invoices.c.invoice_no)
            .where(invoices.c.tenant_id == tenant_id, invoices.c.issue_date <= as_of)
            .order_by(invoices.c.due_date, invoices.c.invoice_no)
        )
        if mst is not None:
            query = query.where(invoices.c.mst == mst)
        found: dict[str, list[OpenInvoice]] = defaultdict(list)
        for row in (await conn.execute(query)).mappings():
            balance = row["amount"] - row["paid"]
            if balance <= 0:
                continue
            found[row["mst"]].append(
                OpenInvoice(
                    invoice_no=row["invoice_no"],
                    issue_date=row["issue_date"],
                    due_date=row["due_date"],
                    amount=row["amount"],
                    paid=row["paid"],
                    balance=balance,
                    status="partially_paid" if row["paid"] else "unpaid",
                    days_overdue=max(0, (as_of - row["due_date"]).days),
                )
            )
        return found

    async def debt(self, tenant_id: str, mst: str, as_of: date | None = None) -> CustomerDebt:
        """Outstanding and overdue amounts of one customer on `as_of` (the data set's date by default)."""
        as_of = as_of or self.as_of
        async with self._engine.connect() as conn:
            customer = await self._customer(conn, tenant_id, mst)
            open_invoices = (await self._open_invoices(conn, tenant_id, as_of, mst)).get(mst, [])
        outstanding = sum(invoice.balance for invoice in open_invoices)
        overdue = sum(invoice.balance for invoice in open_invoices if invoice.days_overdue > 0)
        return CustomerDebt(
            customer=CustomerRef(mst=customer.mst, name=customer.name),
            as_of=as_of,
            currency=self.currency,
            outstanding=outstanding,
            overdue=overdue,
            not_yet_due=outstanding - overdue,
            credit_limit=customer.credit_limit,
            open_invoice_count=len(open_invoices),
            open_invoices=open_invoices,
        )

    async def payment_history(self, tenant_id: str, mst: str, limit: int = 20) -> PaymentHistory:
        """The customer's payments, newest first; `count` and `total_paid` cover all of them."""
        async with self._engine.connect() as conn:
            customer = await self._customer(conn, tenant_id, mst)
            rows = (
                (
                    await conn.execute(
                        sa.select(payments)
                        .where(payments.c.tenant_id == tenant_id, payments.c.mst == mst)
                        .order_by(payments.c.paid_on.desc(), payments.c.payment_id.desc())
                    )
                )
                .mappings()
                .all()
            )
        return PaymentHistory(
            customer=CustomerRef(mst=customer.mst, name=customer.name),
            currency=self.currency,
            count=len(rows),
            total_paid=sum(row["amount"] for row in rows),
            payments=[Payment.model_validate(dict(row)) for row in rows[:limit]],
        )

    async def overdue_customers(
        self,
        tenant_id: str,
        *,
        as_of: date | None = None,
        min_overdue: int = 0,
        min_days: int = 0,
        limit: int = 20,
    ) -> OverdueCustomers:
        """Customers with overdue balances, largest first; totals cover every match, not just `limit`."""
        as_of = as_of or self.as_of
        async with self._engine.connect() as conn:
            by_customer = await self._open_invoices(conn, tenant_id, as_of)
            names = dict(
                (
                    await conn.execute(
                        sa.select(customers.c.mst, customers.c.name).where(customers.c.tenant_id == tenant_id)
                    )
                )
                .tuples()
                .all()
            )
        found: list[OverdueCustomer] = []
        for mst, open_invoices in by_customer.items():
            late = [invoice for invoice in open_invoices if invoice.days_overdue >= max(1, min_days)]
            overdue = sum(invoice.balance for invoice in late)
            if not late or overdue < max(1, min_overdue):
                continue
            found.append(
                OverdueCustomer(
                    mst=mst,
                    name=names[mst],
                    overdue=overdue,
                    outstanding=sum(invoice.balance for invoice in open_invoices),
                    overdue_invoice_count=len(late),
                    oldest_due_date=min(invoice.due_date for invoice in late),
                    max_days_overdue=max(invoice.days_overdue for invoice in late),
                )
            )
        found.sort(key=lambda customer: (-customer.overdue, customer.mst))
        return OverdueCustomers(
            as_of=as_of,
            currency=self.currency,
            count=len(found),
            total_overdue=sum(customer.overdue for customer in found),
            customers=found[:limit],
        )

    async def _shipment(
        self, conn: AsyncConnection, tenant_id: str, shipment_id: str
    ) -> tuple[sa.RowMapping, list[ShipmentEvent]]:
        row = (
            (
                await conn.execute(
                    sa.select(shipments, customers.c.name)
                    .join(
                        customers,
                        sa.and_(
                            customers.c.tenant_id == shipments.c.tenant_id, customers.c.mst == shipments.c.mst
                        ),
                    )
                    .where(shipments.c.tenant_id == tenant_id, shipments.c.shipment_id == shipment_id)
                )
            )
            .mappings()
            .first()
        )
        if row is None:
            raise RecordNotFound(f"no shipment {shipment_id}", details={"shipment_id": shipment_id})
        events = (
            (
                await conn.execute(
                    sa.select(shipment_events)
                    .where(shipment_events.c.shipment_id == shipment_id)
                    .order_by(shipment_events.c.at, shipment_events.c.id)
                )
            )
            .mappings()
            .all()
        )
        return row, [ShipmentEvent.model_validate(dict(event)) for event in events]

    async def shipment(self, tenant_id: str, shipment_id: str) -> ShipmentStatus:
        """Where a shipment is now: its latest event."""
        async with self._engine.connect() as conn:
            row, events = await self._shipment(conn, tenant_id, shipment_id)
        latest = events[-1]
        return ShipmentStatus(
            shipment_id=row["shipment_id"],
            order_id=row["order_id"],
            customer=CustomerRef(mst=row["mst"], name=row["name"]),
            carrier=row["carrier"],
            origin=row["origin"],
            destination=row["destination"],
            eta=row["eta"],
            status=latest.status,
            status_at=latest.at,
            location=latest.location,
            delivered=latest.status == "delivered",
        )

    async def shipment_events(self, tenant_id: str, shipment_id: str) -> ShipmentEvents:
        """Every status event of a shipment, oldest first."""
        async with self._engine.connect() as conn:
            _, events = await self._shipment(conn, tenant_id, shipment_id)
        return ShipmentEvents(
            shipment_id=shipment_id, status=events[-1].status, count=len(events), events=events
        )

    async def _stock(self, conn: AsyncConnection, tenant_id: str, sku: str) -> StockLevel:
        item = (
            (await conn.execute(sa.select(skus).where(skus.c.tenant_id == tenant_id, skus.c.sku == sku)))
            .mappings()
            .first()
        )
        if item is None:
            raise RecordNotFound(f"no SKU {sku}", details={"sku": sku})
        levels = (
            (
                await conn.execute(
                    sa.select(stock_levels)
                    .where(stock_levels.c.tenant_id == tenant_id, stock_levels.c.sku == sku)
                    .order_by(stock_levels.c.warehouse)
                )
            )
            .mappings()
            .all()
        )
        warehouses = [
            WarehouseStock(
                warehouse=level["warehouse"],
                on_hand=level["on_hand"],
                reserved=level["reserved"],
                available=level["on_hand"] - level["reserved"],
            )
            for level in levels
        ]
        available = sum(w.available for w in warehouses)
        return StockLevel(
            sku=item["sku"],
            name=item["name"],
            unit=item["unit"],
            unit_price=item["unit_price"],
            reorder_point=item["reorder_point"],
            on_hand=sum(w.on_hand for w in warehouses),
            reserved=sum(w.reserved for w in warehouses),
            available=available,
            below_reorder_point=available < item["reorder_point"],
            warehouses=warehouses,
        )

    async def stock(self, tenant_id: str, sku: str) -> StockLevel:
        async with self._engine.connect() as conn:
            return await self._stock(conn, tenant_id, sku)

    async def _order(self, conn: AsyncConnection, tenant_id: str, order_id: str) -> Order:
        row = (
            (
                await conn.execute(
                    sa.select(orders, customers.c.name)
                    .join(
                        customers,
                        sa.and_(customers.c.tenant_id == orders.c.tenant_id, customers.c.mst == orders.c.mst),
                    )
                    .where(orders.c.tenant_id == tenant_id, orders.c.order_id == order_id)
                )
            )
            .mappings()
            .first()
        )
        if row is None:
            raise RecordNotFound(f"no order {order_id}", details={"order_id": order_id})
        lines = (
            (
                await conn.execute(
                    sa.select(order_items, skus.c.name)
                    .join(skus, sa.and_(skus.c.tenant_id == tenant_id, skus.c.sku == order_items.c.sku))
                    .where(order_items.c.order_id == order_id)
                    .order_by(order_items.c.line)
                )
            )
            .mappings()
            .all()
        )
        shipment_id = (
            await conn.execute(
                sa.select(shipments.c.shipment_id).where(
                    shipments.c.tenant_id == tenant_id, shipments.c.order_id == order_id
                )
            )
        ).scalar()
        items = [
            OrderLine(
                sku=line["sku"],
                name=line["name"],
                quantity=line["quantity"],
                unit_price=line["unit_price"],
                line_total=line["quantity"] * line["unit_price"],
            )
            for line in lines
        ]
        return Order(
            order_id=row["order_id"],
            status=row["status"],
            customer=CustomerRef(mst=row["mst"], name=row["name"]),
            created_at=row["created_at"],
            currency=self.currency,
            total=sum(item.line_total for item in items),
            items=items,
            shipment_id=shipment_id,
            note=row["note"],
        )

    async def order(self, tenant_id: str, order_id: str) -> Order:
        async with self._engine.connect() as conn:
            return await self._order(conn, tenant_id, order_id)

    async def place_order(self, tenant_id: str, request: OrderRequest) -> Order:
        """Confirm an order and reserve its stock, warehouse by warehouse; all or nothing."""
        wanted: dict[str, int] = defaultdict(int)
        for line in request.items:
            wanted[line.sku] += line.quantity
        order_id = f"SO-{secrets.token_hex(4).upper()}"
        async with self._engine.begin() as conn:
            await self._customer(conn, tenant_id, request.mst)
            for sku, quantity in wanted.items():
                level = await self._stock(conn, tenant_id, sku)
                if level.available < quantity:
                    raise Conflict(
                        f"insufficient stock for {sku}: {level.available} available, {quantity} requested",
                        details={"sku": sku, "available": level.available, "requested": quantity},
                    )
                await self._reserve(conn, tenant_id, level, quantity)
            await conn.execute(
                orders.insert().values(
                    order_id=order_id,
                    tenant_id=tenant_id,
                    mst=request.mst,
                    created_at=datetime.now(UTC).isoformat(timespec="seconds"),
                    status="confirmed",
                    note=request.note,
                )
            )
            prices = dict(
                (
                    await conn.execute(
                        sa.select(skus.c.sku, skus.c.unit_price).where(skus.c.tenant_id == tenant_id)
                    )
                )
                .tuples()
                .all()
            )
            await conn.execute(
                order_items.insert(),
                [
                    {
                        "order_id": order_id,
                        "line": n,
                        "sku": line.sku,
                        "quantity": line.quantity,
                        "unit_price": prices[line.sku],
                    }
                    for n, line in enumerate(request.items, start=1)
                ],
            )
            return await self._order(conn, tenant_id, order_id)

    async def _reserve(self, conn: AsyncConnection, tenant_id: str, level: StockLevel, quantity: int) -> None:
        for warehouse in sorted(level.warehouses, key=lambda w: -w.available):
            take = min(quantity, warehouse.available)
            if take <= 0:
                continue
            await conn.execute(
                stock_levels.update()
                .where(
                    stock_levels.c.tenant_id == tenant_id,
                    stock_levels.c.sku == level.sku,
                    stock_levels.c.warehouse == warehouse.warehouse,
                )
                .values(reserved=stock_levels.c.reserved + take)
            )
            quantity -= take
