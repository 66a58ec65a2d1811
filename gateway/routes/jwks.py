"""`GET /.well-known/mesh-jwks.json`: the public keys servers use to verify mesh tokens."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from agentmesh.keys import mesh_key
from gateway.state import GatewayState


@functools.lru_cache(maxsize=4)
def published_jwks(keys_dir: Path) -> dict[str, Any]:
    """The mesh key's public JWKS, read from the key file once per process."""
    return mesh_key(keys_dir).jwks()


async def mesh_jwks(request: Request) -> JSONResponse:
    state: GatewayState = request.app.state.gateway
    jwks = published_jwks(state.settings.keys_dir)
    return JSONResponse(jwks, headers={"Cache-Control": "public, max-age=300"})


routes = [Route("/.well-known/mesh-jwks.json", mesh_jwks, methods=["GET"])]
