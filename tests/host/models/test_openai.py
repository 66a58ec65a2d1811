"""The OpenAI adapter at the wire, against an OpenAI-compatible base URL (as OpenRouter or vLLM)."""

from __future__ import annotations

import json
from typing import Any

from agentmesh.settings import Settings
from host.models.openai import OpenAIModel
from tests.host.conftest import of_type, probe_server
from tests.host.models.wire import (
    AGENT,
    ANSWER_PARTS,
    QUESTION,
    Canned,
    Replay,
    expected_cost,
    options,
    run_with_probe,
)

MODEL = "gpt-4o-mini"
BASE_URL = "https://llm.example.net/api/v1"


def chunk(
    delta: dict[str, Any] | None, finish: str | None = None, usage: dict[str, int] | None = None
) -> str:
    body: dict[str, Any] = {
        "id": "chatcmpl-9x",
        "object": "chat.completion.chunk",
        "created": 1_760_000_000,
        "model": MODEL,
        "choices": [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    if usage is not None:
        body["usage"] = {**usage, "total_tokens": sum(usage.values())}
    return f"data: {json.dumps(body)}\n\n"


def stream(*chunks: str) -> Canned:
    return Canned(body="".join(chunks) + "data: [DONE]\n\n", headers={"content-type": "text/event-stream"})


TOOL_CALL_TURN = stream(
    chunk(
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "index": 0,
                    "id": "call_7Qx",
                    "type": "function",
                    "function": {"name": "probe__lookup_customer", "arguments": ""},
                }
            ],
        }
    ),
    chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"mst":'}}]}),
    chunk({"tool_calls": [{"index": 0, "function": {"arguments": ' "0123456789"}'}}]}),
    chunk({}, finish="tool_calls"),
    chunk(None, usage={"prompt_tokens": 182, "completion_tokens": 21}),
)
FINAL_TURN = stream(
    chunk({"role": "assistant", "content": ""}),
    *(chunk({"content": part}) for part in ANSWER_PARTS),
    chunk({}, finish="stop"),
    chunk(None, usage={"prompt_tokens": 240, "completion_tokens": 12}),
)


def error(status: int, message: str, headers: dict[str, str] | None = None) -> Canned:
    body = {"error": {"message": message, "type": "invalid_request_error", "param": "messages", "code": None}}
    return Canned(
        status=status, body=json.dumps(body), headers={"content-type": "application/json", **(headers or {})}
    )


def model(replay: Replay) -> OpenAIModel:
    return OpenAIModel(MODEL, api_key="sk-or-tenant-key", options=options(replay), base_url=BASE_URL)


async def test_a_tool_call_turn_then_a_final_turn(settings: Settings) -> None:
    replay = Replay([TOOL_CALL_TURN, FINAL_TURN])
    async with probe_server(settings) as probe:
        events = await run_with_probe(settings, probe.url, model(replay))

    request = replay.requests[0]
    assert str(request.url) == f"{BASE_URL}/chat/completions"
    assert request.headers["authorization"] == "Bearer sk-or-tenant-key"
    first, second = replay.body(0), replay.body(1)
    assert first["model"] == MODEL and first["stream"] is True
    assert first["stream_options"] == {"include_usage": True}
    system, user = first["messages"]
    assert system["role"] == "system" and system["content"].startswith(AGENT.system_prompt)
    assert user == {"role": "user", "content": QUESTION}
    [tool] = first["tools"]
    assert tool["type"] == "function"
    assert tool["function"]["name"] == "probe__lookup_customer"
    assert tool["function"]["parameters"]["required"] == ["mst"]

    assert second["messages"][2:] == [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_7Qx",
                    "type": "function",
                    "function": {"name": "probe__lookup_customer", "arguments": '{"mst": "0123456789"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_7Qx", "content": "Customer 789 owes 6,789,000 VND."},
    ]

    [call] = of_type(events, "tool_call")
    assert call.arguments == {"mst": "0123456789"}
    assert [d.text for d in of_type(events, "delta")] == ANSWER_PARTS
    final = events[-1]
    assert final.outcome == "answered" and final.answer == "".join(ANSWER_PARTS)
    assert (final.usage.input_tokens, final.usage.output_tokens) == (422, 33)
    assert final.usage.cost_usd == expected_cost(182, 21) + expected_cost(240, 12)


async def test_rate_limits_and_server_errors_are_retried(settings: Settings) -> None:
    replay = Replay(
        [
            error(429, "Rate limit reached for requests", {"retry-after": "0"}),
            error(503, "The server is overloaded"),
            TOOL_CALL_TURN,
            FINAL_TURN,
        ]
    )
    async with probe_server(settings) as probe:
        events = await run_with_probe(settings, probe.url, model(replay))
    assert len(replay.requests) == 4
    assert events[-1].outcome == "answered"


async def test_a_bad_request_surfaces_as_a_clear_error(settings: Settings) -> None:
    replay = Replay([error(400, "Invalid schema for function 'probe__lookup_customer'")])
    async with probe_server(settings) as probe:
        events = await run_with_probe(settings, probe.url, model(replay))
    assert len(replay.requests) == 1
    [failure] = of_type(events, "error")
    assert failure.code == "model_request_rejected"
    assert failure.message == "openai answered HTTP 400: Invalid schema for function 'probe__lookup_customer'"
    assert events[-1].outcome == "error"


async def test_retries_give_up_after_the_policy_allows(settings: Settings) -> None:
    replay = Replay([error(500, "boom") for _ in range(3)])
    async with probe_server(settings) as probe:
        events = await run_with_probe(settings, probe.url, model(replay))
    assert len(replay.requests) == 3  # one try and two retries
    assert of_type(events, "error")[0].code == "model_unavailable"
