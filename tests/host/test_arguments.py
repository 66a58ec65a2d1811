"""The local planner fills tool arguments from JSON Schemas, the message and session memory."""

from __future__ import annotations

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
    attachment = Attachment(name="r.png", media_type="image/png", content_base64="aGVsbG8=")
    filled = fill_arguments(schema, "  read this receipt  ", attachments=[attachment])
    assert filled.arguments == {"query": "read this receipt", "image": "aGVsbG8="}


def test_only_pattern_arguments_are_remembered() -> None:
    schema = {
        "type": "object",
        "properties": {"mst": {"type": "string", "pattern": "^[0-9]{10}$"}, "top_k": {"type": "integer"}},
    }
    assert remembered_entities(schema, {"mst": "0312345678", "top_k": 5}) == {"mst": "0312345678"}
