"""Anthropic's Messages API (the `anthropic` SDK) with tools and streaming.

Tool calls are `tool_use` content blocks; their results go back as `tool_result` blocks of the
next user message (consecutive results share one message, as the API requires).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import anthropic

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

PROVIDER = "anthropic"


def _messages(messages: list[Message]) -> list[dict[str, Any]]:
    converted: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "tool":
            block = {
                "type": "tool_result",
                "tool_use_id": message.tool_call_id,
                "content": message.content or "(empty result)",
                "is_error": message.is_error,
            }
            if converted and converted[-1]["role"] == "user" and isinstance(converted[-1]["content"], list):
                converted[-1]["content"].append(block)
            else:
                converted.append({"role": "user", "content": [block]})
        elif message.role == "assistant" and message.tool_calls:
            content: list[dict[str, Any]] = (
                [{"type": "text", "text": message.content}] if message.content else []
            )
            content += [
                {"type": "tool_use", "id": call.id, "name": call.name, "input": call.arguments}
                for call in message.tool_calls
            ]
            converted.append({"role": "assistant", "content": content})
        else:
            converted.append({"role": message.role, "content": message.content})
    return converted


def _error(exc: Exception) -> ModelError:
    refused = refused_destination(PROVIDER, exc)
    if refused is not None:
        return refused
    if isinstance(exc, anthropic.APIStatusError):
        body = exc.body if isinstance(exc.body, dict) else {}
        detail = (body.get("error") or {}).get("message") or exc.message
        return status_error(PROVIDER, exc.status_code, str(detail), exc.response.headers)
    if isinstance(exc, anthropic.APITimeoutError):
        return ModelError("model_timeout", f"{PROVIDER} did not answer in time", retryable=True)
    if isinstance(exc, anthropic.APIConnectionError):
        return ModelError("model_unreachable", f"{PROVIDER} could not be reached: {exc}", retryable=True)
    return ModelError("model_error", f"{PROVIDER} failed: {exc}")


class AnthropicModel:
    """One Anthropic model for one API key."""

    def __init__(
        self, model: str, *, api_key: str, options: ProviderOptions, base_url: str | None = None
    ) -> None:
        self.model = model
        self.name = f"{PROVIDER}:{model}"
        self._options = options
        self._client = anthropic.AsyncAnthropic(
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
            "max_tokens": self._options.max_output_tokens,
            "messages": _messages(request.messages),
            "stream": True,
        }
        system = system_text(request)
        if system:
            params["system"] = system
        if request.tools:
            params["tools"] = [
                {
                    "name": t.external_name,
                    "description": t.description,
                    "input_schema": tool_parameters(t.input_schema),
                }
                for t in request.tools
            ]
        return params

    async def _step(self, request: ModelRequest) -> AsyncIterator[TextDelta | ModelResponse]:
        text: list[str] = []
        calls: dict[int, dict[str, Any]] = {}
        input_tokens = output_tokens = 0
        stop_reason: str | None = None
        try:
            stream = await self._client.messages.create(**self._params(request))
            async for event in stream:
                if event.type == "message_start":
                    input_tokens = event.message.usage.input_tokens or 0
                    output_tokens = event.message.usage.output_tokens or 0
                elif event.type == "content_block_start" and event.content_block.type == "tool_use":
                    block = event.content_block
                    calls[event.index] = {"id": block.id, "name": block.name, "json": ""}
                elif event.type == "content_block_delta":
                    if event.delta.type == "text_delta":
                        text.append(event.delta.text)
                        yield TextDelta(text=event.delta.text)
                    elif event.delta.type == "input_json_delta" and event.index in calls:
                        calls[event.index]["json"] += event.delta.partial_json
                elif event.type == "message_delta":
                    output_tokens = event.usage.output_tokens or output_tokens
                    stop_reason = event.delta.stop_reason
        except anthropic.AnthropicError as exc:
            raise _error(exc) from exc
        except OUTBOUND_REFUSALS as exc:  # the base URL leads somewhere the platform does not call
            raise _error(exc) from exc
        yield ModelResponse(
            text="".join(text),
            tool_calls=[_tool_call(call) for _, call in sorted(calls.items())],
            usage=self._options.prices.usage(self.name, input_tokens, output_tokens),
            stop_reason=stop_reason,
        )


def _tool_call(call: dict[str, Any]) -> ToolCall:
    try:
        arguments = json.loads(call["json"]) if call["json"].strip() else {}
    except json.JSONDecodeError as exc:
        raise ModelError(
            "model_bad_tool_call", f"{PROVIDER} sent unparseable arguments for {call['name']}"
        ) from exc
    if not isinstance(arguments, dict):
        raise ModelError("model_bad_tool_call", f"{PROVIDER} sent non-object arguments for {call['name']}")
    return ToolCall(id=call["id"], name=call["name"], arguments=arguments)
