"""`GET /metrics`: the gateway's Prometheus metrics in the text exposition format."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.state import GatewayState


async def metrics(request: Request) -> Response:
    state: GatewayState = request.app.state.gateway
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)


routes = [Route("/metrics", metrics, methods=["GET"])]
