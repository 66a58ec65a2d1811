"""The `agentmesh` command line: one entry point, one module per command under `commands/`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from agentmesh.commands import COMMANDS


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="agentmesh", description=__doc__)
    parser.add_argument("--data-dir", default=None, help="data directory (default .agentmesh)")
    subcommands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.register(subcommands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line and run the chosen command; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        status = args.handler(args)
    except KeyboardInterrupt:
        return 130
    return int(status or 0)


if __name__ == "__main__":
    sys.exit(main())
