"""Suggested questions: a tenant's users see, under each assistant, questions about the tenant's
own records (set by its admins; the demo tenants come with some), and each demo question, asked,
is answered. No tenant sees or sets another's."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from gateway.suggestions import DEMO_SUGGESTIONS, MAX_SUGGESTIONS
from tests.gateway.mesh import Mesh

pytestmark = pytest.mark.slow


def admin(mesh: Mesh, tenant: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {mesh.token(tenant, 'ada', ['tenant_admin'])}"}


def agents_seen(mesh: Mesh, tenant: str) -> dict[str, dict[str, object]]:
    response = httpx.get(f"{mesh.url}/api/{tenant}/agents", headers=mesh.headers(tenant, "alice"), timeout=30)
    assert response.status_code == 200, response.text
    return {agent["name"]: agent for agent in response.json()["items"]}


def suggestions_url(mesh: Mesh, tenant: str, agent: str) -> str:
    return f"{mesh.url}/api/admin/tenants/{tenant}/agents/{agent}/suggestions"


@pytest.fixture
def knowledge_suggestions(mesh: Mesh) -> Iterator[str]:
    """acme's questions under the knowledge agent, cleared again afterwards."""
    url = suggestions_url(mesh, "acme", "knowledge")
    yield url
    httpx.put(url, json={"questions": []}, headers=admin(mesh, "acme"), timeout=30).raise_for_status()


@pytest.mark.parametrize("tenant", ["acme", "globex"])
def test_each_demo_tenant_sees_its_own_questions_and_each_is_answered(mesh: Mesh, tenant: str) -> None:
    seen = agents_seen(mesh, tenant)
    for agent, questions in DEMO_SUGGESTIONS[tenant].items():
        assert seen[agent]["suggestions"] == questions
        for question in questions:
            answer = mesh.chat(question, tenant=tenant, user="newcomer").json()
            assert (answer["agent"], answer["outcome"]) == (agent, "answered"), (question, answer)
    # An agent the tenant set nothing for offers its own examples.
    assert seen["knowledge"]["suggestions"] == seen["knowledge"]["examples"]


def test_no_tenant_sees_another_s_questions(mesh: Mesh) -> None:
    globex = " ".join(
        question
        for agent in agents_seen(mesh, "globex").values()
        for question in agent["suggestions"]  # type: ignore[attr-defined]
    )
    for acme_record in ("3428557611", "SH-1042", "SO-A5001", "ACM-0001"):
        assert acme_record not in globex


def test_an_admin_sets_the_questions_and_clears_them_back_to_the_examples(
    mesh: Mesh, knowledge_suggestions: str
) -> None:
    headers = admin(mesh, "acme")
    questions = ["  Chính sách đổi trả là gì?  ", "What are our payment terms?"]
    put = httpx.put(knowledge_suggestions, json={"questions": questions}, headers=headers, timeout=30)
    assert put.status_code == 200, put.text
    assert put.json() == {
        "agent": "knowledge",
        "questions": ["Chính sách đổi trả là gì?", "What are our payment terms?"],
        "tenant_set": True,
    }
    assert agents_seen(mesh, "acme")["knowledge"]["suggestions"] == put.json()["questions"]
    assert (
        agents_seen(mesh, "globex")["knowledge"]["suggestions"]
        == agents_seen(mesh, "globex")["knowledge"]["examples"]
    )

    cleared = httpx.put(knowledge_suggestions, json={"questions": []}, headers=headers, timeout=30).json()
    assert (
        cleared["tenant_set"] is False
        and cleared["questions"] == agents_seen(mesh, "acme")["knowledge"]["examples"]
    )
    read = httpx.get(knowledge_suggestions, headers=headers, timeout=30).json()
    assert read == cleared


def test_questions_are_set_only_by_the_tenant_s_admins_for_agents_it_has(mesh: Mesh) -> None:
    body = {"questions": ["Where is shipment SH-1001?"]}
    url = suggestions_url(mesh, "acme", "shipment")
    as_other_admin = httpx.put(url, json=body, headers=admin(mesh, "globex"), timeout=30)
    as_user = httpx.put(url, json=body, headers=mesh.headers("acme", "alice"), timeout=30)
    unknown = httpx.get(suggestions_url(mesh, "acme", "nobody"), headers=admin(mesh, "acme"), timeout=30)
    too_many = httpx.put(
        url, json={"questions": ["q"] * (MAX_SUGGESTIONS + 1)}, headers=admin(mesh, "acme"), timeout=30
    )
    blank = httpx.put(url, json={"questions": ["   "]}, headers=admin(mesh, "acme"), timeout=30)
    assert (as_other_admin.status_code, as_user.status_code, unknown.status_code) == (403, 403, 404)
    assert too_many.status_code == 400 and blank.status_code == 400
    assert agents_seen(mesh, "acme")["shipment"]["suggestions"] == DEMO_SUGGESTIONS["acme"]["shipment"]


ACME_DEBT_EN, ACME_DEBT_VI = (
    "What is the debt for customer MST 3428557611?",
    "Công nợ của khách hàng có MST 3428557611 là bao nhiêu?",
)
MADE_UP_CODE = "0123456789"  # in the debt agent's own examples, for no tenant's customer


@pytest.mark.parametrize(
    ("message", "example"),
    [
        ("What can you do?", ACME_DEBT_EN),
        ("Bạn làm được gì?", ACME_DEBT_VI),
        ("Ban lam duoc gi?", ACME_DEBT_VI),
        ("Book me a flight to Da Nang", ACME_DEBT_EN),
        ("Đặt vé máy bay đi Đà Nẵng", ACME_DEBT_VI),
    ],
)
def test_what_the_assistants_do_is_told_with_the_tenant_s_own_questions(
    mesh: Mesh, message: str, example: str
) -> None:
    answer = mesh.chat(message, user="newcomer").json()
    assert answer["outcome"] == "clarify" and example in answer["answer"], answer
    assert MADE_UP_CODE not in answer["answer"]


def test_a_chosen_assistant_declines_with_one_of_the_tenant_s_questions(mesh: Mesh) -> None:
    english = mesh.chat("Book me a flight to Da Nang", agent="debt", user="newcomer").json()
    assert english["outcome"] == "clarify" and ACME_DEBT_EN in english["answer"], english
    vietnamese = mesh.chat("Dat ve may bay di Da Nang", agent="debt", user="newcomer").json()
    assert ACME_DEBT_VI in vietnamese["answer"], vietnamese


def test_each_tenant_is_told_its_own_questions(mesh: Mesh) -> None:
    answer = mesh.chat("What can you do?", tenant="globex", user="newcomer").json()["answer"]
    assert "0156756353" in answer and "3428557611" not in answer, answer


def test_an_agent_without_the_tenant_s_questions_is_quoted_by_its_examples_until_some_are_set(
    mesh: Mesh, knowledge_suggestions: str
) -> None:
    before = mesh.chat("What can you do?", user="newcomer").json()["answer"]
    assert "What is our return policy?" in before
    own = ["How long is the warranty on a compressor?", "Máy nén được bảo hành bao lâu?"]
    httpx.put(
        knowledge_suggestions, json={"questions": own}, headers=admin(mesh, "acme"), timeout=30
    ).raise_for_status()
    assert own[0] in mesh.chat("What can you do?", user="newcomer").json()["answer"]
    assert own[1] in mesh.chat("Bạn giúp được gì?", user="newcomer").json()["answer"]
