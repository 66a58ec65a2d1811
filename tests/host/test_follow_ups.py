"""A tool's follow-up hint: which calls read its result further, and the passages the answer
quotes from what they read."""

from __future__ import annotations

from typing import Any

from host.catalog import ToolSpec
from host.follow_ups import follow_up_calls, read_passages
from host.models.base import Message
from mcp_servers.common.results import FollowUp, render_meta

HINT = FollowUp(
    tool="fetch_page", argument="url", rows="hits", field="url", limit=2, when={"source": "provider"}
)
WEB_SEARCH = ToolSpec(
    server="search",
    name="web_search",
    render=render_meta("markdown_table", follow_up=HINT)["io.agentmesh/render"],
)
FETCH_PAGE = ToolSpec(server="search", name="fetch_page")
ELSEWHERE = ToolSpec(server="other", name="fetch_page")


def searched(source: str, urls: list[str], *, is_error: bool = False) -> Message:
    hits = [{"title": url, "url": url, "snippet": ""} for url in urls]
    return Message(
        role="tool",
        tool_name="search__web_search",
        structured={"query": "q", "source": source, "hits": hits},
        is_error=is_error,
    )


def test_the_first_distinct_rows_become_calls_of_the_same_servers_tool() -> None:
    result = searched(
        "provider", ["https://a.example", "https://a.example", "https://b.example", "https://c.example"]
    )
    calls = follow_up_calls(result, [WEB_SEARCH, FETCH_PAGE, ELSEWHERE])
    assert [(call.name, call.arguments) for call in calls] == [
        ("search__fetch_page", {"url": "https://a.example"}),
        ("search__fetch_page", {"url": "https://b.example"}),
    ]


def test_no_follow_up_when_its_condition_fails_its_tool_is_not_offered_or_the_call_failed() -> None:
    assert follow_up_calls(searched("local_index", ["https://a.example"]), [WEB_SEARCH, FETCH_PAGE]) == []
    assert follow_up_calls(searched("provider", ["https://a.example"]), [WEB_SEARCH, ELSEWHERE]) == []
    failed = searched("provider", ["https://a.example"], is_error=True)
    assert follow_up_calls(failed, [WEB_SEARCH, FETCH_PAGE]) == []


def page(url: str, text: str, *, is_error: bool = False) -> Message:
    data: dict[str, Any] = {
        "citation": {"url": url, "final_url": url, "title": f"Title of {url}"},
        "text": text,
    }
    return Message(role="tool", tool_name="search__fetch_page", structured=data, is_error=is_error)


def test_passages_are_the_pages_lines_ranked_by_relevance_and_failed_reads_are_skipped() -> None:
    text = (
        "Short heading\n"
        "The standard VAT rate is 10 percent for most goods and services.\n"
        "Our office is open from Monday to Friday, eight to five."
    )
    pages = [page("https://a.example", text), page("https://gone.example", "", is_error=True)]

    def relevance(question: str, passages: Any) -> list[float]:
        return [0.9 if "VAT" in passage else 0.1 for passage in passages]

    rows = read_passages("VAT rate?", pages, relevance)
    assert [(row["snippet"], row["score"]) for row in rows] == [
        ("Short heading The standard VAT rate is 10 percent for most goods and services.", 0.9),
        ("Our office is open from Monday to Friday, eight to five.", 0.1),
    ]
    assert {row["url"] for row in rows} == {"https://a.example"}
    assert rows[0]["title"] == "Title of https://a.example"
