"""`agentmesh token --tenant T --user U [--role R]`: print a development end-user token."""

from __future__ import annotations

import argparse

from agentmesh.commands._settings import settings_from_args
from agentmesh.dev_tokens import ROLES, issue_dev_token


def register(subcommands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subcommands.add_parser("token", help="print a development user token")
    parser.add_argument("--tenant", required=True)
    parser.add_argument("--user", default="demo-user")
    parser.add_argument(
        "--role",
        action="append",
        choices=[*ROLES, "admin"],
        help="role to grant (repeatable); 'admin' means tenant_admin",
    )
    parser.add_argument("--ttl", type=int, default=12 * 3600, help="lifetime in seconds")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    roles = ["tenant_admin" if role == "admin" else role for role in (args.role or ["user"])]
    print(issue_dev_token(settings, tenant_id=args.tenant, user=args.user, roles=roles, ttl_seconds=args.ttl))
    return 0
