"""The local index: BM25 over SQLite FTS5, accents optional, one tenant's pages only."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from mcp_servers.search.errors import InvalidQuery
from mcp_servers.search.index import PageIndex, fold, restore_snippet, tenant_file_name
from mcp_servers.search.pages import Page


def _page(url: str, title: str, text: str) -> Page:
    return Page(url=url, final_url=url, title=title, fetched_at=datetime.now(UTC), kind="html", text=text)


RETURNS = _page(
    "https://shop.example.vn/doi-tra",
    "Chính sách đổi trả",
    "Khách hàng được đổi trả hàng trong vòng 30 ngày kể từ ngày mua. Điều kiện: sản phẩm còn nguyên tem mác.",
)
PAYMENT = _page(
    "https://shop.example.vn/thanh-toan",
    "Điều khoản thanh toán",
    "Công nợ được thanh toán trong 45 ngày. Đơn hàng trên 10 triệu đồng được giảm giá 2%.",
)
SHIPPING = _page(
    "https://shop.example.vn/van-chuyen",
    "Giao hàng",
    "Giao hàng toàn quốc trong 3 đến 5 ngày. Miễn phí vận chuyển cho đơn hàng trên 500.000 đồng.",
)


@pytest.fixture
async def index(tmp_path: Path) -> PageIndex:
    index = PageIndex(tmp_path / "index")
    for page in (RETURNS, PAYMENT, SHIPPING):
        await index.add("acme", page)
    return index


@pytest.mark.parametrize(
    "query",
    ["chính sách đổi trả", "chinh sach doi tra", "CHÍNH SÁCH ĐỔI TRẢ", "Chinh Sach Doi Tra", "đoi tra"],
)
async def test_vietnamese_matches_with_or_without_accents(index: PageIndex, query: str) -> None:
    found = await index.search("acme", query, 5)
    assert found.match == "all_terms"
    assert [hit.url for hit in found.hits] == [RETURNS.url]


async def test_snippets_show_the_original_text_with_matches_marked(index: PageIndex) -> None:
    found = await index.search("acme", "dieu kien", 5)
    snippet = found.hits[0].snippet
    assert "**Điều** **kiện**" in snippet
    assert "đổi trả" in snippet


async def test_ranking_is_bm25_with_titles_weighing_more(index: PageIndex) -> None:
    found = await index.search("acme", "thanh toan", 5)
    assert found.hits[0].url == PAYMENT.url
    found = await index.search("acme", "don hang", 5)
    assert {hit.url for hit in found.hits[:2]} == {PAYMENT.url, SHIPPING.url}
    assert found.hits[0].score >= found.hits[1].score


async def test_pages_with_every_word_come_first_then_pages_with_some(index: PageIndex) -> None:
    found = await index.search("acme", "don hang", 5)
    assert found.match == "all_terms"
    assert [hit.all_terms for hit in found.hits] == [True, True, False]
    assert found.hits[2].url == RETURNS.url
    top_two = await index.search("acme", "don hang", 2)
    assert [hit.all_terms for hit in top_two.hits] == [True, True]


async def test_when_no_page_has_every_word_pages_with_some_are_returned(index: PageIndex) -> None:
    found = await index.search("acme", "giao hàng bảo hiểm", 5)
    assert found.match == "any_terms"
    assert found.hits[0].url == SHIPPING.url


async def test_no_match_is_an_empty_result_not_an_error(index: PageIndex) -> None:
    found = await index.search("acme", "quantum chromodynamics", 5)
    assert found.match == "none"
    assert found.hits == []
    assert found.indexed_pages == 3


@pytest.mark.parametrize("query", ['"unbalanced', "a OR (b", "title:secret", "NEAR(x y)", "x* -y ^z"])
async def test_fts_syntax_in_a_query_is_searched_as_words(index: PageIndex, query: str) -> None:
    found = await index.search("acme", query, 5)
    assert found.match in {"all_terms", "any_terms", "none"}


async def test_a_query_without_words_is_refused(index: PageIndex) -> None:
    with pytest.raises(InvalidQuery, match="no words"):
        await index.search("acme", " ?! -- ", 5)


async def test_top_k_limits_the_hits(index: PageIndex) -> None:
    found = await index.search("acme", "ngày", 2)
    assert len(found.hits) == 2


async def test_fetching_a_page_again_replaces_it(index: PageIndex) -> None:
    await index.add("acme", _page(RETURNS.url, "Chính sách đổi trả", "Đổi trả trong vòng 60 ngày."))
    found = await index.search("acme", "doi tra", 5)
    assert len(found.hits) == 1
    assert "60 ngày" in found.hits[0].snippet
    assert await index.count("acme") == 3


async def test_one_tenant_never_sees_another_tenants_pages(index: PageIndex) -> None:
    secret = _page(
        "https://intranet.globex.example/salaries", "Bảng lương", "Bảng lương bí mật đổi trả globex"
    )
    await index.add("globex", secret)
    acme = await index.search("acme", "bang luong bi mat", 5)
    assert acme.hits == []
    assert all(hit.url != secret.url for hit in (await index.search("acme", "doi tra globex", 20)).hits)
    globex = await index.search("globex", "doi tra", 5)
    assert [hit.url for hit in globex.hits] == [secret.url]
    assert (await index.count("acme"), await index.count("globex")) == (3, 1)
    assert await index.count("initech") == 0


def test_tenant_files_are_safe_and_distinct() -> None:
    names = {tenant_file_name(t) for t in ("acme", "ACME", "../../etc/passwd", "a/b", "a_b", "công-ty")}
    assert len(names) == 6
    assert all("/" not in name and not name.startswith(".") for name in names)


def test_folding_keeps_every_character_in_place() -> None:
    text = "Đường đi Đà Lạt"
    assert fold(text) == "Dường di Dà Lạt"
    assert len(fold(text)) == len(text)


def test_a_snippet_of_the_folded_text_maps_back_onto_the_original() -> None:
    original = "Xem điều khoản đổi trả tại đây."
    excerpt = "\x04khoản \x02dổi\x03 \x02trả\x03 tại\x04"
    assert restore_snippet(excerpt, original) == "…khoản **đổi** **trả** tại…"
