"""A schema violation is reported as a list of problems, each named by its field."""

from __future__ import annotations

from typing import Any

import pytest

from mcp_servers.common.errors import InvalidArguments
from mcp_servers.erp.arguments import check_arguments
from mcp_servers.erp.tool_config import builtin_tools

ORDER_SCHEMA = next(tool for tool in builtin_tools() if tool.name == "create_order").input_schema
DEBT_SCHEMA = next(tool for tool in builtin_tools() if tool.name == "get_customer_debt").input_schema


def problems(schema: dict[str, Any], arguments: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(InvalidArguments) as caught:
        check_arguments("tool", schema, arguments)
    return {problem.field: problem.problem for problem in caught.value.problems}


def test_valid_arguments_pass() -> None:
    check_arguments(
        "create_order", ORDER_SCHEMA, {"mst": "0312345678-001", "items": [{"sku": "ACM-0001", "quantity": 2}]}
    )
    check_arguments("get_customer_debt", DEBT_SCHEMA, {"mst": "0312345678", "as_of": "2025-06-01"})


def test_a_malformed_mst_names_the_expected_format() -> None:
    found = problems(DEBT_SCHEMA, {"mst": "03123"})
    assert list(found) == ["mst"]
    assert "'03123' is not in the expected format" in found["mst"]
    assert "10 digits" in found["mst"] and "-NNN branch suffix" in found["mst"]


def test_every_problem_is_listed_by_field_name() -> None:
    found = problems(
        ORDER_SCHEMA,
        {
            "items": [{"sku": "acm-1", "quantity": 0}, {"quantity": "two"}],
            "note": "x" * 600,
            "priority": "high",
        },
    )
    assert found == {
        "mst": "is required",
        "items[0].sku": found["items[0].sku"],
        "items[0].quantity": "must be at least 1, got 0",
        "items[1].sku": "is required",
        "items[1].quantity": "must be of type integer, got 'two'",
        "note": "must have at most 500 characters",
        "priority": "is not an accepted argument",
    }
    assert "is not in the expected format: stock keeping unit" in found["items[0].sku"]


def test_the_error_message_lists_the_problems_one_per_line() -> None:
    with pytest.raises(InvalidArguments) as caught:
        check_arguments("create_order", ORDER_SCHEMA, {"items": []})
    message = caught.value.message
    assert message.splitlines() == [
        "Invalid arguments for create_order (2 problems):",
        "- items: must have at least 1 items",
        "- mst: is required",
    ]
    assert caught.value.details["problems"][1] == {"field": "mst", "problem": "is required"}


def test_dates_are_checked_as_dates() -> None:
    found = problems(DEBT_SCHEMA, {"mst": "0312345678", "as_of": "30/06/2025"})
    assert found["as_of"].startswith("'30/06/2025' is not a valid date")
