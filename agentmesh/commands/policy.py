"""`agentmesh policy check|show`: explain a policy decision, or print a tenant's policy in force.

    agentmesh policy check --tenant acme --tool erp:create_order --args '{"mst": "3428557611", ...}'
    agentmesh policy check --tenant acme --tool rag:ingest_text --role tenant_admin
    agentmesh policy check --tenant acme --tool erp:get_customer_debt --read-only
    agentmesh policy check --tenant globex --agent shipment
    agentmesh policy show --tenant acme

A tool call is decided for a subject with roles (`--role`, default `user`) and, like the
platform, treats a tool as changing data unless `--read-only` says its annotations mark it
read-only. `check` prints each decision with its rule and reason and exits 0 when everything asked is
allowed, 1 when anything is denied, 2 when something needs a human approval (and nothing is
denied), 3 on a usage error. Overrides set through the admin API are read from the platform
database, so the answer is the one the platform would give now.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from agentmesh.commands._settings import settings_from_args
from agentmesh.startup import StartupError

if TYPE_CHECKING:
    from agentmesh.settings import Settings
    from policies.loader import PolicySet
    from policies.model import Action

EXIT_ALLOW, EXIT_DENY, EXIT_APPROVE, EXIT_USAGE = 0, 1, 2, 3
_SEVERITY = {"allow": 0, "approve": 1, "deny": 2}
_EXIT = {"allow": EXIT_ALLOW, "approve": EXIT_APPROVE, "deny": EXIT_DENY}


class UsageError(Exception):
    """A command line that cannot be checked; reported with exit status 3."""


class _Parser(argparse.ArgumentParser):
    """argparse exits 2 on a usage error, which `check` uses for "needs approval": exit 3 instead,
    for unknown options too (which argparse would otherwise leave to the main parser)."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        parsed, extras = super().parse_known_args(args, namespace)
        if extras:
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        return parsed, extras


def register(
    subcommands: argparse._SubParsersAction[argparse.ArgumentParser], options: argparse.ArgumentParser
) -> None:
    parser = subcommands.add_parser(
        "policy", parents=[options], help="explain policy decisions and show tenant policies"
    )
    actions = parser.add_subparsers(
        dest="policy_command", required=True, metavar="ACTION", parser_class=_Parser
    )

    # typeshed wants `parents` of the subparsers' class; argparse takes any parser.
    parents: list[Any] = [options]
    check = actions.add_parser(
        "check", parents=parents, help="decide a tool call, an agent, a model or a host for a tenant"
    )
    check.add_argument("--tenant", required=True)
    check.add_argument("--tool", help="server:tool, e.g. erp:create_order")
    check.add_argument("--args", dest="arguments", help="the call's arguments as a JSON object")
    check.add_argument("--agent", help="an agent name, e.g. debt")
    check.add_argument("--model", help="provider:model, e.g. openai:gpt-4o-mini")
    check.add_argument("--host", help="a host page fetching would reach, e.g. wiki.acme.internal")
    check.add_argument("--private", action="store_true", help="the host resolves to a private address")
    check.add_argument("--user", default="cli", help="the subject deciding for (default: cli)")
    check.add_argument(
        "--role",
        dest="roles",
        action="append",
        choices=["user", "tenant_admin", "platform_admin"],
        help="a role of that subject (repeatable; default: user)",
    )
    check.add_argument(
        "--read-only",
        action="store_true",
        help="the tool only reads (its MCP annotations say so); without it the tool is taken to change data",
    )
    check.add_argument("--json", action="store_true", help="print the decisions as JSON")
    check.set_defaults(handler=handle_check)

    show = actions.add_parser(
        "show", parents=parents, help="print the policy documents in force for a tenant"
    )
    show.add_argument("--tenant", required=True)
    show.set_defaults(handler=handle_show)


