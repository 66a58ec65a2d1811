"""Each module registers one `agentmesh` subcommand with `register(subparsers)`."""

from agentmesh.commands import chat, db, demo_erp, gateway, policy, replay, serve, token, up

COMMANDS = [chat, db, demo_erp, gateway, policy, replay, serve, token, up]
