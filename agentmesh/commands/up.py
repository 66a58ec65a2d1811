"""`agentmesh up`: the whole mesh on this machine, on embedded defaults.

Migrates the database, starts the demo ERP API and the four MCP servers as child processes on
free loopback ports, then the gateway (with the agent host inside) in this process; seeds the
demo tenants; prints the URL and ready tokens; restarts a child that crashes; stops every child
on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import socket
import sys
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from agentmesh.commands._settings import settings_from_args
from agentmesh.commands.serve import DOMAINS
from agentmesh.listeners import listen_on, port_of
from agentmesh.startup import check_database_reachable, check_database_url

if TYPE_CHECKING:
    from agentmesh.children import ChildProcesses
    from agentmesh.settings import Settings


def register(
    subcommands: argparse._SubParsersAction[argparse.ArgumentParser], options: argparse.ArgumentParser
) -> None:
    parser = subcommands.add_parser(
        "up", parents=[options], help="start the whole mesh (servers, host, gateway)"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.set_defaults(handler=handle)


def _this_command() -> str:
    """How another shell calls this command: `agentmesh` when PATH finds this one, else its path
    (`make run` starts it from the project's virtual environment, which no other shell has on PATH)."""
    invoked = Path(sys.argv[0])
    if invoked.name != "agentmesh":
        return "agentmesh"
    found = shutil.which("agentmesh")
    if found and Path(found).resolve() == invoked.resolve():
        return "agentmesh"
    return str(invoked.absolute())


def _banner(settings: Settings, url: str, servers: dict[str, str]) -> str:
    from agentmesh.dev_tokens import issue_dev_token

    ttl = 12 * 3600
    acme = issue_dev_token(settings, tenant_id="acme", user="alice", ttl_seconds=ttl)
    acme_admin = issue_dev_token(
        settings, tenant_id="acme", user="ada", roles=["tenant_admin"], ttl_seconds=ttl
    )
    globex = issue_dev_token(settings, tenant_id="globex", user="bob", ttl_seconds=ttl)
    lines = [
        "",
        f"agentmesh is up at {url}",
        f"Web console: {url}/  (sign in as a demo user: acme user or admin, globex user, platform admin)",
        "MCP servers: " + ", ".join(f"{name}={server}" for name, server in servers.items()),
        f"Data directory: {settings.resolved_data_dir}",
        "",
        "Ready tokens (12 h):",
        f"  acme user   export ACME_TOKEN={acme}",
        f"  acme admin  export ACME_ADMIN_TOKEN={acme_admin}",
        f"  globex user export GLOBEX_TOKEN={globex}",
        "",
        "Try:",
        f'  {_this_command()} chat --tenant acme "What is the debt for customer MST 3428557611?"',
        f'  curl -s {url}/api/acme/chat -H "Authorization: Bearer $ACME_TOKEN" '
        "-H 'Content-Type: application/json' -d '{\"message\": \"What is our return policy?\"}'",
        "",
        "Ctrl-C stops everything.",
    ]
    return "\n".join(lines)


class _Shutdown:
    """SIGTERM and SIGINT (Ctrl-C) handling around uvicorn.

    Before the gateway serves, a signal ends start-up (the `finally` stops the children). While
    it serves, uvicorn owns the signal and re-raises it after its graceful shutdown; then this
    handler only notes it, so control returns normally to the `finally`.
    """

    def __init__(self) -> None:
        self.serving = False

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        if not self.serving:
            raise SystemExit(0)


def handle(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    # Before anything starts: a taken port or a bad DATABASE_URL is one line, not a minute of
    # model loading followed by a traceback. The port, bound now, stays ours while the servers load.
    check_database_url(settings.database_url)
    listener = listen_on(args.host, args.port)
    check_database_reachable(settings.resolved_database_url)
    run_mesh(settings, args.host, listener)
    return 0


def run_mesh(settings: Settings, host: str, listener: socket.socket) -> None:
    """The children, then the gateway in this process, until a signal; every child stopped after."""
    import anyio

    from agentmesh.children import ChildProcesses
    from agentmesh.keys import dev_user_key, mesh_key
    from agentmesh.logging import configure_logging
    from agentmesh.secrets import secret_box

    shutdown = _Shutdown()
    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    configure_logging(settings, stream="stderr")
    # Keys exist before any child starts, so no two processes race to create them.
    mesh_key(settings.keys_dir)
    dev_user_key(settings.keys_dir)
    secret_box(settings)
    # And the schema is current: the children only check it (or migrate the embedded file).
    anyio.run(_upgrade_database, settings)

    children = ChildProcesses(settings.resolved_data_dir)
    try:
        erp_api = children.start("demo-erp", ["demo-erp"])
        children.wait_healthy(erp_api)
        servers: dict[str, str] = {}
        server_env = {
            "AGENTMESH_ERP_API_URL": erp_api.base_url,
            # The servers read `upload://` references from this gateway (which is not listening yet).
            "AGENTMESH_UPLOADS_URL": settings.uploads_url or _uploads_url(host, port_of(listener)),
        }
        started = [
            children.start(domain, ["serve", domain, "--transport", "http"], extra_env=server_env)
            for domain in DOMAINS
        ]
        for child in started:
            children.wait_healthy(child)
            servers[child.name] = f"{child.base_url}/mcp"
        shutdown.serving = True
        anyio.run(_serve_gateway, settings, servers, host, listener, children)
    finally:
        children.stop_all()


def _uploads_url(host: str, port: int) -> str:
    from agentmesh.uploads import INTERNAL_UPLOADS_PATH

    reachable = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    if ":" in reachable:
        reachable = f"[{reachable}]"
    return f"http://{reachable}:{port}{INTERNAL_UPLOADS_PATH}"


async def _upgrade_database(settings: Settings) -> None:
    from agentmesh.db import create_engine, upgrade_database

    engine = create_engine(settings.resolved_database_url)
    try:
        await upgrade_database(engine)
    finally:
        await engine.dispose()


async def _serve_gateway(
    settings: Settings, servers: dict[str, str], host: str, listener: socket.socket, children: ChildProcesses
) -> None:
    import anyio
    import uvicorn

    from gateway.app import create_app

    config = uvicorn.Config(
        create_app(settings, servers),
        # uvicorn's records reach the one handler `configure_logging` installed, at its level.
        log_config=None,
        log_level=None,
        access_log=False,
        lifespan="on",
    )
    server = uvicorn.Server(config)

    async def announce() -> None:
        while not server.started:
            if server.should_exit:
                return
            await anyio.sleep(0.1)
        print(_banner(settings, f"http://{host}:{port_of(listener)}", servers), flush=True)

    async with anyio.create_task_group() as tg:
        tg.start_soon(announce)
        # A crashed server is restarted while the gateway serves; /healthz says degraded meanwhile.
        tg.start_soon(children.supervise)
        await server.serve(sockets=[listener])
        tg.cancel_scope.cancel()