def handle_check(args: argparse.Namespace) -> int:
    from policies.loader import PolicyFileError
    from policies.model import Principal

    try:
        questions = _questions(args)
        policies = load_policies(settings_from_args(args))
    except (UsageError, PolicyFileError, StartupError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    principal = Principal(tenant_id=args.tenant, subject=args.user, roles=args.roles or ["user"])
    decisions = [
        (label, policies.decide(principal, action, resource, context))
        for label, action, resource, context in questions
    ]
    if args.json:
        rows = [{"check": label, **decision.model_dump()} for label, decision in decisions]
        print(json.dumps(rows, indent=2))
    else:
        for label, decision in decisions:
            print(f"{label} for {args.tenant}: {decision.effect}")
            print(f"  rule:   {decision.rule}")
            print(f"  reason: {decision.reason}")
    worst = max((decision.effect for _, decision in decisions), key=_SEVERITY.__getitem__)
    return _EXIT[worst]


def handle_show(args: argparse.Namespace) -> int:
    import yaml

    from policies.loader import PolicyFileError

    try:
        policies = load_policies(settings_from_args(args))
    except (UsageError, PolicyFileError, StartupError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    documents = [
        document.model_dump(mode="json", exclude_defaults=True)
        for document in policies.for_tenant(args.tenant)
    ]
    if policies.tenant_policy(args.tenant) is None:
        print(f"# tenant '{args.tenant}' has no policy of its own: only the base policy applies")
    print(yaml.safe_dump_all(documents, sort_keys=False, allow_unicode=True), end="")
    print("---\n# limits in force")
    limits = policies.limits(args.tenant).model_dump(exclude_none=True)
    print(yaml.safe_dump(limits, sort_keys=False), end="")
    return 0


def load_policies(settings: Settings) -> PolicySet:
    """The policy files with the database's overrides applied, as the platform sees them now."""
    return asyncio.run(_load_policies(settings))


async def _load_policies(settings: Settings) -> PolicySet:
    from sqlalchemy.exc import SQLAlchemyError

    from agentmesh.db import DatabaseNotAtHead, create_engine, require_schema, session_factory
    from policies.loader import PolicySet
    from policies.overrides import PolicyOverrideStore

    engine = create_engine(settings.resolved_database_url)
    try:
        await require_schema(engine, migrate=settings.embedded_database)
        store = PolicyOverrideStore(session_factory(engine))
        policies = PolicySet.from_directory(overrides=store)
        await policies.refresh()
        return policies
    except DatabaseNotAtHead as exc:
        raise UsageError(str(exc)) from exc
    except SQLAlchemyError as exc:
        raise UsageError(f"cannot read policy overrides from the database: {type(exc).__name__}") from exc
    finally:
        await engine.dispose()


def _questions(args: argparse.Namespace) -> list[tuple[str, Action, str, dict[str, Any] | None]]:
    questions: list[tuple[str, Action, str, dict[str, Any] | None]] = []
    if args.agent:
        questions.append((f"agent {args.agent}", "use_agent", args.agent, None))
    if args.tool:
        context = {"read_only": args.read_only, **(_arguments(args.arguments) or {})}
        questions.append((f"tool {args.tool}", "call_tool", args.tool, context))
    elif args.arguments is not None:
        raise UsageError("--args needs --tool")
    if args.model:
        questions.append((f"model {args.model}", "use_model", args.model, None))
    if args.host:
        address = "private" if args.private else "public"
        questions.append((f"host {args.host} ({address})", "fetch_host", args.host, {"address": address}))
    if not questions:
        raise UsageError("say what to check: --tool, --agent, --model or --host")
    return questions


def _arguments(text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    try:
        arguments = json.loads(text)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno} column {exc.colno}"
        raise UsageError(f"--args is not valid JSON: {exc.msg} at {where}") from exc
    if not isinstance(arguments, dict):
        raise UsageError(f"--args must be a JSON object, not {type(arguments).__name__}")
    return {"arguments": arguments}
