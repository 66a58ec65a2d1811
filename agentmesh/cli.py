"""The `agentmesh` command line: one entry point, one module per command under `commands/`.

Commands register their parsers without importing what they run (each handler imports its own
modules), so `agentmesh --help`, `agentmesh token` and `agentmesh chat` start in well under a
second while `agentmesh up` still loads the whole platform.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from agentmesh.commands import COMMANDS
from agentmesh.commands._settings import common_options
from agentmesh.startup import EXIT_STARTUP, StartupError


def build_parser() -> argparse.ArgumentParser:
    options = common_options()
    parser = argparse.ArgumentParser(
        prog="agentmesh",
        description="A multi-tenant agent platform built MCP-first: the mesh, its servers, tokens and chat.",
        parents=[options],
    )
    subcommands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.register(subcommands, options)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line and run the chosen command; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        status = args.handler(args)
    except StartupError as exc:
        print(f"agentmesh {args.command}: {exc.message}", file=sys.stderr)
        return EXIT_STARTUP
    except KeyboardInterrupt:
        return 130
    return int(status or 0)


if __name__ == "__main__":
    sys.exit(main())
