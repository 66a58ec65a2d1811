"""Each module registers one `agentmesh` subcommand with `register(subparsers)`."""

from agentmesh.commands import serve, token

COMMANDS = [serve, token]
