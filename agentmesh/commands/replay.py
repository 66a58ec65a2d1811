"""`agentmesh replay FILE...`: re-run recorded episodes against the current code.

Each episode (recorded with AGENTMESH_RECORD_EPISODES=true under `<data dir>/episodes/`) is run
again with its recorded tool results; every divergence from the recording is printed. The exit
status is 0 when every episode replays identically, 1 when any diverges, 2 when a file cannot
be read as an episode.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from agentmesh.commands._settings import settings_from_args


def register(
    subcommands: argparse._SubParsersAction[argparse.ArgumentParser], options: argparse.ArgumentParser
) -> None:
    parser = subcommands.add_parser(
        "replay", parents=[options], help="re-run recorded episodes and report divergences"
    )
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE", help="episode JSON files")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from agentmesh.logging import configure_logging
    from host.replay import replay_file

    configure_logging(settings_from_args(args), stream="stderr")  # stdout carries the report alone
    status = 0
    for path in args.files:
        try:
            divergences = replay_file(path)
        except (OSError, ValidationError, ValueError) as exc:
            print(f"ERROR {path}: not a readable episode: {str(exc).splitlines()[0]}", file=sys.stderr)
            status = 2
            continue
        if not divergences:
            print(f"OK {path}")
            continue
        print(f"DIVERGED {path} ({len(divergences)} difference{'s' if len(divergences) > 1 else ''})")
        for divergence in divergences:
            print(f"  {divergence.describe()}")
        status = max(status, 1)
    return status
