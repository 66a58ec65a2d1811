"""`agentmesh gateway [--host H] [--port P]`: the gateway (with the agent host) alone.

For deployments where each MCP server runs as its own service: the servers' URLs come from
`AGENTMESH_ERP_URL`, `AGENTMESH_RAG_URL`, `AGENTMESH_OCR_URL` and `AGENTMESH_SEARCH_URL`.
"""

from __future__ import annotations

import argparse

import uvicorn

from agentmesh.commands._settings import settings_from_args
from agentmesh.logging import configure_logging


def register(subcommands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subcommands.add_parser("gateway", help="run the gateway and agent host alone")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--no-demo", action="store_true", help="do not seed the demo tenants")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from gateway.app import create_app

    settings = settings_from_args(args)
    configure_logging(settings, stream="stderr")
    app = create_app(settings, seed_demo=not args.no_demo)
    # uvicorn's records reach the one handler `configure_logging` installed, at its level.
    uvicorn.run(app, host=args.host, port=args.port, log_config=None, log_level=None, access_log=False)
    return 0
