"""Google's Gemini API (the `google-genai` SDK) with function calling and streaming.

Function calls arrive as `functionCall` parts of the model's content; results go back as
`functionResponse` parts of a user turn. Gemini's thought signatures (opaque bytes on a call's
part) are kept on the `ToolCall` and echoed back, as the API requires for multi-step calling.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx2
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

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

PROVIDER = "gemini"


def _call_part(call: ToolCall) -> types.Part:
    function_call = types.FunctionCall(
        id=call.id if call.provider_data.get("issued_id") else None, name=call.name, args=call.arguments
    )
    signature = call.provider_data.get("thought_signature")
    return types.Part(
        function_call=function_call,
        thought_signature=base64.b64decode(signature) if signature else None,
    )


def _contents(messages: list[Message]) -> list[types.Content]:
    contents: list[types.Content] = []
    issued: dict[str, bool] = {}
    for message in messages:
        if message.role == "tool":
            response: dict[str, Any] = (
                {"error": message.content}
                if message.is_error
                else {"output": message.structured if message.structured is not None else message.content}
            )
            part = types.Part(
                function_response=types.FunctionResponse(
                    id=message.tool_call_id if issued.get(message.tool_call_id or "") else None,
                    name=message.tool_name,
                    response=response,
                )
            )
            last = contents[-1] if contents else None
            if last is not None and last.role == "user" and last.parts and last.parts[0].function_response:
                last.parts.append(part)
            else:
                contents.append(types.Content(role="user", parts=[part]))
        elif message.role == "assistant":
            parts = [types.Part(text=message.content)] if message.content else []
            for call in message.tool_calls:
                issued[call.id] = bool(call.provider_data.get("issued_id"))
                parts.append(_call_part(call))
            contents.append(types.Content(role="model", parts=parts or [types.Part(text="")]))
        else:
            contents.append(types.Content(role="user", parts=[types.Part(text=message.content)]))
    return contents


def _error(exc: Exception) -> ModelError:
    refused = refused_destination(PROVIDER, exc)
    if refused is not None:
        return refused
    if isinstance(exc, genai_errors.APIError):
        headers = getattr(exc.response, "headers", None)
        return status_error(PROVIDER, int(exc.code or 500), str(exc.message or exc.status), headers)
    if isinstance(exc, httpx2.TimeoutException):
        return ModelError("model_timeout", f"{PROVIDER} did not answer in time", retryable=True)
    if isinstance(exc, httpx2.TransportError):
        return ModelError("model_unreachable", f"{PROVIDER} could not be reached: {exc}", retryable=True)
    return ModelError("model_error", f"{PROVIDER} failed: {exc}")


class GeminiModel:
    """One Gemini model for one API key."""

    def __init__(
        self, model: str, *, api_key: str, options: ProviderOptions, base_url: str | None = None
    ) -> None:
        self.model = model
        self.name = f"{PROVIDER}:{model}"
        self._options = options
        self._client = genai.Client(
            api_key=api_key,
            http_options=types.HttpOptions(
                base_url=base_url,
                timeout=int(options.timeout_seconds * 1000),
                httpx_async_client=options.http_client,
                retry_options=None,  # retries are ours: same policy for every provider, never after output
            ),
        )

    def stream(self, request: ModelRequest) -> AsyncIterator[TextDelta | ModelResponse]:
        return with_retries(PROVIDER, self._options.retry, lambda: self._step(request))

    def _config(self, request: ModelRequest) -> types.GenerateContentConfig:
        system = system_text(request)
        tools: list[types.Tool | Any] | None = (
            [
                types.Tool(
                    function_declarations=[
                        types.FunctionDeclaration(
                            name=t.external_name,
                            description=t.description,
                            parameters_json_schema=tool_parameters(t.input_schema),
                        )
                        for t in request.tools
                    ]
                )
            ]
            if request.tools
            else None
        )
        return types.GenerateContentConfig(
            system_instruction=system or None,
            tools=tools,
            max_output_tokens=self._options.max_output_tokens,
            automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
        )

    async def _step(self, request: ModelRequest) -> AsyncIterator[TextDelta | ModelResponse]:
        text: list[str] = []
        calls: list[ToolCall] = []
        input_tokens = output_tokens = 0
        stop_reason: str | None = None
        try:
            stream = await self._client.aio.models.generate_content_stream(
                model=self.model, contents=_contents(request.messages), config=self._config(request)
            )
            async for chunk in stream:
                usage = chunk.usage_metadata
                if usage is not None:
                    input_tokens = usage.prompt_token_count or input_tokens
                    output_tokens = (usage.candidates_token_count or 0) + (
                        usage.thoughts_token_count or 0
                    ) or output_tokens
                for candidate in chunk.candidates or []:
                    if candidate.finish_reason is not None:
                        stop_reason = str(candidate.finish_reason.value)
                    for part in (candidate.content.parts if candidate.content else None) or []:
                        if part.function_call is not None:
                            calls.append(_tool_call(part))
                        elif part.text and not part.thought:
                            text.append(part.text)
                            yield TextDelta(text=part.text)
        except (genai_errors.APIError, httpx2.HTTPError) as exc:
            raise _error(exc) from exc
        except OUTBOUND_REFUSALS as exc:  # the base URL leads somewhere the platform does not call
            raise _error(exc) from exc
        yield ModelResponse(
            text="".join(text),
            tool_calls=calls,
            usage=self._options.prices.usage(self.name, input_tokens, output_tokens),
            stop_reason=stop_reason,
        )


def _tool_call(part: types.Part) -> ToolCall:
    call = part.function_call
    assert call is not None
    provider_data: dict[str, Any] = {"issued_id": bool(call.id)}
    if part.thought_signature:
        provider_data["thought_signature"] = base64.b64encode(part.thought_signature).decode()
    return ToolCall(
        id=call.id or f"call_{uuid.uuid4().hex[:12]}",
        name=call.name or "",
        arguments=dict(call.args or {}),
        provider_data=provider_data,
    )
