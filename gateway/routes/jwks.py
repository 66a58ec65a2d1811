"""`GET /.well-known/mesh-jwks.json`: the public keys servers use to verify mesh tokens."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from agentmesh.keys import mesh_key
from gateway.state import GatewayState


async def mesh_jwks(request: Request) -> JSONResponse:
    state: GatewayState = request.app.state.gateway
    jwks = mesh_key(state.settings.keys_dir).jwks()
    return JSONResponse(jwks, headers={"Cache-Control": "public, max-age=300"})


routes = [Route("/.well-known/mesh-jwks.json", mesh_jwks, methods=["GET"])]
