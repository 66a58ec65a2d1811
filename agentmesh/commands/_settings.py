"""Settings for a command: the environment, with `--data-dir` from the command line on top."""

from __future__ import annotations

import argparse
from pathlib import Path

from agentmesh.settings import Settings, load_settings


def settings_from_args(args: argparse.Namespace) -> Settings:
    data_dir = getattr(args, "data_dir", None)
    if data_dir:
        return load_settings(AGENTMESH_DATA_DIR=Path(data_dir))
    return load_settings()
