"""`agentmesh serve DOMAIN --transport {stdio|http} [--port P]`: run one MCP server alone."""

from __future__ import annotations

import argparse
import importlib

from agentmesh.commands._settings import listen_fd_option, listener_from_args, settings_from_args
from agentmesh.startup import check_database_url

DOMAINS = ("erp", "rag", "ocr", "search")


def register(
    subcommands: argparse._SubParsersAction[argparse.ArgumentParser], options: argparse.ArgumentParser
) -> None:
    parser = subcommands.add_parser("serve", parents=[options], help="run one domain MCP server")
    parser.add_argument("domain", choices=DOMAINS)
    parser.add_argument("--transport", choices=("stdio", "http"), default="stdio")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8100)
    parser.add_argument(
        "--tenant",
        default=None,
        help="tenant to act for over stdio (default acme; HTTP callers carry it in their mesh token)",
    )
    listen_fd_option(parser)
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    check_database_url(settings.database_url)
    listener = listener_from_args(args) if args.transport == "http" else None

    # Imported once the checks passed: the MCP SDK and the domain take a second or more.
    from mcp_servers.common.bootstrap import DEFAULT_LOCAL_TENANT, ServeOptions, run

    options = ServeOptions(
        transport=args.transport,
        host=args.host,
        port=args.port,
        local_tenant=args.tenant or DEFAULT_LOCAL_TENANT,
    )
    module = importlib.import_module(f"mcp_servers.{args.domain}.server")
    run(module.build_server(settings, options), settings, options, listener)
    return 0
