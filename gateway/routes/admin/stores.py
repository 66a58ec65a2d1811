"""The stores the admin API writes to, built once when the gateway starts.

The host's own stores (agents, LLM settings, pins, policy overrides) are the very objects the
host reads, handed over from `host.composition.HostStores`, not second copies.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from agentmesh.outbound import OutboundGuard
from agentmesh.secrets import SecretBox
from gateway.servers import ServerRegistry
from gateway.usage import UsageLedger
from host.agent_store import AgentStore
from host.approvals import ApprovalStore
from host.catalog import ToolCatalog
from host.composition import HostStores
from host.llm_config import LlmConfigStore
from host.mcp_pool import McpPool
from host.pins import ToolPins
from mcp_servers.erp.models import ServiceCredentialStore, ToolConfigStore, UserTokenForwarding
from mcp_servers.search.models import ProviderConfigStore
from policies.overrides import PolicyOverrideStore


@dataclass(frozen=True)
class AdminStores:
    """Typed stores over the platform database; each one is scoped by the tenant passed to it."""

    erp_tools: ToolConfigStore
    erp_credentials: ServiceCredentialStore
    search_providers: ProviderConfigStore
    servers: ServerRegistry
    usage: UsageLedger
    policies: PolicyOverrideStore
    agents: AgentStore
    llm: LlmConfigStore
    pins: ToolPins
    approvals: ApprovalStore

    @classmethod
    def build(
        cls,
        *,
        host_stores: HostStores,
        usage: UsageLedger,
        engine: AsyncEngine,
        secrets: SecretBox,
        pool: McpPool,
        catalog: ToolCatalog,
        startup_servers: Iterable[str],
        outbound: OutboundGuard,
        forwarding: UserTokenForwarding,
    ) -> AdminStores:
        """The stores; `outbound` refuses a saved URL the platform does not call for tenants,
        `forwarding` an ERP tool sending users' own tokens where the operator has not allowed."""
        db = host_stores.sessions
        return cls(
            erp_tools=ToolConfigStore(db, outbound=outbound, forwarding=forwarding),
            erp_credentials=ServiceCredentialStore(db, secrets),
            search_providers=ProviderConfigStore(engine, secrets, outbound=outbound),
            servers=ServerRegistry(db, pool, catalog, outbound=outbound, startup=startup_servers),
            usage=usage,
            policies=host_stores.policy_overrides,
            agents=host_stores.agents,
            llm=host_stores.llm,
            pins=host_stores.pins,
            approvals=host_stores.approvals,
        )
