"""Answers are composed from structured results according to the tool's output format."""

from __future__ import annotations

from host.answers import compose_answer, markdown_table


def test_summary_lists_scalar_fields_in_hint_order() -> None:
    data = {"customer": "Công ty ABC", "outstanding": 12500000, "overdue": 3000000.5, "currency": "VND"}
    answer = compose_answer(data, {"format": "summary_text", "fields": ["outstanding", "overdue"]}, "")
    assert answer.text.startswith("Outstanding: 12,500,000; Overdue: 3,000,000.5;")
    assert "Customer: Công ty ABC" in answer.text


def test_markdown_table_uses_the_rows_and_fields_hints() -> None:
    data = {
        "mst": "0312345678",
        "payments": [
            {"date": "2024-01-02", "amount": 100, "ref": "A|1"},
            {"date": "2024-02-02", "amount": 50},
        ],
    }
    answer = compose_answer(
        data, {"format": "markdown_table", "fields": ["date", "amount"], "rows": "payments"}, ""
    )
    assert "| Date | Amount |" in answer.text
    assert "| 2024-01-02 | 100 |" in answer.text
    assert "ref" not in answer.text.lower().split("payments")[1]


def test_markdown_table_caps_rows_visibly() -> None:
    table = markdown_table([{"n": i} for i in range(25)])
    assert table.count("\n| ") == 21  # separator + 20 rows after the header
    assert "5 more rows not shown" in table


def test_passages_become_a_cited_answer() -> None:
    data = {
        "results": [
            {
                "title": "Return policy",
                "snippet": "Goods may be returned within 30 days.",
                "document_id": "d1",
            },
            {"title": "Shipping policy", "snippet": "We ship in 3 days.", "document_id": "d2"},
        ]
    }
    answer = compose_answer(data, {"format": "summary_text"}, "")
    assert 'According to "Return policy": Goods may be returned within 30 days. [1]' in answer.text
    assert [c["document_id"] for c in answer.citations] == ["d1", "d2"]


def test_a_whole_policy_is_answered_by_its_best_passages_in_reading_order() -> None:
    policy = {"title": "Return policy", "document_id": "returns"}
    data = {
        "results": [
            {**policy, "chunk_index": 2, "snippet": "Refunds take 5 business days."},
            {"title": "Shipping policy", "document_id": "shipping", "snippet": "We ship in 3 days."},
            {**policy, "chunk_index": 3, "snippet": "Report damage within 7 days."},
            {**policy, "chunk_index": 1, "snippet": "Items may be returned within 30 days."},
            {**policy, "chunk_index": 0, "snippet": "Returns are free."},
        ]
    }
    answer = compose_answer(data, {"format": "summary_text"}, "")
    assert answer.text.startswith(
        'According to "Return policy":\n- Items may be returned within 30 days. [1]\n'
        "- Refunds take 5 business days. [1]\n- Report damage within 7 days. [1]\n\nSources:"
    )
    assert [c["document_id"] for c in answer.citations] == ["returns", "shipping"]


def test_empty_structure_falls_back_to_the_tool_text() -> None:
    assert compose_answer({}, {}, "plain text").text == "plain text"


def test_each_source_is_cited_once() -> None:
    data = {
        "results": [
            {"title": "Return policy", "snippet": "30 days.", "document_id": "d1"},
            {"title": "Return policy", "snippet": "Refunds in 5 days.", "document_id": "d1"},
            {"title": "Shipping policy", "snippet": "3 days.", "document_id": "d2"},
        ]
    }
    answer = compose_answer(data, {"format": "summary_text"}, "")
    assert [c["document_id"] for c in answer.citations] == ["d1", "d2"]
    assert answer.text.endswith("[1] Return policy\n[2] Shipping policy")
