"""Who is calling, told to the ERP: a short-lived signed identity token per call (auth mode `user`).

The token names the upstream as its audience, carries the end user, the tenant and the user's
roles, lives 60 seconds and is signed with the mesh key, whose public half the gateway publishes
at `/.well-known/mesh-jwks.json`; the upstream verifies it (`agentmesh.mesh_tokens.
verify_identity_token`, as the demo ERP API does). Unlike the headers it replaces, nothing that
can merely reach the ERP can forge it.
"""

from __future__ import annotations

from functools import cached_property

from agentmesh.keys import SigningKey, mesh_key
from agentmesh.mesh_tokens import mint_identity_token
from agentmesh.settings import Settings
from mcp_servers.common.tenant import TenantContext
from mcp_servers.erp.tool_config import HttpToolConfig


class UpstreamIdentity:
    """Mints identity tokens for the calls of one ERP server."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    @cached_property
    def _key(self) -> SigningKey:
        # Loaded on the first call that needs it: a server whose tools never send the user's
        # identity needs no signing key at all.
        return mesh_key(self._settings.keys_dir)

    def audience_for(self, config: HttpToolConfig) -> str:
        """The upstream a tool's token is for: the tool's own `auth.audience`, else the origin of
        its absolute URL, else the ERP API's audience (`AGENTMESH_ERP_API_AUDIENCE`)."""
        return config.auth.audience or config.absolute_origin or self._settings.erp_api_audience

    def token_for(self, caller: TenantContext, config: HttpToolConfig) -> str:
        """A token telling the upstream of `config` that `caller` is calling, valid for a minute."""
        return mint_identity_token(
            self._key,
            issuer=self._settings.mesh_issuer,
            audience=self.audience_for(config),
            tenant_id=caller.tenant_id,
            subject=caller.subject,
            roles=caller.roles,
        )
