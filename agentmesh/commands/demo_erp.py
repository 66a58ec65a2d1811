"""`agentmesh demo-erp [--port P] [--as-of YYYY-MM-DD]`: run the demo company ERP REST API alone."""

from __future__ import annotations

import argparse
from datetime import date

from agentmesh.commands._settings import listen_fd_option, listener_from_args, settings_from_args


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected a date as YYYY-MM-DD, got {text!r}") from exc


def register(
    subcommands: argparse._SubParsersAction[argparse.ArgumentParser], options: argparse.ArgumentParser
) -> None:
    parser = subcommands.add_parser(
        "demo-erp", parents=[options], help="run the demo ERP REST API (what the erp tools call)"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument(
        "--as-of",
        type=_day,
        default=None,
        help="the ERP's 'today' for debt and overdue figures (default: the data set's fixed date)",
    )
    listen_fd_option(parser)
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from agentmesh.logging import configure_logging
    from mcp_servers.erp.demo_runtime import run_demo_api

    settings = settings_from_args(args)
    listener = listener_from_args(args)
    configure_logging(settings, stream="stderr")
    run_demo_api(settings, listener, as_of=args.as_of)
    return 0
