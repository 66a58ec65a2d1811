"""The gateway application: `create_app(settings, servers)` returns a Starlette app."""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import AsyncIterator, Mapping
from datetime import timedelta
from typing import Any

import anyio
import structlog
from starlette.applications import Starlette
from starlette.middleware import Middleware

from agentmesh.bus_engine import open_bus
from agentmesh.bus_sql import SqlBus
from agentmesh.cloudevents import EventPublisher
from agentmesh.db import create_engine, session_factory, upgrade_database
from agentmesh.job_records import JobRecords
from agentmesh.outbound import OutboundGuard, Resolver
from agentmesh.outbound_http import guarded_client
from agentmesh.secrets import secret_box
from agentmesh.settings import Settings
from agentmesh.telemetry import configure_tracing
from gateway import console, mcp_endpoint
from gateway.admission import Admission
from gateway.auth import BearerAuthMiddleware, UserTokenVerifier
from gateway.backends import open_backends
from gateway.budgets import DailyBudgets
from gateway.console.auth import ConsoleAuth
from gateway.console.oidc import OidcClient
from gateway.errors import EXCEPTION_HANDLERS
from gateway.limits import TenantLimits
from gateway.mcp_endpoint import TenantMcpEndpoint
from gateway.mesh_callers import MeshCallers
from gateway.metrics import GatewayMetrics
from gateway.oauth import routes as oauth_routes
from gateway.oauth.client_documents import ClientDocuments
from gateway.oauth.server import GatewayAuthorizationServer
from gateway.oauth.store import OAuthStore
from gateway.openapi import Operation, openapi_operation
from gateway.request_telemetry import RequestTelemetryMiddleware
from gateway.routes import (
    admin,
    catalog,
    chat,
    completions,
    documents,
    health,
    jwks,
    metrics,
    sessions,
    uploads,
)
from gateway.routes.admin.stores import AdminStores
from gateway.sessions import SessionStore
from gateway.state import GatewayState
from gateway.suggestions import SuggestionStore
from gateway.tenants import DEMO_TENANTS, TenantDirectory
from gateway.turns import TurnRunner
from gateway.uploads import UploadStore
from gateway.usage import UsageLedger
from gateway.webhook_delivery import WebhookDispatcher
from gateway.webhooks import WebhookStore
from host.composition import HostStores, build_agent_host
from mcp_servers.erp.models import UserTokenForwarding
from policies.loader import PolicySet

log = structlog.get_logger(__name__)

SERVER_CONNECT_TIMEOUT_SECONDS = 30.0


