"""Minting the audience-bound mesh tokens the host presents to each server."""

from __future__ import annotations

import time

from agentmesh.keys import SigningKey
from agentmesh.mesh_tokens import LISTING_TENANT, mint_server_token
from host.caller import Caller

HOST_SUBJECT = "agentmesh-host"

# Re-use a token while it has this many seconds left: signing costs more than a dict lookup,
# and a token is bound to one server, tenant, user and scope anyway.
_REUSE_MARGIN_SECONDS = 15


class MeshTokenIssuer:
    """Signs short-lived tokens for one server, one caller and the tools granted to them."""

    def __init__(self, key: SigningKey, *, issuer: str, ttl_seconds: int = 60) -> None:
        self._key = key
        self._issuer = issuer
        self._ttl = min(ttl_seconds, 60)
        self._cache: dict[tuple[str, str, str, str | None, str], tuple[str, float]] = {}

    def for_call(self, server: str, caller: Caller, tools: frozenset[str]) -> str:
        """A token letting `caller` call `tools` (bare tool names) on `server`."""
        scope = " ".join(sorted(tools))
        cache_key = (server, caller.tenant_id, caller.subject, caller.session_id, scope)
        cached = self._cache.get(cache_key)
        now = time.time()
        if cached and cached[1] - now > _REUSE_MARGIN_SECONDS:
            return cached[0]
        token = mint_server_token(
            self._key,
            issuer=self._issuer,
            server=server,
            tenant_id=caller.tenant_id,
            subject=caller.subject,
            tools=tools,
            roles=caller.roles,
            session_id=caller.session_id,
            ttl_seconds=self._ttl,
        )
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[cache_key] = (token, now + self._ttl)
        return token

    def forwarding(self, server: str, caller: Caller, tools: frozenset[str], user_token: str) -> str:
        """A token like `for_call`'s that also carries the user's own token, for one call to a tool
        that forwards it upstream. Never cached: it holds a credential of its own."""
        return mint_server_token(
            self._key,
            issuer=self._issuer,
            server=server,
            tenant_id=caller.tenant_id,
            subject=caller.subject,
            tools=tools,
            roles=caller.roles,
            session_id=caller.session_id,
            ttl_seconds=self._ttl,
            user_token=user_token,
        )

    def forget_tenant(self, tenant_id: str) -> None:
        """Drop the tokens minted for the tenant (tenant deletion)."""
        for cache_key in [key for key in self._cache if key[1] == tenant_id]:
            del self._cache[cache_key]

    def for_listing(self, server: str) -> str:
        """A token that lets the host list `server`'s tools and call none of them."""
        caller = Caller(tenant_id=LISTING_TENANT, subject=HOST_SUBJECT, roles=[])
        return self.for_call(server, caller, frozenset())
