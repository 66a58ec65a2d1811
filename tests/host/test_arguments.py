"""The local planner fills tool arguments from JSON Schemas, the message and session memory."""

from __future__ import annotations

from datetime import date

from host.arguments import fill_arguments, remembered_entities
from host.models.base import Attachment

DEBT_SCHEMA = {
    "type": "object",
    "properties": {
        "mst": {"type": "string", "pattern": r"^[0-9]{10}(-[0-9]{3})?$", "description": "tax code"}
    },
    "required": ["mst"],
}
SHIPMENT_SCHEMA = {
    "type": "object",
    "properties": {"shipment_id": {"type": "string", "pattern": "^SH-[0-9]{4}$"}},
    "required": ["shipment_id"],
}


def test_a_pattern_finds_the_identifier_in_english_and_vietnamese() -> None:
    english = fill_arguments(DEBT_SCHEMA, "What is the debt for customer MST 0312345678?")
    vietnamese = fill_arguments(DEBT_SCHEMA, "Công nợ của khách hàng có MST 0312345678 là bao nhiêu?")
    assert english.arguments == {"mst": "0312345678"}
    assert vietnamese.arguments == {"mst": "0312345678"}


def test_a_pattern_does_not_match_inside_longer_numbers() -> None:
    filled = fill_arguments(DEBT_SCHEMA, "phone 031234567899 please")
    assert filled.missing == ["mst"]


def test_identifier_case_is_normalised_to_fit_the_pattern() -> None:
    assert fill_arguments(SHIPMENT_SCHEMA, "where is sh-1042?").arguments == {"shipment_id": "SH-1042"}


def test_missing_required_argument_is_reported_by_name() -> None:
    filled = fill_arguments(DEBT_SCHEMA, "what does this customer owe?")
    assert filled.arguments == {}
    assert filled.missing == ["mst"]


def test_memory_supplies_what_the_message_lacks() -> None:
    filled = fill_arguments(DEBT_SCHEMA, "and his payment history?", memory={"mst": "0312345678"})
    assert filled.arguments == {"mst": "0312345678"}
    assert filled.from_memory == ["mst"]


def test_memory_values_must_fit_the_pattern_under_another_name() -> None:
    schema = {
        "type": "object",
        "properties": {"customer_mst": {"type": "string", "pattern": "^[0-9]{10}$"}},
        "required": ["customer_mst"],
    }
    filled = fill_arguments(
        schema, "and the history?", memory={"shipment_id": "SH-1042", "mst": "0312345678"}
    )
    assert filled.arguments == {"customer_mst": "0312345678"}


def test_enum_date_number_and_url_fields() -> None:
    schema = {
        "type": "object",
        "properties": {
            "status": {"type": "string", "enum": ["in_transit", "delivered"]},
            "since": {"type": "string", "format": "date"},
            "min_days_overdue": {"type": "integer"},
            "url": {"type": "string", "format": "uri"},
        },
    }
    filled = fill_arguments(
        schema,
        "delivered since 05/03/2024 with more than 30 days overdue, see https://example.com/a.",
    )
    assert filled.arguments == {
        "status": "delivered",
        "since": "2024-03-05",
        "min_days_overdue": 30,
        "url": "https://example.com/a",
    }


def test_free_text_and_attachment_fields() -> None:
    schema = {
        "type": "object",
        "properties": {"query": {"type": "string"}, "image": {"type": "string", "contentEncoding": "base64"}},
        "required": ["query", "image"],
    }
    reference = "upload://" + "h" * 32
    attachment = Attachment(name="r.png", media_type="image/png", reference=reference)
    filled = fill_arguments(schema, "  read this receipt  ", attachments=[attachment])
    assert filled.arguments == {"query": "read this receipt", "image": reference}


def test_only_pattern_arguments_are_remembered() -> None:
    schema = {
        "type": "object",
        "properties": {"mst": {"type": "string", "pattern": "^[0-9]{10}$"}, "top_k": {"type": "integer"}},
    }
    assert remembered_entities(schema, {"mst": "0312345678", "top_k": 5}) == {"mst": "0312345678"}


ORDERS_SCHEMA = {
    "type": "object",
    "properties": {
        "limit": {"type": "integer", "minimum": 1, "maximum": 50},
        "mst": {"type": "string", "pattern": r"^[0-9]{10}$"},
        "min_days_overdue": {"type": "integer", "minimum": 0},
    },
}


def test_identifier_digits_are_never_read_as_numbers() -> None:
    filled = fill_arguments(ORDERS_SCHEMA, "limit 0312345678 please")
    assert filled.arguments == {"mst": "0312345678"}


def test_numbers_follow_common_words_for_the_property_and_respect_bounds() -> None:
    assert fill_arguments(ORDERS_SCHEMA, "Show the top 5 customers").arguments == {"limit": 5}
    assert fill_arguments(ORDERS_SCHEMA, "Show the top 500 customers").arguments == {}  # above the maximum
    assert fill_arguments(ORDERS_SCHEMA, "overdue by more than 45 days").arguments == {"min_days_overdue": 45}


