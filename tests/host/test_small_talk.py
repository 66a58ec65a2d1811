"""Small talk is recognised only when the whole message is small talk, in English and Vietnamese,
with or without accents."""

from __future__ import annotations

import pytest

from host.small_talk import small_talk


@pytest.mark.parametrize(
    ("message", "kind"),
    [
        ("hello", "greeting"),
        ("Hi there!", "greeting"),
        ("Xin chào", "greeting"),
        ("chao ban", "greeting"),
        ("Thank you so much", "thanks"),
        ("Cảm ơn bạn nhiều nha", "thanks"),
        ("cam on", "thanks"),
        ("bye", "farewell"),
        ("Tạm biệt nhé", "farewell"),
        ("What can you do?", "capabilities"),
        ("Bạn làm được gì?", "capabilities"),
        ("ban lam duoc gi", "capabilities"),
        ("Bạn là ai?", "capabilities"),
        # Several kinds: the one that asks something wins.
        ("Hi, what can you do?", "capabilities"),
        ("Great, thanks, bye!", "farewell"),
    ],
)
def test_small_talk_is_recognised(message: str, kind: str) -> None:
    assert small_talk(message) == kind


@pytest.mark.parametrize(
    "message",
    [
        "hi, what does MST 3428557611 owe?",
        "help me with the debt of MST 3428557611",
        "Chào bạn, công nợ của MST 3428557611 là bao nhiêu?",
        "What is our return policy?",
        "ok",
        "",
    ],
)
def test_a_message_that_asks_for_anything_else_is_not_small_talk(message: str) -> None:
    assert small_talk(message) is None
