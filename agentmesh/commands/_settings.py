"""Options every command takes, and its settings: the environment with `--data-dir` on top.

`--data-dir` is accepted before the command and after it (`agentmesh --data-dir D up` and
`agentmesh up --data-dir D`): each command's parser lists `common_options()` among its parents.
Nothing heavy is imported here, so `agentmesh --help` stays fast.
"""

from __future__ import annotations

import argparse
import socket
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agentmesh.settings import Settings


def common_options() -> argparse.ArgumentParser:
    """A parent parser with the options accepted wherever the user puts them."""
    options = argparse.ArgumentParser(add_help=False)
    # SUPPRESS: a subcommand that was not given the option must not reset what the main parser read.
    options.add_argument(
        "--data-dir",
        type=Path,
        default=argparse.SUPPRESS,
        metavar="D",
        help="data directory: keys, SQLite files, indexes (default $AGENTMESH_DATA_DIR, "
        "else the per-user directory, e.g. ~/.local/share/agentmesh)",
    )
    return options


def settings_from_args(args: argparse.Namespace) -> Settings:
    """The settings with a data directory this process can write (`StartupError` otherwise)."""
    from agentmesh.settings import load_settings
    from agentmesh.startup import usable_data_dir

    data_dir: Path | None = getattr(args, "data_dir", None)
    settings = load_settings(AGENTMESH_DATA_DIR=data_dir) if data_dir else load_settings()
    named = "data_dir" in settings.model_fields_set
    usable_data_dir(settings.data_dir, create_parents=not named)
    return settings


def listen_fd_option(parser: argparse.ArgumentParser) -> None:
    """`--listen-fd N`: serve on a listening socket the parent opened (what `agentmesh up` does)."""
    parser.add_argument(
        "--listen-fd",
        type=int,
        default=None,
        metavar="N",
        help="serve on the listening socket open as file descriptor N instead of binding --host/--port",
    )


def listener_from_args(args: argparse.Namespace) -> socket.socket:
    """The command's listening socket: the inherited one, else `--host`/`--port` bound now."""
    from agentmesh.listeners import inherited, listen_on

    return inherited(args.listen_fd) if args.listen_fd is not None else listen_on(args.host, args.port)
