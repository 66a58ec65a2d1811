"""Each module registers one `agentmesh` subcommand with `register(subparsers)`."""

from agentmesh.commands import chat, demo_erp, gateway, serve, token, up

COMMANDS = [chat, demo_erp, gateway, serve, token, up]
