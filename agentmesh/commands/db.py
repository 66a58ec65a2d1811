"""`agentmesh db upgrade|check|current|revision`: the platform database's schema migrations.

The database is `DATABASE_URL` (SQLite in the data directory by default). `upgrade` applies the
migrations (the gateway also does at start); `check` exits 1 when the tables the code declares
differ from the database; `revision -m MESSAGE` writes a new migration from that difference.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from agentmesh.commands._settings import settings_from_args
from agentmesh.startup import check_database_reachable, check_database_url

if TYPE_CHECKING:
    from agentmesh.settings import Settings


def register(
    subcommands: argparse._SubParsersAction[argparse.ArgumentParser], options: argparse.ArgumentParser
) -> None:
    parser = subcommands.add_parser("db", parents=[options], help="database schema migrations")
    actions = parser.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    upgrade = actions.add_parser(
        "upgrade", parents=[options], help="apply migrations up to a revision (default head)"
    )
    upgrade.add_argument("revision", nargs="?", default="head")
    actions.add_parser(
        "check", parents=[options], help="exit 1 when the database differs from the declared tables"
    )
    actions.add_parser("current", parents=[options], help="print the database's revision and the latest one")
    revision = actions.add_parser(
        "revision", parents=[options], help="write a migration for the declared tables' changes"
    )
    revision.add_argument("-m", "--message", required=True)
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    import anyio

    settings = settings_from_args(args)
    check_database_url(settings.database_url)
    check_database_reachable(settings.resolved_database_url)
    actions = {"upgrade": _upgrade, "check": _check, "current": _current, "revision": _revision}
    return int(anyio.run(actions[args.db_command], settings, args))


async def _upgrade(settings: Settings, args: argparse.Namespace) -> int:
    from agentmesh.db import create_engine, current_revision, upgrade_database

    engine = create_engine(settings.resolved_database_url)
    try:
        await upgrade_database(engine, args.revision)
        print(f"database at revision {await current_revision(engine)}")
    finally:
        await engine.dispose()
    return 0


async def _check(settings: Settings, args: argparse.Namespace) -> int:
    from agentmesh.db import create_engine, schema_differences
    from agentmesh.migrations import declared_metadata

    engine = create_engine(settings.resolved_database_url)
    try:
        differences = await schema_differences(engine, declared_metadata())
    finally:
        await engine.dispose()
    for difference in differences:
        print(difference)
    if differences:
        print(
            f"{len(differences)} difference(s): write a migration with `agentmesh db revision -m ...`",
            file=sys.stderr,
        )
        return 1
    print("database matches the declared tables")
    return 0


async def _current(settings: Settings, args: argparse.Namespace) -> int:
    from agentmesh.db import create_engine, current_revision, head_revision

    engine = create_engine(settings.resolved_database_url)
    try:
        print(f"current: {await current_revision(engine)}\nhead:    {head_revision()}")
    finally:
        await engine.dispose()
    return 0


async def _revision(settings: Settings, args: argparse.Namespace) -> int:
    from agentmesh.db import create_engine, write_revision

    engine = create_engine(settings.resolved_database_url)
    try:
        path = await write_revision(engine, args.message)
    finally:
        await engine.dispose()
    print(f"wrote {path}")
    return 0
