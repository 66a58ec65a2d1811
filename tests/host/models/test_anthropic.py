"""The Anthropic adapter at the wire: the SDK's requests and the loop's result on replayed responses."""

from __future__ import annotations

from typing import Any

from agentmesh.settings import Settings
from host.models.anthropic import AnthropicModel
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
    sse,
)

MODEL = "claude-sonnet-5"


def message_start(input_tokens: int) -> tuple[str, dict[str, Any]]:
    return (
        "message_start",
        {
            "type": "message_start",
            "message": {
                "id": "msg_01",
                "type": "message",
                "role": "assistant",
                "model": MODEL,
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": {"input_tokens": input_tokens, "output_tokens": 1},
            },
        },
    )


TOOL_USE_TURN = sse(
    [
        message_start(410),
        (
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        ),
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": "Looking it up."},
            },
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        (
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 1,
                "content_block": {
                    "type": "tool_use",
                    "id": "toolu_01A",
                    "name": "probe__lookup_customer",
                    "input": {},
                },
            },
        ),
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 1,
                "delta": {"type": "input_json_delta", "partial_json": '{"mst": "01234'},
            },
        ),
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 1,
                "delta": {"type": "input_json_delta", "partial_json": '56789"}'},
            },
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": 1}),
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "tool_use", "stop_sequence": None},
                "usage": {"output_tokens": 52},
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    ]
)

FINAL_TURN = sse(
    [
        message_start(530),
        (
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        ),
        *[
            (
                "content_block_delta",
                {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": part}},
            )
            for part in ANSWER_PARTS
        ],
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": 14},
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    ]
)


def error(status: int, kind: str, message: str, headers: dict[str, str] | None = None) -> Canned:
    body = f'{{"type": "error", "error": {{"type": "{kind}", "message": "{message}"}}}}'
    return Canned(status=status, body=body, headers={"content-type": "application/json", **(headers or {})})


def model(replay: Replay) -> AnthropicModel:
    return AnthropicModel(MODEL, api_key="sk-ant-tenant-key", options=options(replay))


async def test_a_tool_use_turn_then_a_final_turn(settings: Settings) -> None:
    replay = Replay([TOOL_USE_TURN, FINAL_TURN])
    async with probe_server(settings) as probe:
        events = await run_with_probe(settings, probe.url, model(replay))

    first, second = replay.body(0), replay.body(1)
    assert replay.requests[0].url.path == "/v1/messages"
    assert replay.requests[0].headers["authorization"] == "Bearer sk-ant-tenant-key"
    assert first["model"] == MODEL and first["stream"] is True
    assert first["system"].startswith(AGENT.system_prompt)
    assert "shipment_id=SH-1042" in first["system"]  # remembered entities are offered as context
    assert first["messages"] == [{"role": "user", "content": QUESTION}]
    [tool] = first["tools"]
    assert tool["name"] == "probe__lookup_customer"
    assert tool["input_schema"]["properties"]["mst"]["pattern"] == "^[0-9]{10}$"
    assert tool["input_schema"]["required"] == ["mst"]

    assistant, results = second["messages"][1:]
    assert assistant == {
        "role": "assistant",
        "content": [
            {"type": "text", "text": "Looking it up."},
            {
                "type": "tool_use",
                "id": "toolu_01A",
                "name": "probe__lookup_customer",
                "input": {"mst": "0123456789"},
            },
        ],
    }
    assert results == {
        "role": "user",
        "content": [
            {
                "type": "tool_result",
                "tool_use_id": "toolu_01A",
                "content": "Customer 789 owes 6,789,000 VND.",
                "is_error": False,
            }
        ],
    }

    [call] = of_type(events, "tool_call")
    assert (call.server, call.tool, call.arguments) == ("probe", "lookup_customer", {"mst": "0123456789"})
    [result] = of_type(events, "tool_result")
    assert result.structured["outstanding"] == 6_789_000
    assert [d.text for d in of_type(events, "delta")] == ["Looking it up.", *ANSWER_PARTS]
    final = events[-1]
    assert final.outcome == "answered" and final.answer == "".join(ANSWER_PARTS)
    assert (final.usage.input_tokens, final.usage.output_tokens) == (940, 66)
    assert final.usage.model_calls == 2 and final.usage.tool_calls == 1
    assert final.usage.cost_usd == expected_cost(410, 52) + expected_cost(530, 14)


async def test_a_rate_limit_is_retried_after_the_advertised_delay(settings: Settings) -> None:
    limited = error(
        429,
        "rate_limit_error",
        "Number of request tokens has exceeded your rate limit.",
        {"retry-after-ms": "20"},
    )
    replay = Replay([limited, TOOL_USE_TURN, error(529, "overloaded_error", "Overloaded"), FINAL_TURN])
    async with probe_server(settings) as probe:
        events = await run_with_probe(settings, probe.url, model(replay))
    assert len(replay.requests) == 4
    assert replay.body(0) == replay.body(1)  # the same request, sent again
    assert events[-1].outcome == "answered"
    assert not of_type(events, "error")


async def test_a_rejected_request_is_a_clear_error_event_and_no_retry(settings: Settings) -> None:
    replay = Replay([error(400, "invalid_request_error", "messages: text content blocks must be non-empty")])
    async with probe_server(settings) as probe:
        events = await run_with_probe(settings, probe.url, model(replay))
    assert len(replay.requests) == 1
    [failure] = of_type(events, "error")
    assert failure.code == "model_request_rejected"
    assert failure.message == "anthropic answered HTTP 400: messages: text content blocks must be non-empty"
    assert events[-1].outcome == "error"
    assert "text content blocks must be non-empty" in events[-1].answer