def create_app(
    settings: Settings,
    servers: Mapping[str, str] | None = None,
    *,
    seed_demo: bool = True,
    resolver: Resolver | None = None,
    outbound_tls: ssl.SSLContext | None = None,
) -> Starlette:
    """The gateway for `servers` (name -> MCP URL; default: the URLs in settings). `resolver`
    replaces the system resolver of the outbound guard, `outbound_tls` the certificate authorities
    OAuth client metadata documents are fetched with (tests)."""
    server_urls = dict(servers if servers is not None else settings.server_urls())
    gateway_metrics = GatewayMetrics()
    operations = public_operations()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        configure_tracing(settings, "agentmesh-gateway")
        engine = create_engine(settings.resolved_database_url)
        await upgrade_database(engine)
        db = session_factory(engine)
        backends = await open_backends(settings)
        tenants = TenantDirectory(db, cache=backends.cache)
        suggestions = SuggestionStore(db)
        if seed_demo:
            await tenants.ensure(DEMO_TENANTS)
            await suggestions.ensure_demo()
        secrets = secret_box(settings)
        # One guard for every URL saved or called on a tenant's behalf from this process.
        outbound = OutboundGuard.from_settings(settings, resolver=resolver)
        bus = await open_bus(settings, db)
        host_events = EventPublisher(bus, "/agentmesh/host")
        host_stores = HostStores.open(db, secrets, outbound=outbound, events=host_events)
        ledger = UsageLedger(db)
        policies = PolicySet.from_directory(overrides=host_stores.policy_overrides)
        host = build_agent_host(
            settings,
            server_urls,
            stores=host_stores,
            policies=policies,
            budget=DailyBudgets(ledger, policies, events=EventPublisher(bus, "/agentmesh/gateway")),
            outbound=outbound,
            events=host_events,
            questions=suggestions,
        )
        session_store = SessionStore(db, window=settings.session_window_messages, windows=backends.windows)
        limits = TenantLimits(settings, host.policies)
        admission = Admission(backends.limiter, backends.slots, limits.for_tenant, gateway_metrics)
        gateway_metrics.watch_mcp_servers(host.pool.states, host.circuit_states)
        admin_stores = AdminStores.build(
            host_stores=host_stores,
            usage=ledger,
            engine=engine,
            secrets=secrets,
            pool=host.pool,
            catalog=host.catalog,
            startup_servers=server_urls,
            outbound=outbound,
            forwarding=UserTokenForwarding.from_settings(settings),
        )
        host.config.on_servers_changed = admin_stores.servers.sync
        console_auth = ConsoleAuth(settings, backends.cache, secrets, OidcClient.configured(settings))
        client_documents = ClientDocuments(outbound, backends.cache, ssl_context=outbound_tls)
        oauth = GatewayAuthorizationServer(settings, OAuthStore(db), client_documents)
        upload_store = UploadStore(
            db,
            max_bytes=settings.upload_max_bytes,
            tenant_quota_bytes=settings.upload_tenant_quota_bytes,
            retention=timedelta(days=settings.upload_retention_days),
        )
        state = GatewayState(
            settings=settings,
            engine=engine,
            db=db,
            tenants=tenants,
            sessions=session_store,
            limiter=backends.limiter,
            host=host,
            turns=TurnRunner(
                host,
                session_store,
                admission,
                gateway_metrics,
                admin_stores.usage,
                upload_store,
                session_events=backends.session_events,
            ),
            token_verifier=UserTokenVerifier(settings),
            audit=host_stores.audit_log,
            admin=admin_stores,
            admission=admission,
            metrics=gateway_metrics,
            mcp=TenantMcpEndpoint(host, settings, admit=admission.admit, tenants=tenants),
            session_events=backends.session_events,
            console=console_auth,
            uploads=upload_store,
            mesh_callers=MeshCallers(settings, host.pool.servers),
            backends=backends,
            secrets=secrets,
            oauth=oauth,
            bus=bus,
            bus_rows=SqlBus(db, ack_wait_seconds=settings.bus_ack_wait_seconds),
            job_records=JobRecords(db),
            webhooks=WebhookStore(db, secrets, outbound=outbound),
            suggestions=suggestions,
            redis=backends.redis,
        )
        webhook_client = guarded_client(
            outbound, timeout=settings.webhook_timeout_seconds, follow_redirects=False
        )
        dispatcher = WebhookDispatcher(state.webhooks, bus, webhook_client, settings)
        app.state.gateway = state
        app.state.token_verifier = state.token_verifier
        await state.admin.servers.connect_registered()
        async with anyio.create_task_group() as task_group:
            await host.start(task_group)
            task_group.start_soon(upload_store.keep_expiring)
            task_group.start_soon(dispatcher.run)
            ready = await host.pool.wait_ready(SERVER_CONNECT_TIMEOUT_SECONDS if server_urls else 0)
            log.info("mcp_servers_ready", servers=ready)
            await host.catalog.refresh_all()
            try:
                async with state.mcp.running():
                    yield
            finally:
                await host.aclose()
                task_group.cancel_scope.cancel()  # the upload expiry and webhook loops
        await webhook_client.aclose()
        await bus.aclose()
        await engine.dispose()
        await backends.aclose()
        await state.token_verifier.aclose()
        await client_documents.aclose()
        if console_auth.oidc is not None:
            await console_auth.oidc.aclose()

    return Starlette(
        # `/mcp` first: Starlette tries routes in order, and an MCP client's calls are the requests
        # that come back to back; behind the REST API's hundred-odd routes each paid for the scan.
        routes=[*mcp_endpoint.routes, *(operation.route() for operation in operations), *oauth_routes.routes],
        exception_handlers=EXCEPTION_HANDLERS,
        middleware=[
            Middleware(RequestTelemetryMiddleware, metrics=gateway_metrics),
            Middleware(BearerAuthMiddleware),
        ],
        lifespan=lifespan,
    )


def public_operations() -> list[Operation[Any, Any]]:
    """Every operation the gateway serves, in routing order: what `/openapi.json` documents."""
    served = [
        *health.operations,
        *chat.operations,
        *sessions.operations,
        *uploads.operations,
        *completions.operations,
        *metrics.operations,
        *jwks.operations,
        *admin.operations,
        # After the admin API: `/api/{tenant_id}/agents` would otherwise take `/api/admin/agents`.
        *catalog.operations,
        *documents.operations,
        *mcp_endpoint.operations,
        *console.operations,
    ]
    return [*served, openapi_operation(served)]