def test_dates_in_many_writings() -> None:
    schema = {"type": "object", "properties": {"as_of": {"type": "string", "format": "date"}}}
    today = date(2024, 6, 15)
    cases = {
        "as of 2024-03-05": "2024-03-05",
        "as of 5/3/2024": "2024-03-05",
        "as of 5 March 2024": "2024-03-05",
        "as of March 5, 2024": "2024-03-05",
        "as of the 5th of Mar 2024": "2024-03-05",
        "công nợ ngày 5 tháng 3 năm 2024": "2024-03-05",
        "as of yesterday": "2024-06-14",
        "tính đến hôm nay": "2024-06-15",
    }
    for message, expected in cases.items():
        assert fill_arguments(schema, message, today=today).arguments == {"as_of": expected}, message
    assert fill_arguments(schema, "as of 31/02/2024", today=today).arguments == {}  # no such day


def test_an_enum_is_matched_without_accents_or_underscores() -> None:
    schema = {
        "type": "object",
        "properties": {"status": {"type": "string", "enum": ["in_transit", "đã_giao"]}},
    }
    assert fill_arguments(schema, "shipments still in transit").arguments == {"status": "in_transit"}
    assert fill_arguments(schema, "các đơn da giao").arguments == {"status": "đã_giao"}


def test_a_note_takes_the_quoted_text_and_a_search_the_whole_message() -> None:
    schema = {
        "type": "object",
        "properties": {"text": {"type": "string"}, "query": {"type": "string"}},
        "required": ["text", "query"],
    }
    filled = fill_arguments(schema, 'Create a note "call the supplier on Monday"')
    assert filled.arguments == {
        "text": "call the supplier on Monday",
        "query": 'Create a note "call the supplier on Monday"',
    }


def test_a_remembered_value_that_does_not_fit_the_pattern_is_not_used() -> None:
    filled = fill_arguments(DEBT_SCHEMA, "and his history?", memory={"mst": "SH-1042"})
    assert filled.missing == ["mst"]


def test_an_optional_value_written_as_a_type_list_is_filled_like_its_type() -> None:
    # Portable schemas (what servers publish) write an optional integer as ["integer", "null"].
    schema = {
        "type": "object",
        "required": ["mst"],
        "properties": {
            "mst": {"type": "string", "pattern": "^[0-9]{10}$"},
            "days": {"type": ["integer", "null"], "description": "how many days"},
        },
    }
    filled = fill_arguments(schema, "Payments of 3428557611 in the last 30 days")
    assert filled.arguments == {"mst": "3428557611", "days": 30} and filled.missing == []


ORDER_SCHEMA = {
    "type": "object",
    "required": ["mst", "items"],
    "properties": {
        "mst": DEBT_SCHEMA["properties"]["mst"],  # type: ignore[index]
        "items": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["sku", "quantity"],
                "properties": {
                    "sku": {"type": "string", "pattern": "^[A-Z]{3}-[0-9]{4}$"},
                    "quantity": {"type": "integer", "minimum": 1, "maximum": 100000},
                },
            },
        },
    },
}


def test_order_lines_pair_each_sku_with_its_count_in_english_and_vietnamese() -> None:
    two = [{"sku": "ACM-0001", "quantity": 2}]
    for message in (
        "Create an order for MST 3428557611: 2 units of ACM-0001",
        "Tạo đơn hàng cho MST 3428557611: 2 cái ACM-0001",
        "Tao don hang cho MST 3428557611 gom acm-0001 x 2",
    ):
        assert fill_arguments(ORDER_SCHEMA, message).arguments == {"mst": "3428557611", "items": two}, message
    several = fill_arguments(ORDER_SCHEMA, "Đặt cho 3428557611: 2 cái ACM-0001 và 15 bộ ACM-0002")
    assert several.arguments["items"] == [
        {"sku": "ACM-0001", "quantity": 2},
        {"sku": "ACM-0002", "quantity": 15},
    ]


def test_a_line_without_a_count_is_asked_for_not_guessed() -> None:
    filled = fill_arguments(ORDER_SCHEMA, "Order ACM-0001 for 3428557611")
    assert filled.arguments == {"mst": "3428557611"} and filled.missing == ["items"]


def test_a_count_of_that_item_orders_the_remembered_sku() -> None:
    memory = {"sku": "ACM-0001", "shipment_id": "SH-1042"}
    for message in ("Order 2 of that item for MST 3428557611", "Đặt 2 cái mặt hàng đó cho MST 3428557611"):
        filled = fill_arguments(ORDER_SCHEMA, message, memory=memory)
        assert filled.arguments == {"mst": "3428557611", "items": [{"sku": "ACM-0001", "quantity": 2}]}
        assert filled.from_memory == ["items"]
    # Without a count, or without a remembered item, nothing is guessed.
    uncounted = fill_arguments(ORDER_SCHEMA, "Order that item for MST 3428557611", memory=memory)
    assert uncounted.missing == ["items"]
    forgotten = fill_arguments(ORDER_SCHEMA, "Order 2 of that item for MST 3428557611", memory={})
    assert forgotten.missing == ["items"]
    # A message naming its own item, or referring back to none, never takes the remembered one.
    for message in (
        "Order ACM-0002 for MST 3428557611, quantity 3",
        "Create an order for 3428557611 with 5 units",
    ):
        assert fill_arguments(ORDER_SCHEMA, message, memory=memory).missing == ["items"], message
