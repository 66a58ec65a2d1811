"""The OpenAI-compatible API, driven by the official `openai` Python SDK as an unmodified client."""

from __future__ import annotations

import openai
import pytest

from tests.gateway.mesh import DEBT_QUESTION, Mesh

pytestmark = pytest.mark.slow


def client_for(mesh: Mesh, tenant: str = "acme", user: str = "openai-user") -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{mesh.url}/v1", api_key=mesh.token(tenant, user), max_retries=0)


def test_models_are_the_tenants_agents_and_auto(mesh: Mesh) -> None:
    acme = [model.id for model in client_for(mesh).models.list()]
    assert acme == ["auto", "debt", "knowledge", "ocr", "search", "shipment"]
    globex = [model.id for model in client_for(mesh, "globex").models.list()]
    assert globex == ["auto", "debt", "knowledge"]


def test_a_completion_names_the_agent_that_answered_and_its_usage(mesh: Mesh) -> None:
    completion = client_for(mesh).chat.completions.create(
        model="auto", messages=[{"role": "user", "content": DEBT_QUESTION}]
    )
    assert completion.object == "chat.completion"
    assert completion.model == "debt"
    choice = completion.choices[0]
    assert choice.finish_reason == "stop"
    assert choice.message.role == "assistant"
    assert "321,330,000" in (choice.message.content or "")
    assert completion.usage is not None
    assert (
        completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens
    )
    extra = completion.model_extra or {}
    assert extra["agentmesh"]["outcome"] == "answered"


def test_an_agent_can_be_chosen_as_the_model(mesh: Mesh) -> None:
    completion = client_for(mesh).chat.completions.create(
        model="shipment", messages=[{"role": "user", "content": "Where is shipment SH-1042?"}]
    )
    assert completion.model == "shipment"
    assert "SH-1042" in (completion.choices[0].message.content or "")


@pytest.mark.parametrize("model", ["debt", "auto"])
def test_a_follow_up_reads_the_customer_from_the_earlier_messages(mesh: Mesh, model: str) -> None:
    completion = client_for(mesh).chat.completions.create(
        model=model,
        messages=[
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": DEBT_QUESTION},
            {"role": "assistant", "content": "Evergreen Trading Corporation owes 321,330,000 VND."},
            {"role": "user", "content": "And his payment history?"},
        ],
    )
    assert completion.model == "debt"
    extra = completion.model_extra or {}
    assert extra["agentmesh"]["outcome"] == "answered"
    assert "3428557611" in (completion.choices[0].message.content or "")


def test_streaming_yields_chunks_then_usage(mesh: Mesh) -> None:
    stream = client_for(mesh).chat.completions.create(
        model="auto",
        messages=[{"role": "user", "content": DEBT_QUESTION}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "321,330,000" in text
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["stop"]
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert {c.id for c in chunks} == {chunks[0].id}


def test_an_agent_the_tenant_lacks_is_model_not_found(mesh: Mesh) -> None:
    with pytest.raises(openai.NotFoundError) as refusal:
        client_for(mesh, "globex").chat.completions.create(
            model="shipment", messages=[{"role": "user", "content": "Where is shipment SH-2001?"}]
        )
    assert "no agent 'shipment'" in str(refusal.value)
    assert refusal.value.type == "invalid_request_error" and refusal.value.code == "model_not_found"


def test_unsupported_requests_are_refused_with_the_reason(mesh: Mesh) -> None:
    client = client_for(mesh)
    with pytest.raises(openai.BadRequestError) as several:
        client.chat.completions.create(model="auto", messages=[{"role": "user", "content": "hi"}], n=2)
    assert several.value.status_code == 400
    assert several.value.type == "invalid_request_error"
    with pytest.raises(openai.BadRequestError) as tools:
        client.chat.completions.create(
            model="auto",
            messages=[{"role": "user", "content": "hi"}],
            tools=[{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
        )
    assert "client-side tools" in str(tools.value)
    with pytest.raises(openai.BadRequestError) as last:
        client.chat.completions.create(model="auto", messages=[{"role": "assistant", "content": "hello"}])
    assert "last message" in str(last.value)


def test_a_bad_api_key_is_an_authentication_error(mesh: Mesh) -> None:
    client = openai.OpenAI(base_url=f"{mesh.url}/v1", api_key="not-a-jwt", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as refusal:
        client.models.list()
    assert refusal.value.type == "invalid_request_error"  # as OpenAI types a bad key
