"""`GET /healthz`: the gateway is up, and how its MCP servers are doing (`degraded`, naming the
failing ones, while any is disconnected).
`GET /readyz`: whether it can serve requests now: reach its database and Redis, and have every
server the deployment marks required (`AGENTMESH_REQUIRED_SERVERS`) connected.

Liveness and readiness are apart on purpose: an outage of a shared backend should take replicas
out of the load balancer (readiness), not restart them all (liveness).
"""

from __future__ import annotations

from typing import Literal

import anyio
from pydantic import BaseModel, Field
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway.openapi import Operation
from gateway.state import GatewayState

_CHECK_TIMEOUT_SECONDS = 2.0


class Health(BaseModel):
    """The gateway is up (`ok`, or `degraded` while a server is unavailable); each MCP server is
    `connected` or `unavailable`."""

    status: Literal["ok", "degraded"]
    servers: dict[str, str]
    failing: list[str] = Field(default_factory=list, description="the servers that are unavailable")


class Readiness(BaseModel):
    """Whether the gateway can serve now: `ok` or why not, for each backend it needs."""

    status: str
    checks: dict[str, str]


HEALTH = Operation(
    "GET",
    "/healthz",
    "getHealth",
    "Liveness, and each MCP server's connection",
    "operations",
    Health,
    errors=(),
    authenticated=False,
)
READY = Operation(
    "GET",
    "/readyz",
    "getReadiness",
    "Readiness: the database, Redis and the required MCP servers are reachable (503 when not)",
    "operations",
    Readiness,
    errors=(503,),
    authenticated=False,
)


async def healthz(request: Request) -> Response:
    state: GatewayState = request.app.state.gateway
    servers = {s.name: "connected" if s.connected else "unavailable" for s in state.host.pool.states()}
    failing = sorted(name for name, status in servers.items() if status != "connected")
    return HEALTH.reply(Health(status="degraded" if failing else "ok", servers=servers, failing=failing))


async def readyz(request: Request) -> Response:
    state: GatewayState = request.app.state.gateway
    checks = {"database": await _database(state.engine)}
    if state.redis is not None:
        checks["redis"] = await _redis(state.redis)
    if state.settings.required_servers:
        checks["servers"] = _required_servers(state)
    ready = all(result == "ok" for result in checks.values())
    readiness = Readiness(status="ready" if ready else "unavailable", checks=checks)
    # Not `READY.reply`: a 503 here is the readiness answer itself, in the same shape.
    return JSONResponse(readiness.model_dump(), status_code=200 if ready else 503)


async def _database(engine: AsyncEngine) -> str:
    try:
        with anyio.fail_after(_CHECK_TIMEOUT_SECONDS):
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
    except (SQLAlchemyError, OSError, TimeoutError) as exc:
        return f"unreachable: {type(exc).__name__}"
    return "ok"


def _required_servers(state: GatewayState) -> str:
    connected = {s.name for s in state.host.pool.states() if s.connected}
    down = [name for name in state.settings.required_servers if name not in connected]
    return f"unavailable: {', '.join(down)}" if down else "ok"


async def _redis(redis: Redis) -> str:
    try:
        with anyio.fail_after(_CHECK_TIMEOUT_SECONDS):
            await redis.ping()
    except (RedisError, OSError, TimeoutError) as exc:
        return f"unreachable: {type(exc).__name__}"
    return "ok"


operations = [HEALTH.bind(healthz), READY.bind(readyz)]
