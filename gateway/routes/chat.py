"""`POST /api/{tenant_id}/chat`: one chat turn as JSON."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from gateway.auth import authenticate, require_tenant
from gateway.bodies import read_model
from gateway.errors import ApiError
from gateway.ratelimit import Quota
from gateway.schemas import ChatRequest
from gateway.state import GatewayState


async def chat(request: Request) -> JSONResponse:
    state: GatewayState = request.app.state.gateway
    tenant_id = request.path_params["tenant_id"]
    user = authenticate(request)
    require_tenant(user, tenant_id)
    await state.tenants.require(tenant_id)

    quota = Quota(limit=state.settings.rate_limit_requests_per_minute)
    decision = await state.limiter.hit(f"tenant:{tenant_id}:requests", quota)
    limit_headers = decision.headers("tenant-requests", quota.period_seconds)
    if not decision.allowed:
        raise ApiError(
            429,
            "rate_limited",
            f"tenant '{tenant_id}' exceeded {quota.limit} requests per minute",
            details={"retry_after_seconds": int(limit_headers["Retry-After"])},
            headers=limit_headers,
        )

    body = await read_model(request, ChatRequest, state.settings.max_body_bytes)
    response = await state.chat.respond(user, body)
    return JSONResponse(response.model_dump(mode="json"), headers=limit_headers)


routes = [Route("/api/{tenant_id}/chat", chat, methods=["POST"])]
