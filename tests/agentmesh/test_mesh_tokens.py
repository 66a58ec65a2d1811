"""Tokens signed with the mesh key: one kind per addressee, never accepted as the other kind."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentmesh.keys import MESH_JWKS_FILE, mesh_key
from agentmesh.mesh_tokens import (
    MeshJwks,
    MeshTokenError,
    mint_identity_token,
    mint_server_token,
    verify_identity_token,
    verify_server_token,
)

ISSUER = "agentmesh-host"


def identity(keys: Path, **changes: object) -> str:
    arguments: dict[str, object] = {
        "issuer": ISSUER,
        "audience": "https://erp.acme.example",
        "tenant_id": "acme",
        "subject": "alice",
        "roles": ["user", "tenant_admin"],
    } | changes
    return mint_identity_token(mesh_key(keys), **arguments)  # type: ignore[arg-type]


def test_an_identity_token_tells_its_upstream_who_calls_for_a_minute_at_most(tmp_path: Path) -> None:
    token = identity(tmp_path, ttl_seconds=3600)
    claims = verify_identity_token(
        token,
        jwks=MeshJwks(file=tmp_path / MESH_JWKS_FILE),
        issuer=ISSUER,
        audience="https://erp.acme.example",
    )
    assert (claims.sub, claims.tenant_id, claims.roles) == ("alice", "acme", ["user", "tenant_admin"])
    assert claims.exp - claims.iat == 60
    assert json.loads((tmp_path / MESH_JWKS_FILE).read_text())["keys"][0]["kid"] == mesh_key(tmp_path).kid


def test_identity_and_server_tokens_are_never_taken_for_each_other(tmp_path: Path) -> None:
    key = mesh_key(tmp_path)  # writes the JWKS next to the key
    jwks = MeshJwks(file=tmp_path / MESH_JWKS_FILE)
    server_token = mint_server_token(
        key, issuer=ISSUER, server="erp", tenant_id="acme", subject="alice", tools=["x"]
    )
    with pytest.raises(MeshTokenError, match="not an identity token"):
        verify_identity_token(server_token, jwks=jwks, issuer=ISSUER, audience="mcp:erp")
    with pytest.raises(MeshTokenError, match="an identity token for an upstream API"):
        verify_server_token(identity(tmp_path), jwks=jwks, issuer=ISSUER, server="erp")


def test_no_identity_token_is_ever_minted_for_an_mcp_server(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="'mcp:' audiences belong to MCP servers"):
        identity(tmp_path, audience="mcp:rag")
