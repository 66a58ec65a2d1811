"""A citation quotes the sentences of its passage that best match the query, diacritics aside."""

from __future__ import annotations

import pytest

from mcp_servers.rag.snippets import snippet

SUMMARY = (
    "Khách hàng được đổi trả sản phẩm trong vòng 30 ngày kể từ ngày nhận hàng. "
    "Tiền hoàn được chuyển về phương thức thanh toán ban đầu trong vòng 5 ngày làm việc."
)


@pytest.mark.parametrize(
    "query", ["đổi trả sản phẩm", "doi tra san pham"], ids=["diacritics", "no-diacritics"]
)
def test_the_sentence_matching_the_query_starts_the_snippet_with_or_without_diacritics(query: str) -> None:
    assert snippet(SUMMARY, query, max_chars=90).startswith(
        "Khách hàng được đổi trả sản phẩm trong vòng 30 ngày"
    )


def test_a_later_sentence_is_quoted_when_it_matches_better() -> None:
    assert snippet(SUMMARY, "tien hoan thanh toan", max_chars=120).startswith("Tiền hoàn được chuyển")


def test_a_snippet_longer_than_its_budget_is_cut_at_a_word() -> None:
    cut = snippet(
        "Returns are accepted within thirty days of delivery for a refund.", "returns", max_chars=30
    )
    assert cut == "Returns are accepted within…"
