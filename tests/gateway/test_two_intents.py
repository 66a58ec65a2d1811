"""A message with two clear requests for two agents gets both answered in one turn, through the
chat API and the OpenAI-compatible API, in English and in Vietnamese with and without
diacritics; a message with an unclear part is asked about instead of half-answered."""

from __future__ import annotations

import openai
import pytest

from agentmesh.cli import main
from tests.gateway.mesh import Mesh

pytestmark = pytest.mark.slow

ACME_MST = "3428557611"
DEBT_EN = (
    "Evergreen Trading Corporation (MST 3428557611) owes 321,330,000 VND as of 2025-06-30; "
    "99,700,000 VND of it is overdue and 221,630,000 VND is not yet due (3 open invoices)."
)
DEBT_VI = (
    "Evergreen Trading Corporation (MST 3428557611) còn nợ 321.330.000 ₫ tính đến ngày 30/06/2025; "
    "trong đó 99.700.000 ₫ đã quá hạn và 221.630.000 ₫ chưa đến hạn (3 hóa đơn còn mở)."
)
SHIPMENT_EN = "Shipment SH-1001 for Harbor Point Construction Corporation is delivered at"
SHIPMENT_VI = "Vận đơn SH-1001 của Harbor Point Construction Corporation đã giao tại"


@pytest.mark.parametrize(
    ("question", "debt", "shipment"),
    [
        (f"What does customer {ACME_MST} owe and where is shipment SH-1001?", DEBT_EN, SHIPMENT_EN),
        (
            f"Công nợ của khách hàng có MST {ACME_MST} là bao nhiêu và vận đơn SH-1001 đang ở đâu?",
            DEBT_VI,
            SHIPMENT_VI,
        ),
        (
            f"Cong no cua khach hang co MST {ACME_MST} la bao nhieu va van don SH-1001 dang o dau?",
            DEBT_VI,
            SHIPMENT_VI,
        ),
    ],
    ids=["english", "diacritics", "no-diacritics"],
)
def test_two_clear_requests_are_both_answered_each_by_its_agent(
    mesh: Mesh, question: str, debt: str, shipment: str
) -> None:
    response = mesh.chat(question)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["outcome"] == "answered"
    first, second = answer["answer"].split("\n\n")
    assert first == debt and second.startswith(shipment)
    steps = [(step["type"], step.get("agent"), step.get("tool")) for step in answer["steps"]]
    assert steps == [
        ("route", None, None),
        ("route", "debt", None),
        ("tool_call", None, "get_customer_debt"),
        ("tool_result", None, "get_customer_debt"),
        ("route", "shipment", None),
        ("tool_call", None, "track_shipment"),
        ("tool_result", None, "track_shipment"),
        ("final", "shipment", None),
    ]
    route = answer["steps"][0]["detail"]
    assert route["reason"] == "multiple_intents"
    assert [candidate["agent"] for candidate in route["candidates"]] == ["debt", "shipment"]


def test_the_cli_names_both_agents_of_a_two_request_answer(
    mesh: Mesh, capsys: pytest.CaptureFixture[str]
) -> None:
    question = f"Cong no cua MST {ACME_MST} va van don SH-1001 dang o dau?"
    status = main(["chat", "--tenant", "acme", "--url", mesh.url, "--token", mesh.token(), question])
    assert status == 0
    printed = capsys.readouterr()
    assert "Evergreen Trading Corporation (MST 3428557611) còn nợ 321.330.000 ₫" in printed.out
    assert "[agents: debt, shipment | outcome: answered | session: " in printed.err


def test_a_follow_up_after_two_answers_continues_with_the_last_agent(mesh: Mesh) -> None:
    first = mesh.chat(f"What does customer {ACME_MST} owe and where is shipment SH-1001?").json()
    follow_up = mesh.chat("and SH-1002?", session_id=first["session_id"]).json()
    assert follow_up["agent"] == "shipment" and follow_up["outcome"] == "answered"
    assert "SH-1002" in follow_up["answer"]


@pytest.mark.parametrize(
    ("question", "said"),
    [
        (
            f"What does customer {ACME_MST} owe? Where is shipment SH-1001? Tell me a joke about cats",
            "I can help with “Customer debt” and “Shipments and orders”, but I'm not sure what you mean by "
            "“Tell me a joke about cats”.",
        ),
        (
            f"Công nợ của MST {ACME_MST} là bao nhiêu? Vận đơn SH-1001 đang ở đâu? Kể chuyện cười về mèo đi",
            "Tôi có thể giúp về “Công nợ khách hàng” và “Giao hàng và đơn hàng”, "
            "nhưng chưa rõ ý “Kể chuyện cười về mèo đi”.",
        ),
    ],
    ids=["english", "vietnamese"],
)
def test_a_message_with_an_unclear_part_is_asked_about_that_part_not_half_answered(
    mesh: Mesh, question: str, said: str
) -> None:
    answer = mesh.chat(question).json()
    assert answer["outcome"] == "clarify" and answer["agent"] is None
    assert answer["answer"].startswith(said), answer["answer"]
    assert not [step for step in answer["steps"] if step["type"] == "tool_call"]


def test_a_part_that_needs_approval_waits_while_the_other_is_answered(mesh: Mesh) -> None:
    answer = mesh.chat(
        f"What does customer {ACME_MST} owe? Create an order for MST {ACME_MST}: 2 units of ACM-0001"
    ).json()
    assert answer["outcome"] == "pending_approval" and answer["approval_id"]
    debt, waiting = answer["answer"].split("\n\n")
    assert debt == DEBT_EN
    assert waiting == "Create order needs approval by an authorised person before it can run."


def test_the_openai_api_streams_the_same_two_answers(mesh: Mesh) -> None:
    client = openai.OpenAI(
        base_url=f"{mesh.url}/v1", api_key=mesh.token("acme", "openai-user"), max_retries=0
    )
    question = f"Cong no cua khach hang co MST {ACME_MST} la bao nhieu va van don SH-1001 dang o dau?"
    whole = client.chat.completions.create(model="auto", messages=[{"role": "user", "content": question}])
    stream = client.chat.completions.create(
        model="auto", messages=[{"role": "user", "content": question}], stream=True
    )
    streamed = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert streamed == whole.choices[0].message.content
    first, second = streamed.split("\n\n")
    assert first == DEBT_VI and second.startswith(SHIPMENT_VI)
