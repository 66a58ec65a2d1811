"""The Gemini adapter at the wire: function calls, thought signatures echoed back, errors."""

from __future__ import annotations

import json
from typing import Any

from agentmesh.settings import Settings
from host.models.gemini import GeminiModel
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

MODEL = "gemini-2.5-flash"
SIGNATURE = "c2lnbmVkLWJ5LWdlbWluaQ=="  # base64 of b"signed-by-gemini"


def stream(*responses: dict[str, Any]) -> Canned:
    body = "".join(f"data: {json.dumps(response)}\r\n\r\n" for response in responses)
    return Canned(body=body, headers={"content-type": "text/event-stream"})


def candidate(parts: list[dict[str, Any]], finish: str | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
    if finish:
        entry["finishReason"] = finish
    return entry


def usage(prompt: int, candidates: int) -> dict[str, int]:
    return {
        "promptTokenCount": prompt,
        "candidatesTokenCount": candidates,
        "totalTokenCount": prompt + candidates,
    }


FUNCTION_CALL_TURN = stream(
    {
        "candidates": [
            candidate(
                [
                    {
                        "functionCall": {"name": "probe__lookup_customer", "args": {"mst": "0123456789"}},
                        "thoughtSignature": SIGNATURE,
                    }
                ],
                finish="STOP",
            )
        ],
        "usageMetadata": usage(310, 24),
        "modelVersion": MODEL,
    }
)
FINAL_TURN = stream(
    {"candidates": [candidate([{"text": ANSWER_PARTS[0]}])], "modelVersion": MODEL},
    {
        "candidates": [candidate([{"text": ANSWER_PARTS[1]}], finish="STOP")],
        "usageMetadata": usage(402, 11),
        "modelVersion": MODEL,
    },
)


def error(code: int, status: str, message: str) -> Canned:
    body = {"error": {"code": code, "message": message, "status": status}}
    return Canned(status=code, body=json.dumps(body), headers={"content-type": "application/json"})


def model(replay: Replay) -> GeminiModel:
    return GeminiModel(MODEL, api_key="AIza-tenant-key", options=options(replay))


async def test_a_function_call_turn_then_a_final_turn(settings: Settings) -> None:
    replay = Replay([FUNCTION_CALL_TURN, FINAL_TURN])
    async with probe_server(settings) as probe:
        events = await run_with_probe(settings, probe.url, model(replay))

    request = replay.requests[0]
    assert request.url.host == "generativelanguage.googleapis.com"
    assert request.url.path.endswith(f"/models/{MODEL}:streamGenerateContent")
    assert request.url.params["alt"] == "sse"
    assert request.headers["x-goog-api-key"] == "AIza-tenant-key"
    first, second = replay.body(0), replay.body(1)
    assert first["contents"] == [{"role": "user", "parts": [{"text": QUESTION}]}]
    assert first["systemInstruction"]["parts"][0]["text"].startswith(AGENT.system_prompt)
    [declaration] = first["tools"][0]["functionDeclarations"]
    assert declaration["name"] == "probe__lookup_customer"
    assert declaration["parameters_json_schema"]["properties"]["mst"]["pattern"] == "^[0-9]{10}$"

    call_content, response_content = second["contents"][1:]
    assert call_content == {
        "role": "model",
        "parts": [
            {
                "functionCall": {"name": "probe__lookup_customer", "args": {"mst": "0123456789"}},
                "thoughtSignature": SIGNATURE,
            }
        ],
    }
    [part] = response_content["parts"]
    assert response_content["role"] == "user"
    assert part["functionResponse"]["name"] == "probe__lookup_customer"
    assert part["functionResponse"]["response"]["output"]["outstanding"] == 6_789_000
    assert "id" not in part["functionResponse"]  # Gemini issued no call id, so none is invented for it

    assert [d.text for d in of_type(events, "delta")] == ANSWER_PARTS
    final = events[-1]
    assert final.outcome == "answered" and final.answer == "".join(ANSWER_PARTS)
    assert (final.usage.input_tokens, final.usage.output_tokens) == (712, 35)
    assert final.usage.cost_usd == expected_cost(310, 24) + expected_cost(402, 11)


async def test_resource_exhausted_is_retried(settings: Settings) -> None:
    replay = Replay([error(429, "RESOURCE_EXHAUSTED", "Quota exceeded"), FUNCTION_CALL_TURN, FINAL_TURN])
    async with probe_server(settings) as probe:
        events = await run_with_probe(settings, probe.url, model(replay))
    assert len(replay.requests) == 3
    assert events[-1].outcome == "answered"


async def test_an_invalid_argument_surfaces_as_a_clear_error(settings: Settings) -> None:
    replay = Replay([error(400, "INVALID_ARGUMENT", 'Invalid JSON payload received. Unknown name "foo"')])
    async with probe_server(settings) as probe:
        events = await run_with_probe(settings, probe.url, model(replay))
    assert len(replay.requests) == 1
    [failure] = of_type(events, "error")
    assert failure.code == "model_request_rejected"
    assert failure.message.startswith("gemini answered HTTP 400: Invalid JSON payload received.")
    assert events[-1].outcome == "error"
