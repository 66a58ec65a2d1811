"""A remote LLM for tests: an OpenAI-compatible chat-completions endpoint on a loopback port.

A model provider's API is the one boundary a test cannot reach, so this stands in for it at the
wire: tenants point their stored LLM configuration (`base_url`) here and the host's real `openai`
adapter talks to it over HTTP. Each request is answered with what `respond` decides from it, in
the streamed format the SDK reads (`chat.completion.chunk` events with tool-call fragments, then a
usage chunk and `[DONE]`); every request is kept, with the API key it carried, for the test to read.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.support.gateway import serving

MODEL_ECHO = "fake-openai"


@dataclass(frozen=True)
class ProposedCall:
    """A tool call the fake model proposes, by the tool's name as offered (`server__tool`)."""

    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class Completion:
    """One step of the fake model: tool calls to make, or else a final text."""

    text: str = ""
    calls: tuple[ProposedCall, ...] = ()


@dataclass(frozen=True)
class ReceivedRequest:
    """A chat-completions request as it arrived."""

    api_key: str
    body: dict[str, Any]

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.body.get("messages") or [])

    @property
    def offered(self) -> list[str]:
        """The names of the tools offered to the model in this request."""
        return [tool["function"]["name"] for tool in self.body.get("tools") or []]

    @property
    def question(self) -> str:
        """The last user message."""
        users = [m for m in self.messages if m.get("role") == "user"]
        return str(users[-1].get("content") or "") if users else ""

    def proposed(self) -> list[ProposedCall]:
        """The tool calls the model already proposed since the last user message."""
        calls: list[ProposedCall] = []
        for message in self.messages:
            if message.get("role") == "user":
                calls = []
            for call in message.get("tool_calls") or []:
                function = call["function"]
                calls.append(ProposedCall(function["name"], json.loads(function["arguments"] or "{}")))
        return calls

    def tool_results(self) -> list[str]:
        """The contents of the `tool` messages since the last user message, in order."""
        results: list[str] = []
        for message in self.messages:
            if message.get("role") == "user":
                results = []
            elif message.get("role") == "tool":
                results.append(str(message.get("content") or ""))
        return results


Responder = Callable[[ReceivedRequest], Completion]


@dataclass
class FakeOpenAI:
    """The endpoint; `respond` decides each answer. Serve it with `serving()`."""

    respond: Responder
    requests: list[ReceivedRequest] = field(default_factory=list)
    completions: list[Completion] = field(default_factory=list)
    """What was answered to each request, in the same order."""
    base_url: str | None = None
    """Set while serving: what a tenant's LLM configuration points `base_url` at."""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def received_with(self, api_key: str) -> list[ReceivedRequest]:
        """The requests that carried `api_key`."""
        with self._lock:
            return [request for request in self.requests if request.api_key == api_key]

    @contextlib.contextmanager
    def serving(self) -> Iterator[str]:
        """Serve on a loopback port; yields the base URL an OpenAI client takes (ending in `/v1`)."""
        app = Starlette(routes=[Route("/v1/chat/completions", self._completions, methods=["POST"])])
        with serving(app) as url:
            self.base_url = f"{url}/v1"
            try:
                yield self.base_url
            finally:
                self.base_url = None

    async def _completions(self, request: Request) -> Response:
        scheme, _, api_key = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not api_key:
            return _error(401, "missing API key")
        body = await request.json()
        if not body.get("stream"):
            return _error(400, "this endpoint answers streamed requests only (stream: true)")
        received = ReceivedRequest(api_key=api_key, body=body)
        completion = self.respond(received)
        with self._lock:
            self.requests.append(received)
            self.completions.append(completion)
        return Response(_stream(completion, received), media_type="text/event-stream")


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": "invalid_request_error"}}, status_code=status)


def _chunk(
    delta: dict[str, Any] | None, finish: str | None = None, usage: dict[str, int] | None = None
) -> str:
    body: dict[str, Any] = {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": MODEL_ECHO,
        "choices": [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    if usage is not None:
        body["usage"] = {**usage, "total_tokens": sum(usage.values())}
    return f"data: {json.dumps(body)}\n\n"


def _stream(completion: Completion, request: ReceivedRequest) -> str:
    chunks = [_chunk({"role": "assistant", "content": completion.text or None})]
    for index, call in enumerate(completion.calls):
        fragment = {
            "index": index,
            "id": f"call_{index}_{len(request.messages)}",
            "type": "function",
            "function": {"name": call.name, "arguments": json.dumps(call.arguments)},
        }
        chunks.append(_chunk({"tool_calls": [fragment]}))
    chunks.append(_chunk({}, finish="tool_calls" if completion.calls else "stop"))
    # Token counts that grow with what was sent and produced, as a provider's would.
    prompt_tokens = len(json.dumps(request.messages)) // 4
    completion_tokens = max(1, len(completion.text) // 4 + 20 * len(completion.calls))
    chunks.append(
        _chunk(None, usage={"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens})
    )
    return "".join(chunks) + "data: [DONE]\n\n"
