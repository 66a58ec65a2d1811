"""`GET /.well-known/mesh-jwks.json`: the public keys servers use to verify mesh tokens."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

from agentmesh.keys import mesh_key
from gateway.openapi import Operation
from gateway.state import GatewayState


class JsonWebKeySet(BaseModel):
    """RFC 7517 key set: the public keys of the mesh tokens."""

    keys: list[dict[str, Any]]


MESH_JWKS = Operation(
    "GET",
    "/.well-known/mesh-jwks.json",
    "getMeshJwks",
    "The public keys MCP servers verify mesh tokens with",
    "operations",
    JsonWebKeySet,
    errors=(),
    authenticated=False,
)


@functools.lru_cache(maxsize=4)
def published_jwks(keys_dir: Path) -> JsonWebKeySet:
    """The mesh key's public JWKS, read from the key file once per process."""
    return JsonWebKeySet.model_validate(mesh_key(keys_dir).jwks())


async def mesh_jwks(request: Request) -> Response:
    state: GatewayState = request.app.state.gateway
    return MESH_JWKS.reply(
        published_jwks(state.settings.keys_dir), headers={"Cache-Control": "public, max-age=300"}
    )


operations = [MESH_JWKS.bind(mesh_jwks)]
