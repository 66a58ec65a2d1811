"""Globex's turns never reach acme's data, agents or model, whatever they ask.

A globex user and a globex tenant admin ask, through the chat API (JSON and SSE) and the
OpenAI-compatible API, for acme's customers, shipments and orders, acme's knowledge document,
and acme's own agent. Globex's agents answer from globex's ERP and knowledge base only (acme's
records are not found there), acme's agent is not available, no order is placed, and no globex
turn reaches acme's LLM endpoint (globex has no LLM of its own, so its agents use the local planner).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.isolation.acme_data import AcmeData
from tests.isolation.attackers import ATTACKERS
from tests.isolation.attempts import ANSWERED, HttpAttempt, attempt_over_http, by_globex, fill
from tests.isolation.leaks import leaked, sent_text
from tests.support.fake_openai import FakeOpenAI
from tests.support.whole_mesh import WholeMesh

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class ChatAttempt:
    """A message a globex person sends, hoping for acme's data; `agent` forces the agent."""

    store: str
    action: str
    attacker: str
    channel: str
    message: str
    agent: str | None = None
    answered_by: str | None = None
    """The globex agent that must answer (None: no agent may answer)."""

    @property
    def id(self) -> str:
        return f"{self.store}-{self.action}-{self.channel}-{self.attacker}"


ASKS = [
    ("erp_data", "customer_debt", "What is the debt for customer MST {acme_mst}?", None, "debt"),
    ("erp_data", "payments", "Show the payment history of MST {acme_mst}", None, "debt"),
    ("erp_data", "shipment", "Where is shipment {acme_shipment}?", None, None),
    (
        "erp_data",
        "create_order",
        "Place an order for MST {acme_mst}: 5 units of {acme_sku}",
        "shipment",
        None,
    ),
    ("knowledge", "marker_question", "How are pallets wrapped under the {marker}?", "knowledge", "knowledge"),
    ("knowledge", "list_documents", "List the documents of our knowledge base", "knowledge", "knowledge"),
    ("agents", "use_acme_agent", "Show the customer card of MST {acme_mst}", "{tenant_agent}", None),
]
ATTEMPTS = [
    ChatAttempt(store, action, attacker, channel, message, agent, answered_by)
    for store, action, message, agent, answered_by in ASKS
    for channel in ("chat", "sse")
    for attacker in ("globex_user", "globex_admin")
]


def final_of(response: httpx.Response, channel: str) -> dict[str, Any]:
    """The turn's final answer: the JSON reply, or the data of the stream's `final` event."""
    if channel == "chat":
        return dict(response.json())
    events = {}
    for block in response.text.replace("\r\n", "\n").split("\n\n"):
        lines = block.splitlines()
        name = next((line[len("event: ") :] for line in lines if line.startswith("event: ")), None)
        data = "\n".join(line[len("data: ") :] for line in lines if line.startswith("data: "))
        if name:
            events[name] = data
    assert "final" in events, response.text
    return dict(json.loads(events["final"]))


@pytest.mark.parametrize("attempt", ATTEMPTS, ids=lambda attempt: attempt.id)
def test_a_globex_turn_answers_from_globex_data_only(
    mesh: WholeMesh, acme: AcmeData, llm: FakeOpenAI, attempt: ChatAttempt
) -> None:
    body = {"message": fill(attempt.message, acme.fields())}
    if attempt.agent:
        body["agent"] = fill(attempt.agent, acme.fields())
    headers = mesh.headers(*ATTACKERS[attempt.attacker])
    if attempt.channel == "sse":
        headers["Accept"] = "text/event-stream"
    orders_before, llm_requests_before = mesh.orders(), len(llm.requests)

    response = mesh.request("POST", "/api/globex/chat", headers, body)

    assert response.status_code == 200, response.text
    final = final_of(response, attempt.channel)
    assert final["agent"] == attempt.answered_by, final
    if attempt.answered_by is None:
        assert final["outcome"] == "unavailable", final
    steps = final["steps"]
    assert not [s for s in steps if s["type"] == "tool_call" and s["tool"] == "create_order"], steps
    if attempt.store == "erp_data":
        results = [s for s in steps if s["type"] == "tool_result"]
        assert all(result["is_error"] for result in results), results  # acme's records: not in globex's ERP
        assert results or attempt.answered_by is None, (
            steps
        )  # an agent that answered did look, and found nothing
    assert leaked(response.text, acme.secrets, sent=sent_text(body)) == [], response.text
    assert mesh.orders() == orders_before
    assert len(llm.requests) == llm_requests_before, "a globex turn reached acme's LLM endpoint"


OPENAI_ATTEMPTS = [
    *by_globex("agents", "list_models", "GET", "/v1/models", user=ANSWERED, admin=ANSWERED, channel="openai"),
    *by_globex(
        "agents",
        "use_acme_agent",
        "POST",
        "/v1/chat/completions",
        user=(404, "model_not_found"),
        admin=(404, "model_not_found"),
        channel="openai",
        body={"model": "{tenant_agent}", "messages": [{"role": "user", "content": "card of MST {acme_mst}"}]},
    ),
]


@pytest.mark.parametrize("attempt", OPENAI_ATTEMPTS, ids=lambda attempt: attempt.id)
def test_globex_openai_clients_see_globex_agents_only(
    mesh: WholeMesh, acme: AcmeData, attempt: HttpAttempt
) -> None:
    response = attempt_over_http(mesh, acme, attempt)
    if attempt.method == "GET":
        assert {model["id"] for model in response.json()["data"]} == {"auto", "debt", "knowledge"}
