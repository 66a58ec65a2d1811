"""`GET /metrics`: the gateway's Prometheus metrics in the text exposition format.

The series are labelled by tenant, so with `AGENTMESH_METRICS_TOKEN` set a scrape must present
it as a bearer token; without it the endpoint is open, for a development machine or a network
where only the scraper reaches the gateway's port.
"""

from __future__ import annotations

import hmac

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import Response

from gateway.errors import ApiError
from gateway.openapi import Operation
from gateway.state import GatewayState

METRICS = Operation(
    "GET",
    "/metrics",
    "getMetrics",
    "Prometheus metrics (text exposition format), labelled by tenant",
    "operations",
    None,
    errors=(),
    description="With `AGENTMESH_METRICS_TOKEN` set, the scrape token is the bearer credential.",
    media_type="text/plain",
)


async def metrics(request: Request) -> Response:
    state: GatewayState = request.app.state.gateway
    _check_scrape_token(request, state.settings.metrics_token)
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)


def _check_scrape_token(request: Request, expected: str | None) -> None:
    if expected is None:
        return
    scheme, _, presented = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(presented.strip().encode(), expected.encode()):
        raise ApiError(
            "unauthorized",
            "/metrics needs the scrape token (AGENTMESH_METRICS_TOKEN) as a bearer token",
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )


operations = [METRICS.bind(metrics)]
