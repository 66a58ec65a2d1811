"""Each module registers one `agentmesh` subcommand with `register(subparsers)`."""

from agentmesh.commands import chat, serve, token, up

COMMANDS = [chat, serve, token, up]
