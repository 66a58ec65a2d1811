"""The OpenAI-compatible API: `POST /v1/chat/completions` and `GET /v1/models`.

Existing chat UIs and SDKs talk to the agents through it: the API key is the user's bearer JWT,
the tenant is the token's, and `model` names an agent of the tenant (or `auto`). It is stateless
like OpenAI's: the client sends the conversation, whose earlier user and assistant messages become
the turn's history (system messages are ignored: each agent has its own instructions). Streaming
sends `chat.completion.chunk` objects and `[DONE]`; a client that disconnects cancels the turn.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator

import structlog
from sse_starlette import ServerSentEvent
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway.auth import AuthenticatedUser, authenticate
from gateway.errors import ApiError, error_type
from gateway.openai_schemas import (
    AUTO_MODEL,
    AgentmeshDetails,
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    Choice,
    ChunkChoice,
    ChunkDelta,
    CompletionMessage,
    CompletionUsage,
    ModelCard,
    ModelList,
)
from gateway.openapi import Operation
from gateway.state import GatewayState
from gateway.streams import TurnStream
from gateway.turns import AdmittedTurn, TurnRequest
from host.events import DeltaEvent, FinalEvent
from host.models.base import Message
from host.usage import Usage

log = structlog.get_logger(__name__)

COMPLETIONS = Operation(
    "POST",
    "/v1/chat/completions",
    "createChatCompletion",
    "OpenAI-compatible completion: `model` is an agent or `auto`; streams with `stream: true`",
    "openai",
    ChatCompletion,
    body=ChatCompletionRequest,
    errors=(400, 404, 413, 429),
    streams=True,
)
MODELS = Operation(
    "GET",
    "/v1/models",
    "listModels",
    "OpenAI-compatible model list: `auto` and the agents the tenant may use",
    "openai",
    ModelList,
    errors=(404,),
)


def _usage(usage: Usage) -> CompletionUsage:
    return CompletionUsage(
        prompt_tokens=usage.input_tokens,
        completion_tokens=usage.output_tokens,
        total_tokens=usage.total_tokens,
    )


def _finish_reason(final: FinalEvent) -> str:
    return "length" if final.outcome == "limit_reached" else "stop"


def _details(final: FinalEvent) -> AgentmeshDetails:
    return AgentmeshDetails(
        agent=final.agent,
        outcome=final.outcome,
        data=final.data,
        render=final.render,
        citations=final.citations,
    )


def _turn(body: ChatCompletionRequest) -> TurnRequest:
    history = [
        Message(role=m.role, content=m.text)
        for m in body.messages[:-1]
        if m.role in ("user", "assistant") and m.text
    ]
    return TurnRequest(message=body.messages[-1].text, history=history, agent=body.agent)


async def _caller(request: Request) -> tuple[GatewayState, AuthenticatedUser]:
    state: GatewayState = request.app.state.gateway
    user = authenticate(request)
    await state.tenants.require(user.tenant_id)
    return state, user


def _require_model(state: GatewayState, user: AuthenticatedUser, model: str) -> None:
    if model == AUTO_MODEL:
        return
    offered = sorted(agent.name for agent in state.host.agents_for(user.tenant_id))
    if model not in offered:
        raise ApiError(
            "model_not_found",
            f"no agent '{model}' for this tenant; models: {', '.join([AUTO_MODEL, *offered])}",
        )


async def chat_completions(request: Request) -> Response:
    state, user = await _caller(request)
    limit_headers = await state.admission.admit(user)
    body = await COMPLETIONS.read_body(request, state.settings.max_body_bytes)
    _require_model(state, user, body.model)
    state.turns.check_input(user, body.messages[-1].text)
    completion_id = f"chatcmpl-{uuid.uuid4().hex}"
    created = int(time.time())
    turn = await state.turns.start(user, _turn(body))

    if not body.stream:
        final: FinalEvent | None = None
        async with turn:
            async for event in turn.events():
                if isinstance(event, FinalEvent):
                    final = event
        assert final is not None, "a turn always ends with a final event"
        completion = ChatCompletion(
            id=completion_id,
            created=created,
            model=final.agent or body.model,
            choices=[
                Choice(
                    message=CompletionMessage(content=final.answer),
                    finish_reason=_finish_reason(final),  # type: ignore[arg-type]
                )
            ],
            usage=_usage(final.usage),
            agentmesh=_details(final),
        )
        return JSONResponse(completion.model_dump(mode="json"), headers=limit_headers)
    chunks = _chunks(turn, body, completion_id, created)
    return TurnStream(chunks, on_close=turn.aclose, headers=limit_headers)


async def _chunks(
    turn: AdmittedTurn,
    body: ChatCompletionRequest,
    completion_id: str,
    created: int,
) -> AsyncIterator[ServerSentEvent]:
    def chunk(
        model: str,
        choices: list[ChunkChoice],
        *,
        usage: CompletionUsage | None = None,
        agentmesh: AgentmeshDetails | None = None,
    ) -> ServerSentEvent:
        payload = ChatCompletionChunk(
            id=completion_id, created=created, model=model, choices=choices, usage=usage, agentmesh=agentmesh
        )
        return ServerSentEvent(data=payload.model_dump_json(exclude_none=True))

    yield chunk(body.model, [ChunkChoice(delta=ChunkDelta(role="assistant", content=""))])
    streamed = False
    try:
        async for event in turn.events():
            if isinstance(event, DeltaEvent) and event.text:
                streamed = True
                yield chunk(body.model, [ChunkChoice(delta=ChunkDelta(content=event.text))])
            elif isinstance(event, FinalEvent):
                model = event.agent or body.model
                if not streamed:
                    yield chunk(model, [ChunkChoice(delta=ChunkDelta(content=event.answer))])
                finish = ChunkChoice(delta=ChunkDelta(), finish_reason=_finish_reason(event))  # type: ignore[arg-type]
                yield chunk(model, [finish], agentmesh=_details(event))
                if body.stream_options is not None and body.stream_options.include_usage:
                    yield chunk(model, [], usage=_usage(event.usage))
    except Exception:
        log.exception("turn_failed")
        error = {
            "error": {
                "code": "internal_error",
                "message": "The turn hit an unexpected error.",
                "type": error_type(500),
                "param": None,
            }
        }
        yield ServerSentEvent(data=json.dumps(error))
    yield ServerSentEvent(data="[DONE]")


async def models(request: Request) -> Response:
    state, user = await _caller(request)
    agents = sorted(state.host.agents_for(user.tenant_id), key=lambda agent: agent.name)
    cards = [ModelCard(id=AUTO_MODEL, description="the router picks the agent for each message")]
    cards += [ModelCard(id=agent.name, description=agent.description) for agent in agents]
    return MODELS.reply(ModelList(data=cards))


operations = [COMPLETIONS.bind(chat_completions), MODELS.bind(models)]
