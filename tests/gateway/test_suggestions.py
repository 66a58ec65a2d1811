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
