"""An assistant the user chooses answers what it is for, through the chat API and `/v1` (`model`):
a message plainly meant for another assistant, or for none, is answered by saying so, in the
reader's language, instead of running the chosen assistant's tools on it; its own questions,
bare identifiers and follow-ups stay with it; small talk is small talk. And an identifier alone
asks the assistant's main question, or, after an answer, the same question of another record."""

from __future__ import annotations

import pytest
from openai import OpenAI

from tests.gateway.mesh import Mesh, tools_called

pytestmark = pytest.mark.slow

ACME_MST = "3428557611"
USER = "chooser"
"""This file's own user: its turns count against no other test's per-user rate limit."""


def chosen(mesh: Mesh, message: str, agent: str = "debt") -> dict[str, object]:
    return mesh.answer(message, agent=agent, user=USER)


@pytest.mark.parametrize(
    ("message", "said"),
    [
        (
            "Book me a flight to Da Nang",
            "The “Customer debt” assistant can't help with that. It answers questions such as “",
        ),
        ("Đặt vé máy bay đi Đà Nẵng", "Trợ lý “Công nợ khách hàng” không hỗ trợ được yêu cầu này."),
        ("Dat ve may bay di Da Nang", "Trợ lý “Công nợ khách hàng” không hỗ trợ được yêu cầu này."),
    ],
    ids=["en", "vi", "vi-no-diacritics"],
)
def test_a_request_for_no_assistant_is_declined_by_the_chosen_one(
    mesh: Mesh, message: str, said: str
) -> None:
    answer = chosen(mesh, message)
    assert answer["outcome"] == "clarify" and answer["agent"] is None, answer
    assert str(answer["answer"]).startswith(said)
    assert tools_called(answer) == []


@pytest.mark.parametrize(
    ("message", "said"),
    [
        ("What is our return policy?", "That looks like a question for the “Company policies” assistant"),
        ("Chính sách đổi trả là gì?", "Câu hỏi này có vẻ dành cho trợ lý “Chính sách công ty”"),
        ("Where is shipment SH-1042?", "That looks like a question for the “Shipments and orders” assistant"),
    ],
)
def test_a_question_for_another_assistant_names_that_one(mesh: Mesh, message: str, said: str) -> None:
    answer = chosen(mesh, message)
    assert answer["outcome"] == "clarify" and str(answer["answer"]).startswith(said), answer
    assert tools_called(answer) == []


@pytest.mark.parametrize(
    ("message", "tool"),
    [
        ("Which customers are overdue?", "list_overdue_customers"),
        ("Khách hàng nào quá hạn thanh toán?", "list_overdue_customers"),
        ("Khach hang nao qua han thanh toan?", "list_overdue_customers"),
        (ACME_MST, "get_customer_debt"),
        (f"Lịch sử thanh toán của {ACME_MST}", "get_payment_history"),
    ],
)
def test_the_chosen_assistant_answers_its_own_questions(mesh: Mesh, message: str, tool: str) -> None:
    answer = chosen(mesh, message)
    assert answer["agent"] == "debt" and answer["outcome"] == "answered", answer
    assert tools_called(answer) == [tool]


def test_small_talk_to_a_chosen_assistant_is_small_talk(mesh: Mesh) -> None:
    answer = chosen(mesh, "Xin chào")
    assert answer["outcome"] == "clarify" and str(answer["answer"]).startswith("Xin chào! Tôi có thể giúp:")


@pytest.mark.parametrize("follow_up", ["and 3655097555?", "còn 3655097555 thì sao?"])
def test_an_identifier_after_an_answer_asks_the_same_of_another_record(mesh: Mesh, follow_up: str) -> None:
    first = mesh.chat(f"Show the payment history of MST {ACME_MST}", user=USER).json()
    assert tools_called(first) == ["get_payment_history"]
    second = mesh.chat(follow_up, session_id=first["session_id"], user=USER).json()
    assert second["outcome"] == "answered" and tools_called(second) == ["get_payment_history"], second
    assert "3655097555" in str(second["answer"])


def test_an_openai_client_choosing_an_assistant_is_told_the_same(mesh: Mesh) -> None:
    client = OpenAI(base_url=f"{mesh.url}/v1", api_key=mesh.token("acme", USER), max_retries=0)
    declined = client.chat.completions.create(
        model="debt", messages=[{"role": "user", "content": "What is our return policy?"}]
    )
    assert str(declined.choices[0].message.content).startswith(
        "That looks like a question for the “Company policies” assistant"
    )
    answered = client.chat.completions.create(
        model="debt", messages=[{"role": "user", "content": f"What is the debt of MST {ACME_MST}?"}]
    )
    assert "321,330,000" in str(answered.choices[0].message.content)


def test_that_item_is_the_item_the_conversation_was_about(mesh: Mesh) -> None:
    stock = mesh.chat("What is the stock level of ACM-0001?", user=USER).json()
    assert tools_called(stock) == ["get_stock_level"]
    left = mesh.chat("How many of that item are left?", session_id=stock["session_id"], user=USER).json()
    assert (left["agent"], tools_called(left)) == ("shipment", ["get_stock_level"]), left
    assert "ACM-0001" in str(left["answer"])
    session = stock["session_id"]
    order = mesh.chat("Order 2 of that item for MST 3428557611", session_id=session, user=USER).json()
    assert order["outcome"] == "pending_approval", order
    [call] = [step for step in order["steps"] if step.get("type") == "tool_call"]
    assert call["arguments"] == {"mst": "3428557611", "items": [{"sku": "ACM-0001", "quantity": 2}]}


def test_after_an_answer_the_chosen_assistant_still_declines_what_is_not_for_it(mesh: Mesh) -> None:
    first = chosen(mesh, f"What is the debt of MST {ACME_MST}?")
    assert first["outcome"] == "answered"
    session = first["session_id"]
    later = mesh.chat("Book me a flight to Da Nang", agent="debt", session_id=session, user=USER).json()
    assert later["outcome"] == "clarify" and tools_called(later) == [], later
    follow_up = mesh.chat("and his payment history?", agent="debt", session_id=session, user=USER).json()
    assert tools_called(follow_up) == ["get_payment_history"], follow_up


def test_a_message_naming_another_tool_s_identifier_is_answered_by_that_tool(mesh: Mesh) -> None:
    # Read as an order question, "Đơn hàng SH-1042" names a shipment: the shipment answers.
    shipment = mesh.chat("Đơn hàng SH-1042 đang ở đâu?", user=USER).json()
    assert tools_called(shipment) == ["track_shipment"], shipment
    # An order lacking its count is asked about, not turned into the SKU's stock level.
    order = chosen(mesh, f"Order ACM-0001 for MST {ACME_MST}", agent="shipment")
    assert order["outcome"] == "needs_input" and tools_called(order) == [], order


@pytest.mark.parametrize(
    "question",
    [
        f"What is the debt for customer MST {ACME_MST}?",
        f"Công nợ của khách hàng có MST {ACME_MST} là bao nhiêu?",
        f"Cong no cua khach hang co MST {ACME_MST} la bao nhieu?",
    ],
)
def test_an_identifier_the_chosen_assistant_s_tools_take_does_not_make_the_question_its_own(
    mesh: Mesh, question: str
) -> None:
    # The shipment assistant's order tool takes a tax code; a debt question is still the debt one's.
    answer = chosen(mesh, question, agent="shipment")
    assert answer["outcome"] == "clarify" and tools_called(answer) == [], answer
    assert "Customer debt" in answer["answer"] or "Công nợ khách hàng" in answer["answer"], answer
