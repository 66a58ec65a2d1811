"""The readable text of a result follows the tool's output format."""

from __future__ import annotations

from typing import Any

from mcp_servers.erp.rendering import fill, markdown_table, render_text
from mcp_servers.erp.tool_config import RendererHints, ToolOutput

DEBT: dict[str, Any] = {
    "customer": {"mst": "0312345678", "name": "Công ty TNHH Minh Phát"},
    "outstanding": 12_500_000,
    "currency": "VND",
    "invoices": [
        {"invoice_no": "INV-1", "balance": 10_000_000, "note": "a|b"},
        {"invoice_no": "INV-2", "balance": 2_500_000, "note": None},
    ],
}


def test_templates_follow_dotted_paths_and_format_numbers() -> None:
    text = fill("{customer.name} owes {outstanding:,} {currency}; first {invoices.0.invoice_no}", DEBT)
    assert text == "Công ty TNHH Minh Phát owes 12,500,000 VND; first INV-1"


def test_a_time_reads_as_date_and_minutes_without_its_offset() -> None:
    shipment = {"shipment_id": "SH-1042", "status_at": "2025-06-07T21:07:00+07:00"}
    assert fill("{shipment_id} (since {status_at})", shipment) == "SH-1042 (since 2025-06-07 21:07)"


def test_templates_never_reach_into_python_objects() -> None:
    assert fill("{customer.__class__} {missing.field} {outstanding.real}", DEBT) == "? ? ?"


def test_markdown_tables_escape_cells_and_cap_rows() -> None:
    table = markdown_table(DEBT["invoices"], ["invoice_no", "balance", "note"])
    assert table.splitlines() == [
        "| invoice_no | balance | note |",
        "| --- | --- | --- |",
        "| INV-1 | 10,000,000 | a\\|b |",
        "| INV-2 | 2,500,000 |  |",
    ]
    many = markdown_table([{"n": i} for i in range(60)], ["n"])
    assert many.splitlines()[-1] == "... 10 more rows"
    assert markdown_table([], ["n"]) == "(no rows)"


def test_each_output_format_renders_its_own_way() -> None:
    summary = "{customer.name}: {outstanding:,} {currency}"
    hints = RendererHints(rows="invoices", fields=["invoice_no", "balance"])
    as_summary = render_text(ToolOutput(format="summary_text", summary=summary), DEBT)
    as_table = render_text(ToolOutput(format="markdown_table", summary=summary, hints=hints), DEBT)
    as_json = render_text(ToolOutput(format="structured_json"), {"a": 1})
    assert as_summary == "Công ty TNHH Minh Phát: 12,500,000 VND"
    assert as_table.startswith(as_summary + "\n\n| invoice_no | balance |")
    assert as_json == '{\n  "a": 1\n}'
