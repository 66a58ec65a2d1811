"""OpenAI's Chat Completions API (the `openai` SDK) with tools and streaming.

Any OpenAI-compatible server works through `base_url` (OpenAI, OpenRouter, vLLM, Ollama, ...).
Tool calls stream as indexed fragments whose JSON arguments are joined at the end; tool results
go back as `tool` messages; usage comes in the last chunk (`stream_options.include_usage`).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import openai

from host.models.base import (
    OUTBOUND_REFUSALS,
    Message,
    ModelError,
    ModelRequest,
    ModelResponse,
    TextDelta,
    ToolCall,
    refused_destination,
    system_text,
)
from host.models.options import ProviderOptions, tool_parameters
from host.models.retry import status_error, with_retries

PROVIDER = "openai"


def _messages(request: ModelRequest) -> list[dict[str, Any]]:
    converted: list[dict[str, Any]] = []
    system = system_text(request)
    if system:
        converted.append({"role": "system", "content": system})
    for message in request.messages:
        converted.append(_message(message))
    return converted


def _message(message: Message) -> dict[str, Any]:
    if message.role == "tool":
        return {
            "role": "tool",
            "tool_call_id": message.tool_call_id,
            "content": message.content or "(empty result)",
        }
    if message.role == "assistant" and message.tool_calls:
        return {
            "role": "assistant",
            "content": message.content or None,
            "tool_calls": [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": json.dumps(call.arguments)},
                }
                for call in message.tool_calls
            ],
        }
    return {"role": message.role, "content": message.content}


def _error(exc: Exception) -> ModelError:
    refused = refused_destination(PROVIDER, exc)
    if refused is not None:
        return refused
    if isinstance(exc, openai.APIStatusError):
        body = exc.body if isinstance(exc.body, dict) else {}
        error = body.get("error") if isinstance(body.get("error"), dict) else body
        detail = (error or {}).get("message") or exc.message
        return status_error(PROVIDER, exc.status_code, str(detail), exc.response.headers)
    if isinstance(exc, openai.APITimeoutError):
        return ModelError("model_timeout", f"{PROVIDER} did not answer in time", retryable=True)
    if isinstance(exc, openai.APIConnectionError):
        return ModelError("model_unreachable", f"{PROVIDER} could not be reached: {exc}", retryable=True)
    return ModelError("model_error", f"{PROVIDER} failed: {exc}")


class OpenAIModel:
    """One model of one OpenAI-compatible endpoint for one API key."""

    def __init__(
        self, model: str, *, api_key: str, options: ProviderOptions, base_url: str | None = None
    ) -> None:
        self.model = model
        self.name = f"{PROVIDER}:{model}"
        self._options = options
        self._client = openai.AsyncOpenAI(
            api_key=api_key,
            base_url=base_url,
            http_client=options.http_client,
            timeout=options.timeout_seconds,
            max_retries=0,  # retries are ours: same policy for every provider, never after output
        )

    def stream(self, request: ModelRequest) -> AsyncIterator[TextDelta | ModelResponse]:
        return with_retries(PROVIDER, self._options.retry, lambda: self._step(request))

    def _params(self, request: ModelRequest) -> dict[str, Any]:
        params: dict[str, Any] = {
            "model": self.model,
            "messages": _messages(request),
            "max_completion_tokens": self._options.max_output_tokens,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if request.tools:
            params["tools"] = [
                {
                    "type": "function",
                    "function": {
                        "name": t.external_name,
                        "description": t.description,
                        "parameters": tool_parameters(t.input_schema),
                    },
                }
                for t in request.tools
            ]
        return params

    async def _step(self, request: ModelRequest) -> AsyncIterator[TextDelta | ModelResponse]:
        text: list[str] = []
        calls: dict[int, dict[str, str]] = {}
        input_tokens = output_tokens = 0
        stop_reason: str | None = None
        try:
            stream = await self._client.chat.completions.create(**self._params(request))
            async for chunk in stream:
                if chunk.usage is not None:
                    input_tokens = chunk.usage.prompt_tokens or 0
                    output_tokens = chunk.usage.completion_tokens or 0
                for choice in chunk.choices:
                    delta = choice.delta
                    if delta.content:
                        text.append(delta.content)
                        yield TextDelta(text=delta.content)
                    for fragment in delta.tool_calls or []:
                        call = calls.setdefault(fragment.index, {"id": "", "name": "", "arguments": ""})
                        call["id"] = fragment.id or call["id"]
                        if fragment.function is not None:
                            call["name"] += fragment.function.name or ""
                            call["arguments"] += fragment.function.arguments or ""
                    stop_reason = choice.finish_reason or stop_reason
        except openai.OpenAIError as exc:
            raise _error(exc) from exc
        except OUTBOUND_REFUSALS as exc:  # the base URL leads somewhere the platform does not call
            raise _error(exc) from exc
        yield ModelResponse(
            text="".join(text),
            tool_calls=[_tool_call(call) for _, call in sorted(calls.items())],
            usage=self._options.prices.usage(self.name, input_tokens, output_tokens),
            stop_reason=stop_reason,
        )


def _tool_call(call: dict[str, str]) -> ToolCall:
    try:
        arguments = json.loads(call["arguments"]) if call["arguments"].strip() else {}
    except json.JSONDecodeError as exc:
        raise ModelError(
            "model_bad_tool_call", f"{PROVIDER} sent unparseable arguments for {call['name']}"
        ) from exc
    if not isinstance(arguments, dict):
        raise ModelError("model_bad_tool_call", f"{PROVIDER} sent non-object arguments for {call['name']}")
    return ToolCall(id=call["id"], name=call["name"], arguments=arguments)
