"""What the gateway's routes share, built once in the application's lifespan."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from agentmesh.bus import MessageBus
from agentmesh.bus_sql import SqlBus
from agentmesh.job_records import JobRecords
from agentmesh.secrets import SecretBox
from agentmesh.settings import Settings
from gateway.admission import Admission
from gateway.auth import UserTokenVerifier
from gateway.backends import Backends
from gateway.mesh_callers import MeshCallers
from gateway.metrics import GatewayMetrics
from gateway.ratelimit import RateLimiter
from gateway.session_events import SessionEvents
from gateway.sessions import SessionStore
from gateway.suggestions import SuggestionStore
from gateway.tenants import TenantDirectory
from gateway.turns import TurnRunner
from gateway.uploads import UploadStore
from gateway.webhooks import WebhookStore
from host.agent_host import AgentHost
from policies.audit import AuditLog

if TYPE_CHECKING:
    # Only types here: the admin routes package imports this module.
    from gateway.console.auth import ConsoleAuth
    from gateway.mcp_endpoint import TenantMcpEndpoint
    from gateway.oauth.server import GatewayAuthorizationServer
    from gateway.routes.admin.stores import AdminStores


@dataclass
class GatewayState:
    settings: Settings
    engine: AsyncEngine
    db: async_sessionmaker[AsyncSession]
    tenants: TenantDirectory
    sessions: SessionStore
    limiter: RateLimiter
    host: AgentHost
    turns: TurnRunner
    token_verifier: UserTokenVerifier
    audit: AuditLog
    admin: AdminStores
    admission: Admission
    metrics: GatewayMetrics
    mcp: TenantMcpEndpoint
    session_events: SessionEvents
    console: ConsoleAuth
    uploads: UploadStore
    mesh_callers: MeshCallers
    backends: Backends
    secrets: SecretBox
    oauth: GatewayAuthorizationServer
    """The authorization server for `/mcp`, offered when the gateway issues its own tokens."""
    bus: MessageBus
    bus_rows: SqlBus
    """The embedded bus's tables, whichever engine carries the messages: a tenant's rows go with it."""
    job_records: JobRecords
    webhooks: WebhookStore
    suggestions: SuggestionStore
    redis: Redis | None = None
