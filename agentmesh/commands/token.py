"""`agentmesh token`: print a development token, signed with the keys in the data directory.

    agentmesh token --tenant acme --user alice [--role admin] [--ttl 3600]
        a user token for the gateway (its chat API, /v1 and /mcp)
    agentmesh token --server erp --tenant acme --tool get_customer_debt [--ttl 3600]
        a token for one MCP server run alone over HTTP (`agentmesh serve erp --transport http`),
        granting the tools named and no other; every other server refuses it

A server accepts a token of more than 60 seconds only when it reads the mesh keys from its own
data directory (no `AGENTMESH_MESH_JWKS_URL`), so run both commands on the same data directory.
"""

from __future__ import annotations

import argparse
import sys

from agentmesh.commands._settings import settings_from_args
from agentmesh.commands.serve import DOMAINS

# The roles `gateway.auth` knows (not imported: it pulls in the gateway).
ROLES = ("user", "tenant_admin", "platform_admin")
USER_TOKEN_TTL = 12 * 3600
SERVER_TOKEN_TTL = 3600


def register(
    subcommands: argparse._SubParsersAction[argparse.ArgumentParser], options: argparse.ArgumentParser
) -> None:
    parser = subcommands.add_parser(
        "token",
        parents=[options],
        help="print a development token: a user's, or one MCP server's (--server)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--tenant", required=True)
    parser.add_argument("--user", default="demo-user")
    parser.add_argument(
        "--role",
        action="append",
        choices=[*ROLES, "admin"],
        help="role to grant (repeatable); 'admin' means tenant_admin",
    )
    parser.add_argument(
        "--server", choices=DOMAINS, default=None, help="mint a token for this MCP server instead"
    )
    parser.add_argument(
        "--tool",
        action="append",
        default=[],
        metavar="NAME",
        help="with --server: a tool the token may call (repeatable; none: it may only list tools)",
    )
    parser.add_argument(
        "--ttl",
        type=int,
        default=None,
        help=f"lifetime in seconds (default {USER_TOKEN_TTL} for a user, {SERVER_TOKEN_TTL} for a server)",
    )
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    roles = ["tenant_admin" if role == "admin" else role for role in (args.role or ["user"])]
    if args.server is None:
        if args.tool:
            print("agentmesh token: --tool needs --server", file=sys.stderr)
            return 2
        return _user_token(args, roles)
    return _server_token(args, roles)


def _user_token(args: argparse.Namespace, roles: list[str]) -> int:
    from agentmesh.dev_tokens import issue_dev_token

    settings = settings_from_args(args)
    ttl = args.ttl or USER_TOKEN_TTL
    print(issue_dev_token(settings, tenant_id=args.tenant, user=args.user, roles=roles, ttl_seconds=ttl))
    return 0


def _server_token(args: argparse.Namespace, roles: list[str]) -> int:
    from agentmesh.keys import mesh_key
    from agentmesh.mesh_tokens import DEVELOPMENT_TOKEN_LIFETIME_SECONDS, mint_server_token

    ttl = args.ttl or SERVER_TOKEN_TTL
    if not 1 <= ttl <= DEVELOPMENT_TOKEN_LIFETIME_SECONDS:
        print(
            f"agentmesh token: --ttl for a server token is 1 to {DEVELOPMENT_TOKEN_LIFETIME_SECONDS} s",
            file=sys.stderr,
        )
        return 2
    settings = settings_from_args(args)
    token = mint_server_token(
        mesh_key(settings.keys_dir),
        issuer=settings.mesh_issuer,
        server=args.server,
        tenant_id=args.tenant,
        subject=args.user,
        tools=args.tool,
        roles=roles,
        ttl_seconds=ttl,
        max_lifetime_seconds=DEVELOPMENT_TOKEN_LIFETIME_SECONDS,
    )
    if not args.tool:
        print(
            f"agentmesh token: this token grants no tool: it can list {args.server}'s tools but call "
            "none; add --tool NAME for each tool to call",
            file=sys.stderr,
        )
    print(token)
    return 0
