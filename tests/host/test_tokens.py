"""Mesh tokens are reused per caller while fresh, and a deleted tenant's are dropped."""

from __future__ import annotations

from agentmesh.keys import mesh_key
from agentmesh.settings import Settings
from host.caller import Caller
from host.tokens import MeshTokenIssuer


def test_a_deleted_tenants_cached_tokens_are_dropped_and_others_kept(settings: Settings) -> None:
    issuer = MeshTokenIssuer(mesh_key(settings.keys_dir), issuer=settings.mesh_issuer)
    acme, globex = Caller(tenant_id="acme", subject="alice"), Caller(tenant_id="globex", subject="gary")
    tools = frozenset({"search"})
    acme_token, globex_token = issuer.for_call("rag", acme, tools), issuer.for_call("rag", globex, tools)
    assert issuer.for_call("rag", acme, tools) == acme_token  # reused while fresh

    issuer.forget_tenant("acme")
    assert issuer.for_call("rag", acme, tools) != acme_token
    assert issuer.for_call("rag", globex, tools) == globex_token
