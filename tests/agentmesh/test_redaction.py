"""Redaction masks each category of personal data and leaves business numbers alone."""

from __future__ import annotations

import io
import json

import pytest
import structlog

from agentmesh.redaction import Redactor, luhn_valid

EVERYTHING = Redactor()


@pytest.mark.parametrize(
    "email", ["alice@acme.com", "nguyen.van.a+invoices@mail.acme.com.vn", "KE_TOAN@Globex.VN"]
)
def test_emails_are_masked(email: str) -> None:
    assert EVERYTHING.redact(f"Write to {email}, please.") == "Write to [EMAIL], please."


@pytest.mark.parametrize(
    "phone",
    [
        "0901234567",
        "090 123 4567",
        "0901.234.567",
        "0912-345-678",
        "0389123456",
        "+84 90 123 4567",
        "+84901234567",
        "0084 90 123 4567",
        "+84 (0) 90 123 4567",
        "024 3825 1234",
        "(028) 3822 1234",
        "028.3822.1234",
        "+84 24 3825 1234",
        "+1 (415) 555-2671",
        "+44 20 7946 0958",
        "+65 6123 4567",
    ],
)
def test_vietnamese_and_international_phones_are_masked(phone: str) -> None:
    assert EVERYTHING.redact(f"Call {phone} today.") == "Call [PHONE] today."


@pytest.mark.parametrize(
    "text",
    [
        "MST 3428557611",  # a demo customer's tax code
        "MST: 0351234567",  # a tax code that would also be a valid mobile number
        "Mã số thuế 0389123456",
        "tax code 0901234567",
        "MST 0312345678-001",  # a branch's tax code
        "Invoice INV-0901234567",
        "Hóa đơn số 0000123",
        "HD/0901234567",
        "Order SO-2024-000123, shipment SH-1042",
        "Outstanding 321,330,000 VND, overdue 99.700.000 VND",
        "Version 1.0901234567",
        "Due 2024-09-01, paid 01/10/2024",
        "0312345678",  # 031 is not a mobile prefix in use
    ],
)
def test_tax_codes_invoice_numbers_amounts_and_dates_are_not_phones(text: str) -> None:
    assert EVERYTHING.redact(text) == text


@pytest.mark.parametrize(
    "card",
    [
        "4111 1111 1111 1111",
        "4111111111111111",
        "5500-0000-0000-0004",
        "378282246310005",
        "3782 822463 10005",
    ],
)
def test_card_numbers_that_pass_luhn_are_masked(card: str) -> None:
    assert EVERYTHING.redact(f"Card {card} expires 12/27") == "Card [CARD] expires 12/27"


@pytest.mark.parametrize(
    "text",
    [
        "Card 4111 1111 1111 1112",  # fails Luhn
        "Reference 4111-111-1111-1111",  # not a card grouping
        "Account 0123456789012345",  # cards never start with 0
        "Order total 4111111111111111111111 VND",  # too long
        "Tracking 4111 1111 1111-1111",  # mixed separators
    ],
)
def test_numbers_that_only_look_like_cards_are_kept(text: str) -> None:
    assert EVERYTHING.redact(text) == text


def test_luhn() -> None:
    assert luhn_valid("79927398713")
    assert not luhn_valid("79927398710")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("CCCD 079203012345", "CCCD [VN_ID]"),
        ("Căn cước công dân: 001099012345", "Căn cước công dân: [VN_ID]"),
        ("owner 079203012345 signed", "owner [VN_ID] signed"),
        ("CMND: 123456789", "CMND: [VN_ID]"),
        ("số chứng minh nhân dân 025123456", "số chứng minh nhân dân [VN_ID]"),
        ("national ID no. 123456789", "national ID no. [VN_ID]"),
    ],
)
def test_vietnamese_identity_numbers_are_masked(text: str, expected: str) -> None:
    assert EVERYTHING.redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Amount 321330000 VND",  # 9 digits without an identity label
        "order id number 123456789",
        "Batch 999203012345",  # no province starts with 999
        "MST 0312345678-001",
    ],
)
def test_nine_and_twelve_digit_business_numbers_are_not_identity_numbers(text: str) -> None:
    assert EVERYTHING.redact(text) == text


def test_only_the_chosen_categories_are_masked() -> None:
    cards_only = Redactor(["card"])
    text = "alice@acme.com 0901234567 4111111111111111"
    assert cards_only.redact(text) == "alice@acme.com 0901234567 [CARD]"


def test_configured_identifiers_are_masked_with_their_name() -> None:
    redactor = Redactor(["email", "employee_id"], {"employee_id": r"\bGBX-\d{5}\b"})
    assert redactor.redact("GBX-00042 (bob@globex.vn)") == "[EMPLOYEE_ID] ([EMAIL])"
    assert redactor.redact("no personal data here") == "no personal data here"


def test_an_unknown_category_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown redaction categories: passport"):
        Redactor(["passport"])


def test_nested_values_are_redacted_and_keys_kept() -> None:
    value = {
        "customer": {"email": "a@b.vn", "phones": ["0901234567", 42]},
        "mst": "3428557611",
        "ok": True,
    }
    assert EVERYTHING.redact_obj(value) == {
        "customer": {"email": "[EMAIL]", "phones": ["[PHONE]", 42]},
        "mst": "3428557611",
        "ok": True,
    }


def test_log_events_are_redacted_by_the_structlog_processor() -> None:
    out = io.StringIO()
    logger = structlog.wrap_logger(
        structlog.PrintLogger(out),
        processors=[EVERYTHING.process_log_event, structlog.processors.JSONRenderer()],
    )
    logger.info("customer called from 0901234567", contact={"email": "alice@acme.com"}, mst="3428557611")
    event = json.loads(out.getvalue())
    assert event == {
        "event": "customer called from [PHONE]",
        "contact": {"email": "[EMAIL]"},
        "mst": "3428557611",
    }


def test_a_broken_configured_identifier_is_reported_by_name() -> None:
    with pytest.raises(ValueError, match="identifier 'staff_id' is not a valid regular expression"):
        Redactor(identifiers={"staff_id": "ST-(\\d"})
