"""Who may call the demo ERP: a tenant's API key, or a signed identity token for a user.

API keys: one per tenant, provisioned on first start. The demo ERP keeps only the SHA-256 digest
of each key in its own database; the platform keeps the key itself, encrypted, as the tenant's
`demo-erp` service credential. Provisioning makes the two agree: a tenant missing either half (or
holding halves that do not match) gets a new key. A key that resolved is remembered for
`KEY_CACHE_SECONDS` (every request presents one; provisioning, the only writer, forgets a
replaced key at once).

Identity tokens: what ERP tools with auth mode `user` send. The token must be signed with a key
the gateway publishes (the mesh JWKS), be minted for this API (`AGENTMESH_ERP_API_AUDIENCE`) and
be unexpired; the tenant and the user come from it, never from a header anyone could write.
"""

from __future__ import annotations

import hashlib
import secrets

import sqlalchemy as sa
import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from agentmesh.expiring_cache import InProcessCache
from agentmesh.mesh_tokens import IdentityClaims, MeshJwks, verify_identity_token
from mcp_servers.erp.credentials import ServiceCredentialStore
from mcp_servers.erp.demo_schema import api_keys

log = structlog.get_logger(__name__)

DEMO_CREDENTIAL = "demo-erp"
"""Name of the service credential the demo tools use."""

KEY_CACHE_SECONDS = 30.0
"""How long a resolved API key is remembered: a key that another replica replaced keeps working here
for at most this long."""


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class DemoApiKeys:
    """Resolves a presented API key to its tenant, and provisions keys for the demo tenants."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._resolved = InProcessCache(max_entries=4096)

    async def tenant_for(self, key: str) -> str | None:
        """The tenant whose key this is, or None."""
        digest = key_digest(key)
        tenant_id = await self._resolved.get(digest)
        if tenant_id is not None:
            return tenant_id
        async with self._engine.connect() as conn:
            tenant_id = await conn.scalar(
                sa.select(api_keys.c.tenant_id).where(api_keys.c.key_sha256 == digest)
            )
        if tenant_id is not None:  # an unknown key is asked again: it may be provisioned meanwhile
            await self._resolved.set(digest, tenant_id, KEY_CACHE_SECONDS)
        return tenant_id

    async def _digest(self, tenant_id: str) -> str | None:
        async with self._engine.connect() as conn:
            return await conn.scalar(
                sa.select(api_keys.c.key_sha256).where(api_keys.c.tenant_id == tenant_id)
            )

    async def provision(self, tenants: list[str], credentials: ServiceCredentialStore) -> list[str]:
        """Give every tenant a working key pair; returns the tenants that got a new key."""
        rekeyed = []
        for tenant_id in tenants:
            stored = await credentials.reveal(tenant_id, DEMO_CREDENTIAL)
            digest = await self._digest(tenant_id)
            if (
                stored is not None
                and digest is not None
                and secrets.compare_digest(key_digest(stored), digest)
            ):
                continue
            key = secrets.token_urlsafe(32)
            async with self._engine.begin() as conn:
                await conn.execute(sa.delete(api_keys).where(api_keys.c.tenant_id == tenant_id))
                await conn.execute(api_keys.insert().values(tenant_id=tenant_id, key_sha256=key_digest(key)))
            if digest is not None:
                await self._resolved.forget(digest)
            await credentials.put(tenant_id, DEMO_CREDENTIAL, key)
            rekeyed.append(tenant_id)
        if rekeyed:
            log.info("demo_erp_keys_provisioned", tenants=rekeyed)
        return rekeyed


class DemoIdentities:
    """Verifies the identity tokens presented to the demo ERP."""

    def __init__(self, jwks: MeshJwks, *, issuer: str, audience: str) -> None:
        self._jwks = jwks
        self._issuer = issuer
        self.audience = audience

    def verify(self, token: str) -> IdentityClaims:
        """The caller a token names, or `MeshTokenError` saying why it is refused."""
        return verify_identity_token(token, jwks=self._jwks, issuer=self._issuer, audience=self.audience)
