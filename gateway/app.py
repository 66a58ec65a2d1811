"""The gateway application: `create_app(settings, servers)` returns a Starlette app."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping

import anyio
import structlog
from starlette.applications import Starlette

from agentmesh.db import Base, create_engine, import_all_tables, session_factory
from agentmesh.secrets import secret_box
from agentmesh.settings import Settings
from gateway.auth import UserTokenVerifier
from gateway.errors import EXCEPTION_HANDLERS
from gateway.openapi import openapi_route, public_operations
from gateway.ratelimit import InProcessRateLimiter
from gateway.routes import admin, chat, health, jwks
from gateway.routes.admin.stores import AdminStores
from gateway.sessions import SessionStore
from gateway.state import GatewayState
from gateway.tenants import DEMO_TENANTS, TenantDirectory
from gateway.turns import ChatTurn
from host.agent_host import build_agent_host
from policies.audit import AuditLog

log = structlog.get_logger(__name__)

SERVER_CONNECT_TIMEOUT_SECONDS = 30.0


def create_app(
    settings: Settings, servers: Mapping[str, str] | None = None, *, seed_demo: bool = True
) -> Starlette:
    """The gateway for `servers` (name -> MCP URL; default: the URLs in settings)."""
    server_urls = dict(servers if servers is not None else settings.server_urls())

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        engine = create_engine(settings.resolved_database_url)
        import_all_tables()
        async with engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)
        db = session_factory(engine)
        tenants = TenantDirectory(db)
        if seed_demo:
            await tenants.ensure(DEMO_TENANTS)
        host = build_agent_host(settings, server_urls)
        sessions = SessionStore(db, window=settings.session_window_messages)
        state = GatewayState(
            settings=settings,
            engine=engine,
            db=db,
            tenants=tenants,
            sessions=sessions,
            limiter=InProcessRateLimiter(),
            host=host,
            chat=ChatTurn(host, sessions),
            token_verifier=UserTokenVerifier(settings),
            audit=AuditLog(db),
            admin=AdminStores.build(
                db=db, engine=engine, secrets=secret_box(settings), pool=host.pool, startup_servers=server_urls
            ),
        )
        app.state.gateway = state
        app.state.token_verifier = state.token_verifier
        await state.admin.servers.connect_registered()
        async with anyio.create_task_group() as task_group:
            await host.pool.start(task_group)
            ready = await host.pool.wait_ready(SERVER_CONNECT_TIMEOUT_SECONDS if server_urls else 0)
            log.info("mcp_servers_ready", servers=ready)
            await host.catalog.refresh_all()
            try:
                yield
            finally:
                host.pool.stop()
        await engine.dispose()

    return Starlette(
        routes=[
            *health.routes,
            *chat.routes,
            *jwks.routes,
            *admin.routes,
            openapi_route([*public_operations(), *admin.operations]),
        ],
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        lifespan=lifespan,
    )
