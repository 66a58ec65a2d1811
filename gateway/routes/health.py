"""`GET /healthz`: the gateway is up, and how its MCP servers are doing."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from gateway.state import GatewayState


async def healthz(request: Request) -> JSONResponse:
    state: GatewayState = request.app.state.gateway
    servers = {s.name: "connected" if s.connected else "unavailable" for s in state.host.pool.states()}
    return JSONResponse({"status": "ok", "servers": servers})


routes = [Route("/healthz", healthz, methods=["GET"])]
