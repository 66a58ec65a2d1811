"""`agentmesh gateway [--host H] [--port P]`: the gateway (with the agent host) alone.

For deployments where each MCP server runs as its own service: the servers' URLs come from
`AGENTMESH_ERP_URL`, `AGENTMESH_RAG_URL`, `AGENTMESH_OCR_URL` and `AGENTMESH_SEARCH_URL`.
"""

from __future__ import annotations

import argparse
import socket
from typing import TYPE_CHECKING

from agentmesh.commands._settings import settings_from_args
from agentmesh.listeners import announce, listen_on
from agentmesh.startup import check_database_reachable, check_database_url

if TYPE_CHECKING:
    from agentmesh.settings import Settings


def register(
    subcommands: argparse._SubParsersAction[argparse.ArgumentParser], options: argparse.ArgumentParser
) -> None:
    parser = subcommands.add_parser("gateway", parents=[options], help="run the gateway and agent host alone")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--no-demo", action="store_true", help="do not seed the demo tenants")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    check_database_url(settings.database_url)
    listener = listen_on(args.host, args.port)
    check_database_reachable(settings.resolved_database_url)
    serve_gateway(settings, listener, seed_demo=not args.no_demo)
    return 0


def serve_gateway(settings: Settings, listener: socket.socket, *, seed_demo: bool) -> None:
    """Import the gateway (the whole platform: seconds) only once the checks have passed."""
    import uvicorn

    from agentmesh.logging import configure_logging
    from gateway.app import create_app

    configure_logging(settings, stream="stderr")
    app = create_app(settings, seed_demo=seed_demo)
    # uvicorn's records reach the one handler `configure_logging` installed, at its level.
    config = uvicorn.Config(app, log_config=None, log_level=None, access_log=False)
    announce(listener, "gateway")
    uvicorn.Server(config).run(sockets=[listener])
