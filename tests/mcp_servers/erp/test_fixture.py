"""The demo ERP data set: committed, reproducible, and shaped like a real company's books."""

from __future__ import annotations

import re
from typing import Any

from mcp_servers.erp.fixtures.generate import FIXTURE_PATH, render

MST = re.compile(r"^[0-9]{10}(-[0-9]{3})?$")


def test_committed_fixture_is_exactly_what_the_generator_produces() -> None:
    assert FIXTURE_PATH.read_text(encoding="utf-8") == render()


def test_dates_are_fixed_not_relative_to_today(demo_data: dict[str, Any]) -> None:
    assert demo_data["as_of"] == "2025-06-30"
    for ledger in demo_data["tenants"].values():
        assert all(p["paid_on"] <= demo_data["as_of"] for p in ledger["payments"])
        assert all(i["issue_date"] <= demo_data["as_of"] for i in ledger["invoices"])


def test_tenants_have_enough_distinct_customers_with_valid_msts(demo_data: dict[str, Any]) -> None:
    acme = demo_data["tenants"]["acme"]["customers"]
    globex = demo_data["tenants"]["globex"]["customers"]
    assert len(acme) >= 50
    assert len(globex) >= 20
    msts = [c["mst"] for c in acme + globex]
    assert all(MST.match(mst) for mst in msts)
    assert len(set(msts)) == len(msts), "MSTs are unique across both tenants"
    assert not {c["name"] for c in acme} & {c["name"] for c in globex}, "the tenants have different customers"
    assert sum(1 for mst in msts if "-" in mst) >= 1, "some customers are branches with a -NNN suffix"
    assert any(not c["name"].isascii() for c in acme), "Vietnamese company names"
    assert any(c["name"].isascii() for c in acme), "English company names"


def test_every_record_refers_to_its_own_tenants_customers(demo_data: dict[str, Any]) -> None:
    for ledger in demo_data["tenants"].values():
        msts = {c["mst"] for c in ledger["customers"]}
        invoices = {i["invoice_no"]: i for i in ledger["invoices"]}
        skus = {s["sku"] for s in ledger["skus"]}
        assert all(i["mst"] in msts and i["due_date"] > i["issue_date"] for i in ledger["invoices"])
        for payment in ledger["payments"]:
            assert invoices[payment["invoice_no"]]["mst"] == payment["mst"]
        paid: dict[str, int] = {}
        for payment in ledger["payments"]:
            paid[payment["invoice_no"]] = paid.get(payment["invoice_no"], 0) + payment["amount"]
        assert all(paid[number] <= invoices[number]["amount"] for number in paid), "no invoice is overpaid"
        assert all(line["sku"] in skus for order in ledger["orders"] for line in order["items"])
        assert all(s["mst"] in msts for s in ledger["shipments"])


def test_shipments_have_ordered_status_events(demo_data: dict[str, Any]) -> None:
    ids = [s["shipment_id"] for ledger in demo_data["tenants"].values() for s in ledger["shipments"]]
    assert len(set(ids)) == len(ids)
    assert "SH-1042" in ids
    for ledger in demo_data["tenants"].values():
        for shipment in ledger["shipments"]:
            assert re.match(r"^SH-[0-9]{4}$", shipment["shipment_id"])
            times = [event["at"] for event in shipment["events"]]
            assert times == sorted(times) and len(times) >= 2
            assert all(event["location"] and event["status"] for event in shipment["events"])


def test_invoices_cover_paid_partly_paid_and_unpaid(demo_data: dict[str, Any]) -> None:
    ledger = demo_data["tenants"]["acme"]
    paid: dict[str, int] = {}
    for payment in ledger["payments"]:
        paid[payment["invoice_no"]] = paid.get(payment["invoice_no"], 0) + payment["amount"]
    states = {
        "paid"
        if paid.get(i["invoice_no"], 0) == i["amount"]
        else "partial"
        if i["invoice_no"] in paid
        else "unpaid"
        for i in ledger["invoices"]
    }
    assert states == {"paid", "partial", "unpaid"}
