"""Answers are composed from structured results according to the tool's output format."""

from __future__ import annotations

from host.answers import closest_titles, compose_answer, markdown_table, passages_answer


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


def test_a_table_of_the_first_rows_of_more_says_how_many_there_are() -> None:
    data = {"count": 36, "customers": [{"mst": f"03000000{n:02}"} for n in range(20)]}
    render = {"format": "markdown_table", "rows": "customers", "fields": ["mst"]}
    assert compose_answer(data, render, "").text.endswith("Showing 20 of 36.")
    assert compose_answer(data, render, "", "vi").text.endswith("Hiển thị 20 trên 36.")
    every = {"count": 20, "customers": data["customers"]}
    assert "Showing" not in compose_answer(every, render, "").text


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
    # Only what the answer quotes is a source: a lower-ranked hit it does not quote is not.
    assert [c["document_id"] for c in answer.citations] == ["d1"]
    assert answer.text.endswith("Sources:\n[1] Return policy")


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
    assert [c["document_id"] for c in answer.citations] == ["returns"]


def test_empty_structure_falls_back_to_the_tool_text() -> None:
    assert compose_answer({}, {}, "plain text").text == "plain text"


def test_each_relevant_source_is_cited_once_when_others_are_cited() -> None:
    rows = [
        {"title": "Return policy", "snippet": "30 days.", "document_id": "d1"},
        {"title": "Return policy", "snippet": "Refunds in 5 days.", "document_id": "d1"},
        {"title": "Shipping policy", "snippet": "3 days.", "document_id": "d2"},
    ]
    answer = passages_answer(rows, "en", cite_others=True)
    assert [c["document_id"] for c in answer.citations] == ["d1", "d2"]
    assert answer.text.endswith("[1] Return policy\n[2] Shipping policy")


def test_a_vietnamese_reader_is_quoted_the_documents_vietnamese_passages() -> None:
    policy = {"title": "ACME Return Policy", "document_id": "returns"}
    rows = [
        {**policy, "chunk_index": 0, "snippet": "Customers may return any item within 30 days of delivery."},
        {**policy, "chunk_index": 4, "snippet": "Khách hàng được đổi trả sản phẩm trong vòng 30 ngày."},
        {**policy, "chunk_index": 1, "snippet": "Open a return request in the customer portal."},
    ]
    vietnamese = passages_answer(rows, "vi")
    assert vietnamese.text.startswith("Theo “ACME Return Policy”: Khách hàng được đổi trả sản phẩm trong")
    assert "Customers" not in vietnamese.text and vietnamese.text.endswith("Nguồn:\n[1] ACME Return Policy")
    english = passages_answer(rows, "en")
    assert "Khách hàng" not in english.text and "- Customers may return any item" in english.text


def test_a_passage_wrapped_over_lines_stays_one_list_item() -> None:
    policy = {"title": "Return policy", "document_id": "returns"}
    rows = [
        {
            **policy,
            "chunk_index": 0,
            "snippet": "Items may be returned within 30 days. The item must be\nunused.",
        },
        {**policy, "chunk_index": 1, "snippet": "Refunds take\n  5 business days."},
    ]
    answer = passages_answer(rows, "en")
    assert "\n- Items may be returned within 30 days. The item must be unused. [1]\n" in answer.text
    assert "\n- Refunds take 5 business days. [1]" in answer.text


def test_the_closest_documents_are_named_in_rank_order_once_each() -> None:
    data = {
        "results": [
            {"title": "Shipping policy", "snippet": "We ship in 3 days.", "document_id": "d2"},
            {"title": "Shipping policy", "snippet": "Free over 1M.", "document_id": "d2"},
            {"title": "Return policy", "snippet": "30 days.", "document_id": "d1"},
        ]
    }
    assert closest_titles(data, {}) == ["Shipping policy", "Return policy"]
    assert closest_titles({"rows": [{"sku": "A"}]}, {}) == []


def test_a_short_passage_is_quoted_whole_and_a_long_one_by_its_snippet() -> None:
    summary = "Đổi trả trong vòng 30 ngày. Tiền hoàn trong 5 ngày làm việc."
    handbook = "Returns are accepted within 30 days. " * 30
    rows = [
        {
            "title": "Policy",
            "document_id": "p",
            "chunk_index": 0,
            "snippet": "Tiền hoàn trong 5",
            "text": summary,
        },
        {
            "title": "Policy",
            "document_id": "p",
            "chunk_index": 1,
            "snippet": "within 30 days",
            "text": handbook,
        },
    ]
    assert passages_answer(rows[:1], "vi").text.startswith(f"Theo “Policy”: {summary} [1]")
    assert passages_answer(rows[1:], "en").text.startswith('According to "Policy": within 30 days [1]')


def test_a_quoted_passage_keeps_its_lists_paragraphs_and_tables() -> None:
    procedure = (
        "Do this:\n- first item\n- second item, wrapped\n  over two lines\n\n| a | b |\n|---|---|\n| 1 | 2 |"
    )
    rows = [{"title": "Procedure", "document_id": "p", "chunk_index": 0, "text": procedure}]
    assert passages_answer(rows, "en").text.startswith(
        'According to "Procedure": Do this:\n- first item\n- second item, wrapped over two lines\n\n'
        "| a | b |\n|---|---|\n| 1 | 2 | [1]"
    )
    rows.append({"title": "Procedure", "document_id": "p", "chunk_index": 1, "text": "Then\nthat."})
    assert passages_answer(rows, "en").text.startswith(
        'According to "Procedure":\n- Do this:\n  - first item\n  - second item, wrapped over two lines\n  \n'
    )
